// typenet/kernels/simd/bf16.hpp: the bfloat16 kernels of exec::simd<Arch, precision::bf16> (AVX512_BF16).
//
// Number format: bfloat16 is the top half of an IEEE float (8 exponent bits, 7 stored mantissa bits, unit
// roundoff 2^-9). Floats are rounded to nearest even (vcvtneps2bf16, or bf16_round for a scalar); the
// kernels multiply pairs of bf16 values and add the products into fp32 accumulators with vdpbf16ps:
//   acc[i] += a[2i] * b[2i] + a[2i + 1] * b[2i + 1]     (fp32 lanes i = 0..15)
// so every reduction runs over pairs of adjacent inputs.
//
// Stored tensors: NHWC with the channel count rounded up to even (`stored_channels`), the extra channel
// zero; a flat vector with its length rounded up to even. A pixel's channels are contiguous, so one 32-bit
// broadcast carries the pair (x[c], x[c + 1]) of two adjacent channels, which meets the weights packed as
// pairs (w[o][c], w[o][c + 1]) for 16 output channels o in one vector.
//
// conv_bf16_kernel: the direct convolution of conv2d.hpp (register tile of S pixels x NB vectors of output
// channels, padding rows clipped, padding columns pointed at a row of zeros), with the reduction over pairs
// of (kw, c). Output fp32 (when an LRN or a pool follows in the stage, or it is the network's last stage) or
// bf16 (stored layout, the padding channel written as 0).
// dense_bf16_kernel: the GEMV (batch 1: the weight stream, half the bytes of fp32) and a register-blocked
// GEMM (8 rows x 32 outputs) that reads its inputs from a panel of pairs laid out [tile][pair][row].
//
// Only compiled where TYPENET_HAS_BF16 (typenet/precision.hpp); exec::simd checks the running CPU
// (cpu_has_bf16) before it runs any of this.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "../../precision.hpp"
#include "common.hpp"
#include "dense.hpp"     // epilogue tags, elem_io
#include "winograd.hpp"  // winograd_detail::pack_u, the fp32 algorithm

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

namespace typenet::kernels::simd {

using bf16_t = std::uint16_t;  ///< a bfloat16 value, as its bits

/// Even count of stored channels (or elements) for n logical ones.
constexpr int stored_channels(int n) { return n + (n & 1); }

/// Whether the running CPU executes AVX512_BF16 (CPUID leaf 7, sub-leaf 1, EAX bit 5) and AVX512BW.
inline bool cpu_has_bf16() noexcept {
#if defined(__x86_64__) || defined(_M_X64)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool bw = (b >> 30) & 1u;  // AVX512BW
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
  // The OS must also save the zmm state (XCR0 bits 1, 2, 5, 6, 7).
  unsigned lo = 0, hi = 0;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return bw && ((a >> 5) & 1u) && (lo & 0xe6u) == 0xe6u;
#else
  return false;
#endif
}

/// Rounds a float to the nearest bfloat16, ties to even, as vcvtneps2bf16 does: NaN stays a (quiet) NaN,
/// denormal inputs become a zero of the same sign.
inline bf16_t bf16_round(float f) noexcept {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<bf16_t>((u >> 16) | 0x40u);  // NaN
  if ((u & 0x7f800000u) == 0) return static_cast<bf16_t>((u >> 16) & 0x8000u);         // zero, denormal
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<bf16_t>(u >> 16);
}
inline float bf16_to_float(bf16_t h) noexcept {
  const std::uint32_t u = std::uint32_t{h} << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

#if TYPENET_HAS_BF16

namespace bf16_detail {

TYPENET_ALWAYS_INLINE __m512bh as_bh(__m512i v) noexcept { return (__m512bh)v; }

/// The 32-bit pair at p (two bf16 values), broadcast to all 16 lanes.
TYPENET_ALWAYS_INLINE __m512bh broadcast_pair(const bf16_t* p) noexcept {
  std::uint32_t u;
  std::memcpy(&u, p, sizeof u);
  return as_bh(_mm512_set1_epi32(static_cast<int>(u)));
}

using avx512::first_lanes;

/// The first n (0..16) values at p as floats (the other lanes 0): floats, or bf16 widened exactly.
TYPENET_ALWAYS_INLINE __m512 load_first(const float* p, int n) noexcept {
  return _mm512_maskz_loadu_ps(first_lanes(n), p);
}
TYPENET_ALWAYS_INLINE __m512 load_first(const bf16_t* p, int n) noexcept {
  const __mmask16 all = 0xffff;
  return _mm512_castsi512_ps(
      _mm512_maskz_slli_epi32(all, _mm512_maskz_cvtepu16_epi32(all, _mm256_maskz_loadu_epi16(first_lanes(n), p)), 16));
}

/// Stores the first n (0..16) lanes of v at p, as floats or rounded to bf16.
TYPENET_ALWAYS_INLINE void store_first(__m512 v, float* p, int n) noexcept {
  _mm512_mask_storeu_ps(p, first_lanes(n), v);
}
TYPENET_ALWAYS_INLINE void store_first(__m512 v, bf16_t* p, int n) noexcept {
  _mm256_mask_storeu_epi16(p, first_lanes(n), (__m256i)_mm512_cvtneps_pbh(v));
}

}  // namespace bf16_detail

/// dst[i] = bf16(src[i]) for i in [0, n).
inline void to_bf16(const float* src, bf16_t* dst, std::int64_t n) noexcept {
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i)));
  if (i < n) {
    const __mmask16 m = bf16_detail::first_lanes(int(n - i));
    _mm256_mask_storeu_epi16(dst + i, m, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i)));
  }
}

