// typenet/kernels/simd/depthwise.hpp: depthwise convolution (groups == input channels == output channels)
// on NHWC activations: MobileNet's 3x3 layers.
//
//   out[n][oh][ow][c] = Epilogue(bias[c] + sum_{kh, kw} in[n][oh*SH - PH + kh][ow*SW - PW + kw][c] * w[c][kh][kw]
//                                [+ residual[n][oh][ow][c]])
//
// Every channel has its own filter, so the direct kernel (which vectorises over a group's output channels)
// would fill one lane in 8 or 16. Here the vectors run along the channels of one pixel instead.
//
// Inside the row (output pixels whose window lies in the input columns) the kernel works on strips of up to
// T output pixels (8 with AVX-512, 6 with AVX2; the interior cut into strips of nearly equal size) per
// channel vector: the window's KH * KW weight vectors stay in registers, each input vector of the strip's
// (N - 1) * SW + KW columns is loaded once per kernel row and feeds every output of the strip that covers it
// (3 for a 3x3 stride-1 window). That is 3 * (T + 2) input loads for 9 * T multiply-adds, where one load per
// multiply-add of both operands made the loads, not the FMAs, the limit. The strip's input columns for every
// channel (3 x (T + 2) pixels of C floats) stay in L1 while the channel vectors go by. Columns at the left and right
// edge (windows in the padding) take the per-pixel path: U channel vectors at a time, padding taps skipped by clipping
// the window, as do windows larger than 3x3 (their weights do not fit the register file next to the strip) and a last
// partial channel vector. Then the bias, the optional residual and the epilogue are applied.
//
// Layouts: packed weights [KH][KW][Cp], packed bias [Cp] (Cp = C rounded up to the vector width, zero past
// C). Work items: (image, output row).
//
// Elem: the type activations are stored in (float; bf16_t from bf16.hpp, which the bf16 program uses: loaded
// and widened exactly, summed in fp32 with fp32 weights, the result rounded once). C channels per pixel.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "common.hpp"
#include "dense.hpp"  // epilogues, detail::load_first / store_first

namespace typenet::kernels::simd {

/// Whether an Io applies the epilogue itself as it stores (int8.hpp's u8_affine_io: the activation and the
/// u8 range are one clamp there), taking the epilogue as store's template argument.
template <class Io>
inline constexpr bool applies_epilogue = requires {
  requires Io::applies_epilogue;
};

/// v activated with Epilogue and stored at p through io: every lane (Whole) or the first n.
template <class Epilogue, bool Whole, class Io, class V, class Elem>
TYPENET_SIMD_ALWAYS_INLINE void store_activated(const Io& io, V v, Elem* p, int n) {
  if constexpr (applies_epilogue<Io> && Whole)
    io.template store<Epilogue>(v, p);
  else if constexpr (applies_epilogue<Io>)
    io.template store_first<Epilogue>(v, p, n);
  else if constexpr (Whole)
    io.store(detail::apply_epilogue<Epilogue>(v), p);
  else
    io.store_first(detail::apply_epilogue<Epilogue>(v), p, n);
}

template <class Geo, class Arch, class Elem = float>
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

  /// Output pixels per strip, and the output columns every one of whose windows lies in the input
  /// ([ow_lo, ow_hi)); strips run there for windows up to 3x3 and whole channel vectors.
  /// 9 weight vectors, T accumulators and an input vector fill AVX2's 16 registers at T = 6; with T = 8 g++
  /// kept weights in memory, and on Zen 3 the strips ran 1.3 - 1.7x slower (MobileNetV2's stride-2 layer on
  /// 112 x 112 x 96: 0.24 against 0.14 ms; docs/performance.md, 2026-12-07).
  static constexpr int T = vector_registers<Arch> == 16 ? 6 : 8;
  static constexpr bool strips = KH * KW <= 9;
  static constexpr int ow_lo = std::min(OW, ceil_div(PW, SW));
  static constexpr int ow_hi = std::max(ow_lo, std::min(OW, W - KW + PW >= 0 ? (W - KW + PW) / SW + 1 : 0));
  static constexpr int full_vectors = strips ? C / V : 0;
  /// The interior columns cut into strips of nearly equal size, at most T (each strip's N accumulators are
  /// independent chains: a strip of 1 would wait on one chain of KH * KW dependent multiply-adds).
  static constexpr int interior = ow_hi - ow_lo;
  static constexpr int strip_count = ceil_div(interior, T);
  static constexpr int strip_size = interior > 0 ? ceil_div(interior, strip_count) : 1;
  static constexpr int last_strip = interior > 0 ? interior - (strip_count - 1) * strip_size : 1;

