// typenet/core/params.hpp: all weights and biases of a network in one aligned heap buffer.
//
// The layout is fixed at compile time: layer by layer in network order, each layer's weight (PyTorch
// layout: conv [F, C/G, KH, KW], dense [Units, In]) followed by its bias. Offsets are
// bound_layer::weight_offset / bias_offset. Policies repack this canonical layout when a model is built.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "leaf_table.hpp"
#include "network.hpp"

namespace typenet {

namespace detail {
struct aligned_free {
  void operator()(float* p) const noexcept { std::free(p); }
};
using aligned_floats = std::unique_ptr<float[], aligned_free>;

/// A zeroed, 64-byte aligned buffer of n floats (n may be 0).
inline aligned_floats make_aligned_floats(std::int64_t n) {
  const std::size_t bytes = ((static_cast<std::size_t>(n) * sizeof(float) + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes == 0 ? 64 : bytes);
  return aligned_floats(static_cast<float*>(p));
}

/// splitmix64: a small, fast, deterministic generator for weights and test inputs.
struct splitmix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [-1, 1).
  float uniform() { return static_cast<float>(static_cast<double>(next() >> 11) * 0x1.0p-52 - 1.0); }
};
}  // namespace detail

/// Fills `out` with uniform values in [lo, hi) from a deterministic seed.
inline void fill_uniform(std::span<float> out, std::uint64_t seed, float lo = -1.f, float hi = 1.f) {
  detail::splitmix64 g{seed};
  for (float& x : out) x = lo + (hi - lo) * 0.5f * (g.uniform() + 1.f);
}

/// One parameter tensor as the outside world names it.
struct param_tensor {
  std::string name;                 ///< e.g. "3.weight" or "features.3.weight"
  std::vector<std::int64_t> shape;  ///< PyTorch shape
  std::span<float> data;
  bool buffer = false;  ///< a buffer (batch norm's running statistics), not a trainable parameter
};

template <Network Net>
class params {
 public:
  /// Floats stored: every parameter and buffer tensor (param_storage<Net>).
  static constexpr std::int64_t count = param_storage<Net>;

  /// Ownership: params owns its buffer and copies it on copy. Moving leaves the source *empty*: empty()
  /// is true, data() is null, and span(), weight(), bias() and tensors() throw std::logic_error (as does
  /// building a model from it). Assigning a params to an empty one (copy or move) makes it usable again;
  /// copying an empty params gives an empty params.
  params() : data_(detail::make_aligned_floats(count)) {}
  params(const params& other) : data_(other.empty() ? nullptr : detail::make_aligned_floats(count)) {
    if (!other.empty()) std::memcpy(data(), other.data(), sizeof(float) * count);
  }
  params& operator=(const params& other) {
    if (this == &other) return *this;
    if (other.empty()) {
      data_.reset();
      return *this;
    }
    if (empty()) data_ = detail::make_aligned_floats(count);
    std::memcpy(data(), other.data(), sizeof(float) * count);
    return *this;
  }
  params(params&&) noexcept = default;
  params& operator=(params&&) noexcept = default;

  /// True only for a moved-from params (see above).
  bool empty() const noexcept { return !data_; }

  float* data() noexcept { return data_.get(); }
  const float* data() const noexcept { return data_.get(); }
  static constexpr std::int64_t size() noexcept { return count; }
  std::span<float> span() { return {checked_data(), static_cast<std::size_t>(count)}; }
  std::span<const float> span() const { return {checked_data(), static_cast<std::size_t>(count)}; }

  template <int I>
  std::span<float> weight() {
    using B = layer_at<Net, I>;
    return {checked_data() + B::weight_offset, static_cast<std::size_t>(B::weights)};
  }
  template <int I>
  std::span<float> bias() {
    using B = layer_at<Net, I>;
    return {checked_data() + B::bias_offset, static_cast<std::size_t>(B::biases)};
  }
  template <int I>
  std::span<const float> weight() const {
    using B = layer_at<Net, I>;
    return {checked_data() + B::weight_offset, static_cast<std::size_t>(B::weights)};
  }
  template <int I>
  std::span<const float> bias() const {
    using B = layer_at<Net, I>;
    return {checked_data() + B::bias_offset, static_cast<std::size_t>(B::biases)};
  }

  /// Every parameter and buffer tensor in network order, named and shaped as PyTorch's state_dict
  /// ("3.weight", "layer1.0.bn1.running_mean", ...).
  std::vector<param_tensor> tensors() {
    float* base = checked_data();
    std::vector<param_tensor> out;
    for (const leaf_info& leaf : leaf_table<Net>) {
      if (leaf.tensor_count == 0) continue;
      const std::string key = param_key<Net>(leaf);
      std::int64_t offset = leaf.offset;
      for (std::size_t i = 0; i < leaf.tensor_count; ++i) {
        const tensor_spec& t = leaf.tensors[i];
        out.push_back({key + "." + std::string(t.name),
                       std::vector<std::int64_t>(t.dims.begin(), t.dims.begin() + t.rank),
                       {base + offset, static_cast<std::size_t>(t.size())},
                       t.buffer});
        offset += t.size();
      }
    }
    return out;
  }

 private:
  float* checked_data() const {
    if (empty())
      throw std::logic_error(
          "typenet: params: used after being moved from (it holds no buffer; assign a params to it first)");
    return data_.get();
  }

  detail::aligned_floats data_;
};

/// Deterministic He-style initialisation: weights uniform in +-sqrt(6 / fan_in) (variance 2 / fan_in),
/// biases uniform in +-0.01. The same seed gives the same parameters on every machine. Batch norm: weight 1,
/// running_mean 0, running_var 1 as in PyTorch, and its bias drawn like any bias (PyTorch starts it at 0).
template <Network Net>
void init_he(params<Net>& p, std::uint64_t seed = 1) {
  // Over leaf_table's tensor specs rather than tensors(): the same tensors in the same order (so the same
  // values), without building every tensor's name (that code was about a tenth of a second of a ResNet-50
  // translation unit that only initialises weights).
  float* data = p.span().data();
  std::uint64_t s = seed;
  for (const leaf_info& leaf : leaf_table<Net>) {
    std::int64_t offset = leaf.offset;
    for (std::size_t i = 0; i < leaf.tensor_count; ++i) {
      const tensor_spec& t = leaf.tensors[i];
      const std::span<float> values(data + offset, static_cast<std::size_t>(t.size()));
      offset += t.size();
      if (t.buffer || (t.rank == 1 && t.name == "weight")) {  // batch norm
        const bool ones = t.name == "weight" || t.name == "running_var";
        for (float& x : values) x = ones ? 1.f : 0.f;
        continue;
      }
      const bool is_bias = t.rank == 1;
      std::int64_t fan_in = 1;
      for (int d = 1; d < t.rank; ++d) fan_in *= t.dims[static_cast<std::size_t>(d)];
      const float bound = is_bias ? 0.01f : static_cast<float>(std::sqrt(6.0 / static_cast<double>(fan_in)));
      fill_uniform(values, s++ * 0x2545f4914f6cdd1dull + 17, -bound, bound);
    }
  }
}

}  // namespace typenet