namespace bf16_detail {
/// 16 bf16 values -> 16 floats. (The zero-masking forms: GCC 12's unmasked ones start from an "undefined"
/// register that -Wmaybe-uninitialized reports.)
TYPENET_ALWAYS_INLINE __m512 widen(__m256i h) noexcept {
  const __mmask16 all = 0xffff;
  return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(all, _mm512_maskz_cvtepu16_epi32(all, h), 16));
}
}  // namespace bf16_detail

/// bf16 storage for kernels written over float vectors (depthwise.hpp): 16 lanes, the AVX-512 width.
template <>
struct elem_io<bf16_t> {
  template <class V>
  TYPENET_ALWAYS_INLINE static V load(const bf16_t* p) noexcept {
    static_assert(V::size == 16, "typenet: bf16 storage needs 16-lane (AVX-512) float vectors");
    return V(bf16_detail::widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))));
  }
  template <class V>
  TYPENET_ALWAYS_INLINE static V load_first(const bf16_t* p, int n) noexcept {
    static_assert(V::size == 16, "typenet: bf16 storage needs 16-lane (AVX-512) float vectors");
    return V(bf16_detail::load_first(p, n));
  }
  template <class V>
  TYPENET_ALWAYS_INLINE static void store(V v, bf16_t* p) noexcept {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), (__m256i)_mm512_cvtneps_pbh(__m512(v)));
  }
  template <class V>
  TYPENET_ALWAYS_INLINE static void store_first(V v, bf16_t* p, int n) noexcept {
    bf16_detail::store_first(__m512(v), p, n);
  }
};

/// dst[i] = float(src[i]) for i in [0, n) (exact).
inline void to_f32(const bf16_t* src, float* dst, std::int64_t n) noexcept {
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, bf16_detail::widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  if (i < n) {
    const __mmask16 m = bf16_detail::first_lanes(int(n - i));
    _mm512_mask_storeu_ps(dst + i, m, bf16_detail::widen(_mm256_maskz_loadu_epi16(m, src + i)));
  }
}

/// `pixels` pixels of C floats (NHWC) -> stored bf16 (stored_channels(C) per pixel, the extra channel 0).
template <int C>
inline void pixels_to_bf16(const float* src, bf16_t* dst, std::int64_t pixels) noexcept {
  constexpr int Cs = stored_channels(C);
  if constexpr (Cs == C) {
    to_bf16(src, dst, pixels * C);
  } else {
    for (std::int64_t p = 0; p < pixels; ++p) {
      to_bf16(src + p * C, dst + p * Cs, C);
      dst[p * Cs + C] = 0;
    }
  }
}
/// The inverse: stored bf16 pixels -> C floats per pixel.
template <int C>
inline void pixels_to_f32(const bf16_t* src, float* dst, std::int64_t pixels) noexcept {
  constexpr int Cs = stored_channels(C);
  if constexpr (Cs == C) {
    to_f32(src, dst, pixels * C);
  } else {
    for (std::int64_t p = 0; p < pixels; ++p) to_f32(src + p * Cs, dst + p * C, C);
  }
}

/// NCHW floats -> stored NHWC bf16, images [begin, end).
template <int C, int H, int W>
inline void nchw_to_nhwc_bf16(const float* in, bf16_t* out, std::int64_t begin, std::int64_t end) noexcept {
  constexpr int Cs = stored_channels(C);
  constexpr std::size_t plane = std::size_t(H) * W;
  for (std::int64_t n = begin; n < end; ++n) {
    const float* x = in + std::size_t(n) * C * plane;
    bf16_t* y = out + std::size_t(n) * Cs * plane;
    for (std::size_t p = 0; p < plane; ++p) {
      for (int c = 0; c < C; ++c) y[p * Cs + c] = bf16_round(x[c * plane + p]);
      if constexpr (Cs != C) y[p * Cs + C] = 0;
    }
  }
}