  /// Computes items [begin, end). With Add, residual (out's layout) is added before the epilogue. Io reads
  /// the stored values as floats and stores floats (elem_io<Elem>: the stored value is the value; int8.hpp's
  /// u8_affine_io: a quantised value, dequantised on loading and quantised on storing).
  /// An Io that applies the epilogue (applies_epilogue) expects sums in its own domain and takes no residual.
  template <class Epilogue, bool Add = false, class Io = elem_io<Elem>>
  static void run(const float* packed, const float* packed_bias, const Elem* in, Elem* out, std::int64_t begin,
                  std::int64_t end, const Elem* residual = nullptr, const Io& io = {}) {
    static_assert(!(Add && applies_epilogue<Io>), "typenet: depthwise_kernel: this Io's store takes no residual");
    for (std::int64_t i = begin; i < end; ++i) {
      const int n = static_cast<int>(i / OH), oh = static_cast<int>(i % OH);
      const std::size_t row = (std::size_t(n) * OH + oh) * OW * C;
      const Elem* x = in + std::size_t(n) * H * W * C;
      run_row<Epilogue, Add>(packed, packed_bias, x, out + row, Add ? residual + row : nullptr, oh, io);
    }
  }

 private:
  template <class Epilogue, bool Add, class Io>
  static void run_row(const float* packed, const float* bias, const Elem* x, Elem* y, const Elem* r, int oh,
                      const Io& io) {
    const int ih0 = oh * SH - PH;
    const int kh0 = std::max(0, -ih0), kh1 = std::min(KH, H - ih0);
    if constexpr (strips) {
      // Edge columns per pixel; inside, strips over the whole channel vectors, and the per-pixel path for
      // the channels past them.
      for (int ow = 0; ow < ow_lo; ++ow) pixel<Epilogue, Add>(packed, bias, x, y, r, 0, ow, ih0, kh0, kh1, io);
      if constexpr (interior > 0) {
        for (int k = 0; k + 1 < strip_count; ++k)
          strip<strip_size, Epilogue, Add>(packed, bias, x, y, r, ow_lo + k * strip_size, ih0, kh0, kh1, io);
        strip<last_strip, Epilogue, Add>(packed, bias, x, y, r, ow_hi - last_strip, ih0, kh0, kh1, io);
      }
      if constexpr (full_vectors * V < C)
        for (int ow = ow_lo; ow < ow_hi; ++ow)
          pixel<Epilogue, Add>(packed, bias, x, y, r, full_vectors * V, ow, ih0, kh0, kh1, io);
      for (int ow = ow_hi; ow < OW; ++ow) pixel<Epilogue, Add>(packed, bias, x, y, r, 0, ow, ih0, kh0, kh1, io);
    } else {
      for (int ow = 0; ow < OW; ++ow) pixel<Epilogue, Add>(packed, bias, x, y, r, 0, ow, ih0, kh0, kh1, io);
    }
  }

  // Channels [cbegin, C) of output pixel ow, with the window clipped to the input.
  template <class Epilogue, bool Add, class Io>
  static void pixel(const float* packed, const float* bias, const Elem* x, Elem* y, const Elem* r, int cbegin, int ow,
                    int ih0, int kh0, int kh1, const Io& io) {
    const int iw0 = ow * SW - PW;
    const int kw0 = std::max(0, -iw0), kw1 = std::min(KW, W - iw0);
    Elem* yp = y + std::size_t(ow) * C;
    const Elem* rp = Add ? r + std::size_t(ow) * C : nullptr;
    const int full = cbegin + (C - cbegin) / (U * V) * (U * V);
    for (int c0 = cbegin; c0 < full; c0 += U * V)
      chunk<U, Epilogue, Add>(packed, bias, x, yp, rp, c0, ih0, iw0, kh0, kh1, kw0, kw1, V, io);
    for (int c0 = full; c0 < C; c0 += V)
      chunk<1, Epilogue, Add>(packed, bias, x, yp, rp, c0, ih0, iw0, kh0, kh1, kw0, kw1, std::min(V, C - c0), io);
  }

