// typenet/kernels/simd/activation.hpp: element-wise ReLU, row softmax, and the layout conversions at the
// edges of the network (NCHW <-> NHWC).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "common.hpp"

namespace typenet::kernels::simd {

/// y[i] = max(0, x[i]) for i in [begin, end); NaN stays NaN.
template <class Arch>
inline void relu_range(const float* x, float* y, std::int64_t begin, std::int64_t end) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::int64_t V = batch::size;
  std::int64_t i = begin;
  for (; i + V <= end; i += V) relu_keep_nan(batch::load_unaligned(x + i)).store_unaligned(y + i);
  for (; i < end; ++i) y[i] = x[i] < 0.f ? 0.f : x[i];
}

/// Numerically stable softmax of one row of n floats (max subtracted; sums in double).
inline void softmax_row(const float* x, float* y, int n) {
  float m = x[0];
  for (int i = 1; i < n; ++i) m = (x[i] > m || std::isnan(x[i])) ? x[i] : m;  // a NaN row stays NaN
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    y[i] = std::exp(x[i] - m);
    sum += y[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int i = 0; i < n; ++i) y[i] *= inv;
}

/// NCHW -> NHWC for images [begin, end) of C x H x W.
template <int C, int H, int W>
inline void nchw_to_nhwc(const float* in, float* out, std::int64_t begin, std::int64_t end) {
  constexpr std::size_t plane = std::size_t(H) * W;
  for (std::int64_t n = begin; n < end; ++n) {
    const float* x = in + std::size_t(n) * C * plane;
    float* y = out + std::size_t(n) * C * plane;
    for (std::size_t p = 0; p < plane; ++p)
      for (int c = 0; c < C; ++c) y[p * C + c] = x[c * plane + p];
  }
}

/// NHWC -> NCHW for images [begin, end).
template <int C, int H, int W>
inline void nhwc_to_nchw(const float* in, float* out, std::int64_t begin, std::int64_t end) {
  constexpr std::size_t plane = std::size_t(H) * W;
  for (std::int64_t n = begin; n < end; ++n) {
    const float* x = in + std::size_t(n) * C * plane;
    float* y = out + std::size_t(n) * C * plane;
    for (int c = 0; c < C; ++c)
      for (std::size_t p = 0; p < plane; ++p) y[c * plane + p] = x[p * C + c];
  }
}

}  // namespace typenet::kernels::simd