/// The direct convolution over bf16 pairs (see the top of this file). Geo: conv_geometry (conv2d.hpp). With
/// groups, the channels of a group must be even in and out (exec::simd<bf16> runs other grouped
/// convolutions in fp32).
template <class Geo, class Out>
struct conv_bf16_kernel {
  static constexpr int V = 16;
  static constexpr int C = Geo::c, H = Geo::h, W = Geo::w, F = Geo::f, OH = Geo::oh, OW = Geo::ow;
  static constexpr int KH = Geo::kh, KW = Geo::kw, SH = Geo::sh, SW = Geo::sw, PH = Geo::ph, PW = Geo::pw;
  static constexpr int G = Geo::g, Cg = Geo::cg, Fg = Geo::fg;
  static_assert(G == 1 || (Cg % 2 == 0 && Fg % 2 == 0),
                "typenet: conv_bf16_kernel: a grouped convolution needs an even number of channels per group");
  static constexpr int Cs = stored_channels(C);  ///< input channels per stored pixel
  static constexpr int Cgs = G == 1 ? Cs : Cg;   ///< stored input channels of one group (even)
  /// Output channels per pixel: F floats, or the stored (even) count of bf16 values.
  static constexpr int Fs = std::is_same_v<Out, float> ? F : stored_channels(F);

  static constexpr int NB = (Fg % (3 * V) == 0) ? 3 : (Fg % (2 * V) == 0) ? 2 : (Fg >= 3 * V) ? 3 : ceil_div(Fg, V);
  static constexpr int B = NB * V;
  static constexpr int blocks = ceil_div(Fg, B);
  static constexpr int max_tile = NB == 3 ? 8 : NB == 2 ? 12 : 16;
  static constexpr int tiles = ceil_div(OW, max_tile);
  static constexpr int tile = ceil_div(OW, tiles);
  static constexpr int last_tile = OW - (tiles - 1) * tile;

  /// bf16 values of one block: [KH][KW][Cgs / 2][B][2].
  static constexpr std::size_t block_elems = std::size_t{KH} * KW * Cgs * B;
  static constexpr std::size_t packed_elems = std::size_t{G} * blocks * block_elems;
  static constexpr std::size_t packed_bias_floats = std::size_t{G} * blocks * B;
  static constexpr std::size_t zero_elems = Cgs;  ///< bf16 zeros the padding taps read

  /// Packs PyTorch weights [F][C/G][KH][KW] and bias [F]; channels past C/G (the stored padding) and
  /// outputs past F/G get zero weights. (Not vectorised: see TYPENET_NO_VECTORIZE.)
  TYPENET_NO_VECTORIZE static void pack(const float* w, const float* bias, bf16_t* packed, float* packed_bias) {
    for (int g = 0; g < G; ++g)
      for (int ob = 0; ob < blocks; ++ob) {
        bf16_t* pb = packed + (std::size_t(g) * blocks + ob) * block_elems;
        for (int j = 0; j < B; ++j) {
          const int oc = ob * B + j;
          for (int kh = 0; kh < KH; ++kh)
            for (int kw = 0; kw < KW; ++kw)
              for (int ic = 0; ic < Cgs; ++ic) {
                const std::size_t pair = (std::size_t(kh) * KW + kw) * (Cgs / 2) + ic / 2;
                const float v =
                    oc < Fg && ic < Cg ? w[((std::size_t(g * Fg + oc) * Cg + ic) * KH + kh) * KW + kw] : 0.f;
                pb[(pair * B + j) * 2 + ic % 2] = bf16_round(v);
              }
          packed_bias[(std::size_t(g) * blocks + ob) * B + j] = oc < Fg ? bias[g * Fg + oc] : 0.f;
        }
      }
  }

  static constexpr std::int64_t items(int batch) { return std::int64_t{G} * blocks * batch * OH; }

