// Helpers shared by the int8 program's tests (int8_test.cpp, int8_graph_test.cpp): run a network with
// exec::simd<Arch, precision::int8>, the error bound its outputs are held to against the fp32 reference, and
// a weights file with wrong ranges.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include <typenet/io/int8.hpp>
#include <typenet/io/safetensors.hpp>

#include "simd_util.hpp"

namespace typenet::test {

/// The bound of an int8 network against fp32: max |int8 - ref| <= bound * max |ref| with
/// bound = (layers + 1) * 2 * (1/510 + 1/254), `layers` the conv and dense layers. Why: a layer's input
/// errs by at most half a step of its calibrated range (range / 510) and each weight by half a step of its
/// output channel's largest weight (max |w| / 254), so a product errs by at most (1/510 + 1/254) of
/// max |x| max |w|; summed over a layer's terms that is within a small factor (the 2) of the largest output
/// for these He-initialised layers, and ReLU, pooling and LRN do not enlarge an error relative to the
/// largest value, so the layers' errors add (the + 1: the quantised network input). Measured (-s): 0.1-0.5
/// of this; a wrong tap, zero point or scale errs by whole terms and lands far outside.
inline constexpr double int8_bound(int layers) { return (layers + 1) * 2.0 * (1.0 / 510 + 1.0 / 254); }

using int8_policy = exec::simd<xsimd::default_arch, precision::int8>;

/// Writes p's tensors and a ranges tensor (io::int8_ranges_key) of the given shape and values to path: a
/// weights file whose ranges the loader must reject. (p is a copy: params::tensors() gives writable views.)
template <class Net>
void write_with_ranges(const std::filesystem::path& path, params<Net> p, std::vector<std::int64_t> shape,
                       std::span<const float> ranges) {
  const std::vector<param_tensor> tensors = p.tensors();
  std::vector<io::named_tensor> named;
  for (const auto& t : tensors) named.push_back({t.name, t.shape, std::span<const float>(t.data)});
  named.push_back({io::int8_ranges_key, std::move(shape), ranges});
  io::write_safetensors(path, std::span<const io::named_tensor>(named));
}

#if TYPENET_HAS_VNNI
template <class Net>
std::vector<float> run_int8(const params<Net>& p, const std::vector<float>& in, int batch, int threads,
                            const std::vector<exec::tensor_range>& ranges) {
  int8_policy policy;
  policy.threads = threads;
  policy.ranges = ranges;
  return run_policy<Net>(p, in, batch, policy);
}
#endif

}  // namespace typenet::test
