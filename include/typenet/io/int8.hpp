// typenet/io/int8.hpp: a network's weights together with the activation ranges of its int8 program
// (exec::simd<Arch, tn::precision::int8>::ranges, from exec::calibrate), in one safetensors file.
//
//   policy.ranges = tn::exec::calibrate<Net>(p, images, count);
//   tn::io::save_weights_int8("net_int8.safetensors", p, policy.ranges);
//   ...
//   policy.ranges = tn::io::load_weights_int8("net_int8.safetensors", p);   // weights and ranges, all checked
//
// The ranges are the float32 tensor "typenet.int8.ranges" of shape [tensors, 2] (lo, hi per tensor the
// program quantises: the input, then each fused stage's output of a chain network, or each value of a graph
// network's activation plan), checked against the network like every
// weight: a missing or mis-shaped ranges tensor is an io_error naming the key and the shapes. The weight
// scales are not stored: the program derives them from the weights (per output channel) when it is built.
#pragma once

#include <typenet/core/plan.hpp>
#include <typenet/fusion/plan.hpp>
#include <typenet/io/weights.hpp>
#include <typenet/precision.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace typenet::io {

/// The name of the int8 ranges in a safetensors file.
inline constexpr const char* int8_ranges_key = "typenet.int8.ranges";

/// Tensors the int8 program quantises (exec::int8_tensor_count<Net>): for a chain network its input and each
/// fused stage's output; for a graph network each value of its activation plan.
template <Network Net>
inline constexpr std::int64_t int8_range_count = [] {
  if constexpr (fusion::fused_kernels_cover<Net>)
    return std::int64_t{fusion::stages_t<Net>::size} + 1;
  else
    return std::int64_t{activation_plan<Net>::values};
}();

/// Writes Net's weights and its int8 ranges to one safetensors file (all or nothing, as save_weights).
/// Throws std::invalid_argument when the ranges do not fit Net (their count) or are not finite lo <= hi.
template <Network Net>
void save_weights_int8(const std::filesystem::path& path, const params<Net>& p,
                       std::span<const exec::tensor_range> ranges) {
  constexpr std::int64_t n = int8_range_count<Net>;
  if (std::int64_t(ranges.size()) != n)
    throw std::invalid_argument("typenet::io::save_weights_int8: " + std::to_string(ranges.size()) +
                                " ranges, the network's int8 program quantises " + std::to_string(n) + " tensors");
  std::vector<float> flat;
  for (const exec::tensor_range& r : ranges) {
    if (!std::isfinite(r.lo) || !std::isfinite(r.hi) || r.lo > r.hi)
      throw std::invalid_argument("typenet::io::save_weights_int8: range [" + std::to_string(r.lo) + ", " +
                                  std::to_string(r.hi) + "] is not a finite range lo <= hi");
    flat.push_back(r.lo);
    flat.push_back(r.hi);
  }
  std::vector<param_tensor> tensors = const_cast<params<Net>&>(p).tensors();  // only read
  std::vector<named_tensor> named;
  for (const param_tensor& t : tensors) named.push_back({t.name, t.shape, std::span<const float>(t.data)});
  named.push_back({int8_ranges_key, {n, 2}, std::span<const float>(flat)});
  write_safetensors(path, std::span<const named_tensor>(named), {{"format", "pt"}});
}

/// Loads Net's weights and its int8 ranges from one safetensors file: every tensor checked (names, dtype,
/// shapes; no extra tensor), the ranges finite with lo <= hi; on any error `p` is left unchanged.
template <Network Net>
std::vector<exec::tensor_range> load_weights_int8(const std::filesystem::path& path, params<Net>& p) {
  constexpr std::int64_t n = int8_range_count<Net>;
  std::vector<float> flat(std::size_t(n) * 2);
  params<Net> staged;  // the weights land here first, so that bad ranges leave p unchanged
  std::vector<tensor_slot> slots = weight_slots(staged);
  slots.push_back({int8_ranges_key, {n, 2}, std::span<float>(flat)});
  load_tensors(path, std::span<const tensor_slot>(slots));
  std::vector<exec::tensor_range> ranges;
  for (std::int64_t i = 0; i < n; ++i) {
    const float lo = flat[std::size_t(2 * i)], hi = flat[std::size_t(2 * i + 1)];
    if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi)
      throw io_error(path.string(), std::string(int8_ranges_key) + " row " + std::to_string(i) + " is [" +
                                        std::to_string(lo) + ", " + std::to_string(hi) +
                                        "], not a finite range lo <= hi");
    ranges.push_back({lo, hi});
  }
  p = std::move(staged);
  return ranges;
}

}  // namespace typenet::io