  /// Items [begin, end) of a batch: out = Epilogue(conv(in) + bias [+ residual]), in the stored NHWC layouts
  /// (with Add, residual has out's layout and is added in fp32 before the epilogue).
  template <class Epilogue, bool Add = false>
  static void run(const bf16_t* packed, const float* packed_bias, const bf16_t* in, Out* out, const bf16_t* zeros,
                  int batch, std::int64_t begin, std::int64_t end, const Out* residual = nullptr) {
    const std::int64_t rows = std::int64_t{batch} * OH;
    for (std::int64_t i = begin; i < end; ++i) {
      const int gb = static_cast<int>(i / rows);
      const int r = static_cast<int>(i % rows);
      const int n = r / OH, oh = r % OH;
      const int g = gb / blocks, ob = gb % blocks;
      const bf16_t* w = packed + std::size_t(gb) * block_elems;
      const float* bias = packed_bias + std::size_t(gb) * B;
      const bf16_t* x = in + std::size_t(n) * H * W * Cs + std::size_t(g) * Cg;
      const std::size_t y_at = (std::size_t(n) * OH + oh) * OW * Fs + std::size_t(g) * Fg + std::size_t(ob) * B;
      Out* y = out + y_at;
      const Out* res = Add ? residual + y_at : nullptr;
      const int ih0 = oh * SH - PH;
      const int kh0 = std::max(0, -ih0), kh1 = std::min(KH, H - ih0);
      // Channels this block stores: with one group the stored padding channel too (its weights and bias
      // are zero, so it is stored as 0).
      const int valid = std::min(B, (G == 1 ? Fs : Fg) - ob * B);
      for (int t = 0; t < tiles; ++t) {
        const int ow0 = t * tile;
        if (t + 1 < tiles) {
          if (all_interior || interior(ow0, tile))
            tile_kernel<tile, true, Epilogue, Add>(w, bias, x, y, res, ih0, kh0, kh1, ow0, zeros, valid);
          else if constexpr (!all_interior)
            tile_kernel<tile, false, Epilogue, Add>(w, bias, x, y, res, ih0, kh0, kh1, ow0, zeros, valid);
        } else {
          if (all_interior || interior(ow0, last_tile))
            tile_kernel<last_tile, true, Epilogue, Add>(w, bias, x, y, res, ih0, kh0, kh1, ow0, zeros, valid);
          else if constexpr (!all_interior)
            tile_kernel<last_tile, false, Epilogue, Add>(w, bias, x, y, res, ih0, kh0, kh1, ow0, zeros, valid);
        }
      }
    }
  }

 private:
  static constexpr bool all_interior = PW == 0 && (OW - 1) * SW + KW <= W;
  static constexpr bool interior(int ow0, int s) { return ow0 * SW - PW >= 0 && (ow0 + s - 1) * SW - PW + KW <= W; }

  // acc[p][b] += pairs of x[p * Stride + 2r, +1] . w[r][b] for r in [0, Pairs).
  template <int S, int Stride, int Pairs>
  TYPENET_ALWAYS_INLINE static void accumulate_run(__m512 (&acc)[S][NB], const bf16_t* x, const bf16_t* w) {
    for (int r = 0; r < Pairs; ++r) {
      __m512bh wv[NB];
      static_for<NB>([&](auto b) { wv[b] = bf16_detail::as_bh(_mm512_load_si512(w + (r * B + b * V) * 2)); });
      static_for<S>([&](auto p) {
        const __m512bh xv = bf16_detail::broadcast_pair(x + p * Stride + 2 * r);
        static_for<NB>([&](auto b) { acc[p][b] = _mm512_dpbf16_ps(acc[p][b], xv, wv[b]); });
      });
    }
  }

  template <int S>
  TYPENET_ALWAYS_INLINE static void accumulate_ptrs(__m512 (&acc)[S][NB], const bf16_t* const (&x)[S],
                                                    const bf16_t* w) {
    for (int r = 0; r < Cgs / 2; ++r) {
      __m512bh wv[NB];
      static_for<NB>([&](auto b) { wv[b] = bf16_detail::as_bh(_mm512_load_si512(w + (r * B + b * V) * 2)); });
      static_for<S>([&](auto p) {
        const __m512bh xv = bf16_detail::broadcast_pair(x[p] + 2 * r);
        static_for<NB>([&](auto b) { acc[p][b] = _mm512_dpbf16_ps(acc[p][b], xv, wv[b]); });
      });
    }
  }

  template <int S, bool Interior, class Epilogue, bool Add>
  static void tile_kernel(const bf16_t* w, const float* bias, const bf16_t* x, Out* y, const Out* res, int ih0, int kh0,
                          int kh1, int ow0, const bf16_t* zeros, int valid) {
    __m512 acc[S][NB];
    static_for<NB>([&](auto b) {
      const __m512 bv = _mm512_load_ps(bias + b * V);
      static_for<S>([&](auto p) { acc[p][b] = bv; });
    });
    for (int kh = kh0; kh < kh1; ++kh) {
      const bf16_t* wk = w + std::size_t(kh) * KW * Cgs * B;
      const bf16_t* xr = x + std::size_t(ih0 + kh) * W * Cs;
      if constexpr (Interior) {
        const bf16_t* xp = xr + std::size_t(ow0 * SW - PW) * Cs;
        if constexpr (G == 1) {
          accumulate_run<S, SW * Cs, KW * Cs / 2>(acc, xp, wk);
        } else {
          for (int kw = 0; kw < KW; ++kw)
            accumulate_run<S, SW * Cs, Cgs / 2>(acc, xp + kw * Cs, wk + std::size_t(kw) * Cgs * B);
        }
      } else {
        for (int kw = 0; kw < KW; ++kw) {
          const bf16_t* ptr[S];
          static_for<S>([&](auto p) {
            const int iw = (ow0 + p) * SW - PW + kw;
            ptr[p] = (iw >= 0 && iw < W) ? xr + std::size_t(iw) * Cs : zeros;
          });
          accumulate_ptrs<S>(acc, ptr, wk + std::size_t(kw) * Cgs * B);
        }
      }
    }
    static_for<S>([&](auto p) {
      const std::size_t at = std::size_t(ow0 + p) * Fs;
      static_for<NB>([&](auto b) {
        const int n = valid - int(b) * V;
        if constexpr (Add) acc[p][b] = _mm512_add_ps(acc[p][b], bf16_detail::load_first(res + at + b * V, n));
        bf16_detail::store_first(avx512::activation<Epilogue>(acc[p][b]), y + at + b * V, n);
      });
    });
  }
};

