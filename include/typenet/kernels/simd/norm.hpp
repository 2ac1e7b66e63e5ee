// typenet/kernels/simd/norm.hpp: local response normalisation across channels, NHWC, in place or not.
//
//   y_c = x_c / (k + alpha / size * sum_{c' in [c - size/2, c + (size-1)/2]} x_{c'}^2) ^ beta
//
// One item is one pixel row (image, h); per pixel the squares go into a zero-padded stack array so the
// window sums are `size` shifted vector loads.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "common.hpp"

// GCC 12 reports the self-initialised _mm512_undefined_ps() inside the AVX-512 sqrt intrinsic as an
// uninitialised use when it is inlined here; the warning is spurious.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace typenet::kernels::simd {

template <int C, int H, int W, int Size, class Arch>
struct lrn_kernel {
  using batch = xsimd::batch<float, Arch>;
  static constexpr int V = static_cast<int>(batch::size);
  static constexpr int before = Size / 2, after = (Size - 1) / 2;
  static constexpr int padded = ceil_div(C, V) * V;

  static constexpr std::int64_t items(int batch_size) { return std::int64_t{batch_size} * H; }

  /// Rows [begin, end) of [N][H][W][C]; `in` may equal `out`.
  static void run(const float* in, float* out, std::int64_t begin, std::int64_t end, double alpha, double beta,
                  double k) {
    const batch scale(static_cast<float>(alpha / Size)), kk(static_cast<float>(k));
    const bool three_quarters = beta == 0.75;
    alignas(64) float sq[before + padded + after + V];
    alignas(64) float xs[padded];
    for (int i = 0; i < before; ++i) sq[i] = 0.f;
    for (std::int64_t row = begin; row < end; ++row) {
      for (int w = 0; w < W; ++w) {
        const std::size_t base = (std::size_t(row) * W + w) * C;
        for (int c = 0; c < padded; ++c) {
          const float v = c < C ? in[base + c] : 0.f;
          xs[c] = v;
          sq[before + c] = v * v;
        }
        for (int c = padded; c < padded + after + V; ++c) sq[before + c] = 0.f;
        for (int c = 0; c < C; c += V) {
          batch s(0.f);
          static_for<Size>([&](auto d) { s += batch::load_unaligned(sq + c + d); });
          const batch d = xsimd::fma(scale, s, kk);
          batch y;
          if (three_quarters) {  // d^(3/4) = sqrt(d) * sqrt(sqrt(d)), exact to a few ulp and vectorised
            const batch r = xsimd::sqrt(d);
            y = batch::load_aligned(xs + c) / (r * xsimd::sqrt(r));
          } else {
            alignas(64) float dv[V];
            d.store_aligned(dv);
            for (int j = 0; j < V; ++j) dv[j] = xs[c + j] / static_cast<float>(std::pow(double(dv[j]), beta));
            y = batch::load_aligned(dv);
          }
          if (c + V <= C) {
            y.store_unaligned(out + base + c);
          } else {
            alignas(64) float tmp[V];
            y.store_aligned(tmp);
            for (int j = 0; j < C - c; ++j) out[base + c + j] = tmp[j];
          }
        }
      }
    }
  }
};

}  // namespace typenet::kernels::simd

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
