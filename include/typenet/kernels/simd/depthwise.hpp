// typenet/kernels/simd/depthwise.hpp: depthwise convolution (groups == input channels == output channels)
// on NHWC activations: MobileNet's 3x3 layers.
//
//   out[n][oh][ow][c] = Epilogue(bias[c] + sum_{kh, kw} in[n][oh*SH - PH + kh][ow*SW - PW + kw][c] * w[c][kh][kw]
//                                [+ residual[n][oh][ow][c]])
//
// Every channel has its own filter, so the direct kernel (which vectorises over a group's output channels)
// would fill one lane in 8 or 16. Here the vectors run along the channels of one pixel instead: per output
// pixel, U channel vectors at a time accumulate the in-image taps (padding taps are skipped by clipping
// the kernel window per pixel), then the bias, the optional residual and the epilogue are applied.
//
// Layouts: packed weights [KH][KW][Cp], packed bias [Cp] (Cp = C rounded up to the vector width, zero past
// C). Work items: (image, output row).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "common.hpp"
#include "dense.hpp"  // epilogues, detail::load_first / store_first

namespace typenet::kernels::simd {

template <class Geo, class Arch>
struct depthwise_kernel {
  static_assert(Geo::g == Geo::c && Geo::f == Geo::c, "typenet: depthwise_kernel: groups must equal the channels");
  using vec = xsimd::batch<float, Arch>;
  static constexpr int V = static_cast<int>(vec::size);
  static constexpr int C = Geo::c, H = Geo::h, W = Geo::w, OH = Geo::oh, OW = Geo::ow;
  static constexpr int KH = Geo::kh, KW = Geo::kw, SH = Geo::sh, SW = Geo::sw, PH = Geo::ph, PW = Geo::pw;
  static constexpr int Cp = ceil_div(C, V) * V;
  /// Channel vectors accumulated together (independent FMA chains).
  static constexpr int U = 4;
  static constexpr std::size_t packed_floats = std::size_t{KH} * KW * Cp;
  static constexpr std::size_t packed_bias_floats = Cp;

  /// Packs PyTorch weights [C][1][KH][KW] and bias [C] (bias may be null: zero).
  static void pack(const float* w, const float* bias, float* packed, float* packed_bias) {
    for (int kh = 0; kh < KH; ++kh)
      for (int kw = 0; kw < KW; ++kw)
        for (int c = 0; c < Cp; ++c)
          packed[(std::size_t(kh) * KW + kw) * Cp + c] = c < C ? w[(std::size_t(c) * KH + kh) * KW + kw] : 0.f;
    for (int c = 0; c < Cp; ++c) packed_bias[c] = (c < C && bias != nullptr) ? bias[c] : 0.f;
  }

  static constexpr std::int64_t items(int batch) { return std::int64_t{batch} * OH; }

  /// Computes items [begin, end). With Add, residual (out's layout) is added before the epilogue.
  template <class Epilogue, bool Add = false>
  static void run(const float* packed, const float* packed_bias, const float* in, float* out, std::int64_t begin,
                  std::int64_t end, const float* residual = nullptr) {
    for (std::int64_t i = begin; i < end; ++i) {
      const int n = static_cast<int>(i / OH), oh = static_cast<int>(i % OH);
      const std::size_t row = (std::size_t(n) * OH + oh) * OW * C;
      const float* x = in + std::size_t(n) * H * W * C;
      run_row<Epilogue, Add>(packed, packed_bias, x, out + row, Add ? residual + row : nullptr, oh);
    }
  }

 private:
  template <class Epilogue, bool Add>
  static void run_row(const float* packed, const float* bias, const float* x, float* y, const float* r, int oh) {
    const int ih0 = oh * SH - PH;
    const int kh0 = std::max(0, -ih0), kh1 = std::min(KH, H - ih0);
    for (int ow = 0; ow < OW; ++ow) {
      const int iw0 = ow * SW - PW;
      const int kw0 = std::max(0, -iw0), kw1 = std::min(KW, W - iw0);
      float* yp = y + std::size_t(ow) * C;
      const float* rp = Add ? r + std::size_t(ow) * C : nullptr;
      constexpr int full = C / (U * V) * (U * V);
      for (int c0 = 0; c0 < full; c0 += U * V)
        chunk<U, Epilogue, Add>(packed, bias, x, yp, rp, c0, ih0, iw0, kh0, kh1, kw0, kw1, V);
      for (int c0 = full; c0 < C; c0 += V)
        chunk<1, Epilogue, Add>(packed, bias, x, yp, rp, c0, ih0, iw0, kh0, kh1, kw0, kw1, std::min(V, C - c0));
    }
  }

  // Channels [c0, c0 + N*V) of one output pixel; the last vector holds `last` (1..V) channels.
  template <int N, class Epilogue, bool Add>
  TYPENET_ALWAYS_INLINE static void chunk(const float* packed, const float* bias, const float* x, float* yp,
                                          const float* rp, int c0, int ih0, int iw0, int kh0, int kh1, int kw0, int kw1,
                                          int last) {
    vec acc[N];
    static_for<N>([&](auto u) { acc[u] = vec::load_aligned(bias + c0 + u * V); });
    for (int kh = kh0; kh < kh1; ++kh)
      for (int kw = kw0; kw < kw1; ++kw) {
        const float* xt = x + (std::size_t(ih0 + kh) * W + std::size_t(iw0 + kw)) * C + c0;
        const float* wt = packed + (std::size_t(kh) * KW + kw) * Cp + c0;
        static_for<N>([&](auto u) {
          const int n = u + 1 < N ? V : last;
          acc[u] = xsimd::fma(detail::load_first<vec>(xt + u * V, n), vec::load_aligned(wt + u * V), acc[u]);
        });
      }
    static_for<N>([&](auto u) {
      const int n = u + 1 < N ? V : last;
      if constexpr (Add) acc[u] = acc[u] + detail::load_first<vec>(rp + c0 + u * V, n);
      detail::store_first(detail::apply_epilogue<Epilogue>(acc[u]), yp + c0 + u * V, n);
    });
  }
};

}  // namespace typenet::kernels::simd