/// The dense layer over bf16 pairs. In: stored inputs per row (even); Out: outputs; OutT: float or bf16_t
/// (a bf16 output row holds stored_channels(Out) values, the padding 0).
template <int In, int Out, class OutT>
struct dense_bf16_kernel {
  static_assert(In % 2 == 0, "typenet: dense_bf16_kernel: the stored input length is even");
  static constexpr int In2 = In / 2;  ///< pairs per row
  static constexpr int block = 32;    ///< outputs per packed block (two vectors)
  static constexpr int blocks = ceil_div(Out, block);
  static constexpr int Outs = std::is_same_v<OutT, float> ? Out : stored_channels(Out);
  static constexpr int tile_rows = 8;
  static constexpr std::size_t packed_elems = std::size_t(blocks) * block * In;
  static constexpr std::size_t bias_floats = std::size_t(blocks) * block;
  /// 32-bit pairs of the GEMM's input panel for `batch` rows.
  static constexpr std::size_t panel_pairs(int batch) {
    return std::size_t(ceil_div(batch, tile_rows)) * tile_rows * In2;
  }

  /// w[Out][In] in the stored input order (the padding columns zero), bias[Out].
  static void pack(const float* w, const float* bias, bf16_t* packed, float* packed_bias) {
    for (int blk = 0; blk < blocks; ++blk)
      for (int j = 0; j < block; ++j) {
        const int o = blk * block + j;
        for (int i = 0; i < In; ++i)
          packed[((std::size_t(blk) * In2 + i / 2) * block + j) * 2 + i % 2] =
              o < Out ? bf16_round(w[std::size_t(o) * In + i]) : bf16_t{0};
        packed_bias[o] = o < Out ? bias[o] : 0.f;
      }
  }

  static constexpr std::pair<int, int> part_blocks(int part, int parts) noexcept {
    return {int(std::int64_t(blocks) * part / parts), int(std::int64_t(blocks) * (part + 1) / parts)};
  }

  /// panel[(t * In2 + i) * tile_rows + r] = pair i of row t * tile_rows + r (0 past the batch), rows
  /// [row_begin, row_end) of the batch.
  static void make_panel(const bf16_t* x, std::uint32_t* panel, int batch, int row_begin, int row_end) {
    for (int row = row_begin; row < row_end; ++row) {
      std::uint32_t* dst = panel + std::size_t(row / tile_rows) * In2 * tile_rows + row % tile_rows;
      if (row < batch) {
        const bf16_t* xr = x + std::size_t(row) * In;
        for (int i = 0; i < In2; ++i) std::memcpy(dst + std::size_t(i) * tile_rows, xr + 2 * i, 4);
      } else {
        for (int i = 0; i < In2; ++i) dst[std::size_t(i) * tile_rows] = 0;
      }
    }
  }

  /// y = Epilogue(w x + bias) for the output blocks of part `part` of `parts`. Batch 1 streams the weights
  /// from x; a larger batch reads the panel (make_panel over all ceil(batch / 8) * 8 rows first).
  template <class Epilogue>
  static void run(const bf16_t* packed, const float* bias, const bf16_t* x, const std::uint32_t* panel, OutT* y,
                  int batch, int part, int parts) {
    const auto [first, last] = part_blocks(part, parts);
    for (int blk = first; blk < last; ++blk) {
      const bf16_t* w = packed + std::size_t(blk) * In * block;
      const int o = blk * block;
      const int valid = std::min(block, Outs - o);
      if (batch == 1) {
        gemv_block<Epilogue>(w, bias + o, x, y + o, valid);
      } else {
        for (int t = 0; t * tile_rows < batch; ++t) {
          const int rows = std::min(tile_rows, batch - t * tile_rows);
          const std::uint32_t* xp = panel + std::size_t(t) * In2 * tile_rows;
          OutT* yt = y + std::size_t(t) * tile_rows * Outs + o;
          detail::with_rows<tile_rows>(rows, [&]<int R>() { tile<R, Epilogue>(w, bias + o, xp, yt, valid); });
        }
      }
    }
  }