  // Output pixels [ow0, ow0 + N) (windows inside the input columns), whole channel vectors: per vector,
  // the window's weights in registers and each input column loaded once per kernel row.
  template <int N, class Epilogue, bool Add, class Io>
  static void strip(const float* packed, const float* bias, const Elem* x, Elem* y, const Elem* r, int ow0, int ih0,
                    int kh0, int kh1, const Io& io) {
    constexpr int cols = (N - 1) * SW + KW;
    const Elem* x0 = x + std::size_t(ow0 * SW - PW) * C;
    for (int c0 = 0; c0 < full_vectors * V; c0 += V) {
      vec wv[KH * KW];
      static_for<KH * KW>([&](auto t)
                              TYPENET_INLINE_LAMBDA { wv[t] = vec::load_aligned(packed + std::size_t(t) * Cp + c0); });
      vec acc[N];
      const vec bv = vec::load_aligned(bias + c0);
      static_for<N>([&](auto p) TYPENET_INLINE_LAMBDA { acc[p] = bv; });
      static_for<KH>([&](auto kh) TYPENET_INLINE_LAMBDA {
        if (kh < kh0 || kh >= kh1) return;
        const Elem* xr = x0 + std::size_t(ih0 + kh) * W * C + c0;
        static_for<cols>([&](auto j) TYPENET_INLINE_LAMBDA {
          const vec xv = io.template load<vec>(xr + std::size_t(j) * C);
          static_for<KW>([&](auto kw) TYPENET_INLINE_LAMBDA {
            constexpr int d = int(j) - int(kw);
            if constexpr (d >= 0 && d % SW == 0 && d / SW < N)
              acc[d / SW] = xsimd::fma(xv, wv[kh * KW + kw], acc[d / SW]);
          });
        });
      });
      static_for<N>([&](auto p) TYPENET_INLINE_LAMBDA {
        const std::size_t at = std::size_t(ow0 + p) * C + c0;
        if constexpr (Add) acc[p] = acc[p] + io.template load<vec>(r + at);
        store_activated<Epilogue, true>(io, acc[p], y + at, V);
      });
    }
  }

  // Channels [c0, c0 + N*V) of one output pixel; the last vector holds `last` (1..V) channels.
  template <int N, class Epilogue, bool Add, class Io>
  TYPENET_ALWAYS_INLINE static void chunk(const float* packed, const float* bias, const Elem* x, Elem* yp,
                                          const Elem* rp, int c0, int ih0, int iw0, int kh0, int kh1, int kw0, int kw1,
                                          int last, const Io& io) {
    vec acc[N];
    static_for<N>([&](auto u) { acc[u] = vec::load_aligned(bias + c0 + u * V); });
    for (int kh = kh0; kh < kh1; ++kh)
      for (int kw = kw0; kw < kw1; ++kw) {
        const Elem* xt = x + (std::size_t(ih0 + kh) * W + std::size_t(iw0 + kw)) * C + c0;
        const float* wt = packed + (std::size_t(kh) * KW + kw) * Cp + c0;
        static_for<N>([&](auto u) {
          const int n = u + 1 < N ? V : last;
          acc[u] = xsimd::fma(io.template load_first<vec>(xt + u * V, n), vec::load_aligned(wt + u * V), acc[u]);
        });
      }
    static_for<N>([&](auto u) {
      const int n = u + 1 < N ? V : last;
      if constexpr (Add) acc[u] = acc[u] + io.template load_first<vec>(rp + c0 + u * V, n);
      store_activated<Epilogue, false>(io, acc[u], yp + c0 + u * V, n);
    });
  }
};

}  // namespace typenet::kernels::simd