 private:
  template <class Epilogue>
  static void gemv_block(const bf16_t* w, const float* bias, const bf16_t* x, OutT* y, int valid) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int i = 0;
    for (; i + 2 <= In2; i += 2) {
      const bf16_t* wi = w + std::size_t(i) * block * 2;
      const __m512bh x0 = bf16_detail::broadcast_pair(x + 2 * i), x1 = bf16_detail::broadcast_pair(x + 2 * i + 2);
      a0 = _mm512_dpbf16_ps(a0, x0, bf16_detail::as_bh(_mm512_loadu_si512(wi)));
      a1 = _mm512_dpbf16_ps(a1, x0, bf16_detail::as_bh(_mm512_loadu_si512(wi + 32)));
      a2 = _mm512_dpbf16_ps(a2, x1, bf16_detail::as_bh(_mm512_loadu_si512(wi + 64)));
      a3 = _mm512_dpbf16_ps(a3, x1, bf16_detail::as_bh(_mm512_loadu_si512(wi + 96)));
    }
    if constexpr (In2 % 2 != 0) {
      const bf16_t* wi = w + std::size_t(In2 - 1) * block * 2;
      const __m512bh x0 = bf16_detail::broadcast_pair(x + In - 2);
      a0 = _mm512_dpbf16_ps(a0, x0, bf16_detail::as_bh(_mm512_loadu_si512(wi)));
      a1 = _mm512_dpbf16_ps(a1, x0, bf16_detail::as_bh(_mm512_loadu_si512(wi + 32)));
    }
    const __m512 r0 = _mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_loadu_ps(bias));
    const __m512 r1 = _mm512_add_ps(_mm512_add_ps(a1, a3), _mm512_loadu_ps(bias + 16));
    bf16_detail::store_first(avx512::activation<Epilogue>(r0), y, valid);
    bf16_detail::store_first(avx512::activation<Epilogue>(r1), y + 16, valid - 16);
  }

  template <int R, class Epilogue>
  static void tile(const bf16_t* w, const float* bias, const std::uint32_t* xp, OutT* y, int valid) {
    __m512 acc[R][2];
    const __m512 b0 = _mm512_loadu_ps(bias), b1 = _mm512_loadu_ps(bias + 16);
    static_for<R>([&](auto r) { acc[r][0] = b0, acc[r][1] = b1; });
    for (int i = 0; i < In2; ++i) {
      const __m512bh w0 = bf16_detail::as_bh(_mm512_loadu_si512(w + std::size_t(i) * block * 2));
      const __m512bh w1 = bf16_detail::as_bh(_mm512_loadu_si512(w + std::size_t(i) * block * 2 + 32));
      static_for<R>([&](auto r) {
        const __m512bh xv = bf16_detail::as_bh(_mm512_set1_epi32(static_cast<int>(xp[i * tile_rows + r])));
        acc[r][0] = _mm512_dpbf16_ps(acc[r][0], xv, w0);
        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], xv, w1);
      });
    }
    static_for<R>([&](auto r) {
      OutT* yr = y + std::size_t(r) * Outs;
      bf16_detail::store_first(avx512::activation<Epilogue>(acc[r][0]), yr, valid);
      bf16_detail::store_first(avx512::activation<Epilogue>(acc[r][1]), yr + 16, valid - 16);
    });
  }
};

/// Winograd F(2x2, 3x3) over bf16 for 3x3 convolutions with stride 1, pad 1 and one group: the algorithm and
/// the blocking of winograd.hpp (2 x 2 output tiles, 16 GEMMs M[xi] = V[xi] U[xi] per block of tiles and
/// block of output channels), with the input and output transforms in fp32 and the GEMMs on vdpbf16ps:
/// V = B^T d B and U = G g G^T are rounded to bf16 (pairs of channels), M is summed in fp32. Against the
/// direct bf16 kernel: 16 multiplies per tile and channel pair instead of 36, and one more rounding (of V,
/// whose entries are sums of up to 4 inputs; U = G g G^T is rounded once, when the model is built).
/// in: stored NHWC bf16 (stored_channels(C) per pixel); out: F floats or stored_channels(F) bf16 per pixel.
template <int C, int H, int W, int F, class Out>
struct winograd_bf16 {
  static constexpr int lanes = 16;
  static constexpr int Cs = stored_channels(C);
  static constexpr int Fs = std::is_same_v<Out, float> ? F : stored_channels(F);
  static constexpr int NB = std::min(4, ceil_div(F, lanes));
  static constexpr int FB = NB * lanes;
  static constexpr int fblocks = ceil_div(F, FB);
  static constexpr int R = NB >= 4 ? 6 : NB == 3 ? 8 : 12;
  static constexpr int Cp = ceil_div(Cs, 32) * 32;  ///< Vbuf row stride, bf16 values (64-byte rows)
  static constexpr int TH = (H + 1) / 2, TW = (W + 1) / 2;
  static constexpr int tiles_per_image = TH * TW;
  static constexpr int Tmax = std::max(R, std::min(3 * R, int((std::size_t{512} << 10) / (16 * 2 * Cp))));
  static constexpr std::size_t u_block_elems = std::size_t{16} * Cs * FB;  ///< [xi][c / 2][FB][2]
  static constexpr std::size_t packed_elems = std::size_t{fblocks} * u_block_elems;
  static constexpr std::size_t vbuf_elems = std::size_t{16} * Tmax * Cp;
  static constexpr std::size_t mbuf_floats = std::size_t{16} * Tmax * FB;
  static constexpr std::size_t workspace_floats_per_part = vbuf_elems / 2 + mbuf_floats;

  /// Packs PyTorch weights w[F][C][3][3] into U = G g G^T as bf16 pairs (zero past C and F).
  static void pack(const float* w, bf16_t* packed) {
    std::vector<float> u(std::size_t{fblocks} * 16 * C * FB);
    winograd_detail::pack_u(w, u.data(), C, F, FB, fblocks);
    for (int fb = 0; fb < fblocks; ++fb)
      for (int xi = 0; xi < 16; ++xi)
        for (int c = 0; c < Cs; ++c)
          for (int j = 0; j < FB; ++j)
            packed[((std::size_t(fb) * 16 + xi) * (Cs / 2) + c / 2) * FB * 2 + j * 2 + c % 2] =
                c < C ? bf16_round(u[((std::size_t(fb) * 16 + xi) * C + c) * FB + j]) : bf16_t{0};
  }

  static constexpr std::int64_t tiles(int batch) noexcept { return std::int64_t{batch} * tiles_per_image; }

  /// out = Epilogue(bias + conv(in) [+ residual]) for the output pixels of the tiles [first, last) (with
  /// Add, residual has out's layout and is added in fp32 before the epilogue).
  template <class Epilogue, bool Add = false>
  static void run_tiles(const bf16_t* packed, const float* bias, const bf16_t* in, Out* out, float* workspace,
                        std::int64_t first, std::int64_t last, const Out* residual = nullptr) {
    const std::int64_t count = last - first;
    if (count <= 0) return;
    const std::int64_t nblk = (count + Tmax - 1) / Tmax;
    auto* vbuf = reinterpret_cast<bf16_t*>(workspace);
    float* mbuf = workspace + vbuf_elems / 2;
    for (std::int64_t b = 0; b < nblk; ++b) {
      const std::int64_t t0 = first + count * b / nblk;
      const int T = static_cast<int>(first + count * (b + 1) / nblk - t0);
      input_transform(in, vbuf, t0, T);
      for (int fb = 0; fb < fblocks; ++fb) {
        gemms(packed + fb * u_block_elems, vbuf, mbuf, T);
        output_transform<Epilogue, Add>(mbuf, bias, out, residual, t0, T, fb);
      }
    }
  }

 private:
  alignas(64) static constexpr bf16_t zeros_[Cp] = {};

  struct tile_pos {
    int n, y0, x0;
  };
  static tile_pos position(std::int64_t t) noexcept {
    const int n = static_cast<int>(t / tiles_per_image);
    const int r = static_cast<int>(t % tiles_per_image);
    return {n, 2 * (r / TW), 2 * (r % TW)};
  }

  static void input_transform(const bf16_t* in, bf16_t* vbuf, std::int64_t t0, int T) {
    for (int k = 0; k < T; ++k) {
      const tile_pos p = position(t0 + k);
      const bf16_t* img = in + std::size_t(p.n) * H * W * Cs;
      const bf16_t* src[4][4];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          const int y = p.y0 - 1 + i, x = p.x0 - 1 + j;
          src[i][j] = (y >= 0 && y < H && x >= 0 && x < W) ? img + (std::size_t(y) * W + x) * Cs : zeros_;
        }
      bf16_t* dst = vbuf + std::size_t(k) * Cp;
      for (int c = 0; c < Cs; c += lanes) transform_one(src, dst, c, bf16_detail::first_lanes(Cs - c));
    }
  }

  TYPENET_ALWAYS_INLINE static void transform_one(const bf16_t* const (&src)[4][4], bf16_t* dst, int c, __mmask16 m) {
    __m512 d[4][4];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) d[i][j] = bf16_detail::widen(_mm256_maskz_loadu_epi16(m, src[i][j] + c));
    __m512 t[4][4];
    for (int j = 0; j < 4; ++j) {  // B^T d
      t[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
      t[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
      t[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
      t[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
    }
    constexpr std::size_t plane = std::size_t{Tmax} * Cp;
    const auto put = [&](__m512 v, bf16_t* o) { _mm256_mask_storeu_epi16(o, m, (__m256i)_mm512_cvtneps_pbh(v)); };
    for (int i = 0; i < 4; ++i) {  // (B^T d) B
      bf16_t* o = dst + std::size_t(4 * i) * plane + c;
      put(_mm512_sub_ps(t[i][0], t[i][2]), o);
      put(_mm512_add_ps(t[i][1], t[i][2]), o + plane);
      put(_mm512_sub_ps(t[i][2], t[i][1]), o + 2 * plane);
      put(_mm512_sub_ps(t[i][1], t[i][3]), o + 3 * plane);
    }
  }

  static void gemms(const bf16_t* u, const bf16_t* vbuf, float* mbuf, int T) {
    const int groups = (T + R - 1) / R;
    for (int xi = 0; xi < 16; ++xi) {
      const bf16_t* ux = u + std::size_t(xi) * Cs * FB;
      const bf16_t* vx = vbuf + std::size_t(xi) * Tmax * Cp;
      float* mx = mbuf + std::size_t(xi) * Tmax * FB;
      for (int g = 0; g < groups; ++g) {
        const int k0 = T * g / groups, rows = T * (g + 1) / groups - k0;
        detail::with_rows<R>(rows,
                             [&]<int RR>() { micro<RR>(ux, vx + std::size_t(k0) * Cp, mx + std::size_t(k0) * FB); });
      }
    }
  }

  template <int RR>
  static void micro(const bf16_t* u, const bf16_t* v, float* m) {
    __m512 acc[RR][NB];
    static_for<RR>([&](auto r) { static_for<NB>([&](auto b) { acc[r][b] = _mm512_setzero_ps(); }); });
    for (int c2 = 0; c2 < Cs / 2; ++c2) {
      __m512bh w[NB];
      static_for<NB>(
          [&](auto b) { w[b] = bf16_detail::as_bh(_mm512_load_si512(u + (std::size_t(c2) * FB + b * lanes) * 2)); });
      static_for<RR>([&](auto r) {
        const __m512bh x = bf16_detail::broadcast_pair(v + r * Cp + 2 * c2);
        static_for<NB>([&](auto b) { acc[r][b] = _mm512_dpbf16_ps(acc[r][b], x, w[b]); });
      });
    }
    static_for<RR>(
        [&](auto r) { static_for<NB>([&](auto b) { _mm512_storeu_ps(m + r * FB + b * lanes, acc[r][b]); }); });
  }

  template <class Epilogue, bool Add>
  static void output_transform(const float* mbuf, const float* bias, Out* out, const Out* residual, std::int64_t t0,
                               int T, int fb) {
    constexpr std::size_t plane = std::size_t{Tmax} * FB;
    __m512 bv[NB];
    int valid[NB];
    for (int b = 0; b < NB; ++b) {
      const int f = fb * FB + b * lanes;
      valid[b] = std::clamp(Fs - f, 0, lanes);  // a bf16 output stores its padding channel (0) too
      bv[b] = _mm512_maskz_loadu_ps(bf16_detail::first_lanes(std::clamp(F - f, 0, lanes)), bias + f);
    }
    for (int k = 0; k < T; ++k) {
      const tile_pos p = position(t0 + k);
      const bool two_rows = p.y0 + 1 < H, two_cols = p.x0 + 1 < W;
      const std::size_t at = ((std::size_t(p.n) * H + p.y0) * W + p.x0) * Fs + std::size_t(fb) * FB;
      Out* y0 = out + at;
      Out* y1 = y0 + std::size_t(W) * Fs;
      for (int b = 0; b < NB; ++b) {
        if (valid[b] <= 0) break;
        const float* mk = mbuf + std::size_t(k) * FB + b * lanes;
        __m512 s[2][4];
        for (int j = 0; j < 4; ++j) {  // A^T M
          const __m512 m0 = _mm512_loadu_ps(mk + (0 + j) * plane), m1 = _mm512_loadu_ps(mk + (4 + j) * plane);
          const __m512 m2 = _mm512_loadu_ps(mk + (8 + j) * plane), m3 = _mm512_loadu_ps(mk + (12 + j) * plane);
          s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
          s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
        }
        const int n = valid[b], off = b * lanes;
        const auto put = [&](__m512 v, Out* y) {
          v = _mm512_add_ps(bv[b], v);
          if constexpr (Add) v = _mm512_add_ps(v, bf16_detail::load_first(residual + (at + (y - y0)) + off, n));
          bf16_detail::store_first(avx512::activation<Epilogue>(v), y + off, n);
        };
        put(_mm512_add_ps(_mm512_add_ps(s[0][0], s[0][1]), s[0][2]), y0);
        if (two_cols) put(_mm512_sub_ps(_mm512_sub_ps(s[0][1], s[0][2]), s[0][3]), y0 + Fs);
        if (two_rows) {
          put(_mm512_add_ps(_mm512_add_ps(s[1][0], s[1][1]), s[1][2]), y1);
          if (two_cols) put(_mm512_sub_ps(_mm512_sub_ps(s[1][1], s[1][2]), s[1][3]), y1 + Fs);
        }
      }
    }
  }
};

#endif  // TYPENET_HAS_BF16

}  // namespace typenet::kernels::simd
