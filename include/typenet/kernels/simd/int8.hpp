// typenet/kernels/simd/int8.hpp: the 8-bit kernels for exec::simd<Arch, precision::int8> (AVX512_VNNI).
//
// Number format: static u8 x s8 quantisation, the scheme ONNX Runtime's QDQ models and oneDNN use on x86.
//   activations  unsigned 8-bit, one scale s and zero point z per tensor:    x ~ s * (q - z), q in [0, 255]
//   weights      signed 8-bit, symmetric, one scale per output channel:     w ~ sw[o] * wq,  wq in [-127, 127]
// vpdpbusd multiplies 4 unsigned bytes by 4 signed bytes and adds the four products to a 32-bit lane:
//   acc[i] += a[4i] b[4i] + a[4i+1] b[4i+1] + a[4i+2] b[4i+2] + a[4i+3] b[4i+3]
// exactly (no saturation; a product is at most 255 * 127 in magnitude, so a reduction of up to
// `max_reduction` terms cannot overflow int32). Every reduction therefore runs over quads of adjacent inputs.
//
// A layer computes, exactly in int32, acc = sum over the taps inside the input of (q - z) wq: the kernel sums
// q wq over the taps it reads and subtracts z times the weights of those taps. Kernel rows that fall into
// the padding are skipped, so the subtracted sum is built from per-row weight sums ("row sums", packed once
// per output channel and kernel row) over the rows read; padding columns read a row filled with z, whose
// products the row sums cancel. Then, in fp32, per output channel o:
//   y = fma(float(acc), s * sw[o], bias[o]),  the ReLU,  and the result stored as a float, or quantised with
//   the next tensor's (s', z'): q' = nearbyint(clamp(y / s', -z', 255 - z')) + z', y / s' computed as
//   y * (1 / s'), the clamp in float (so a NaN or a value beyond int32 saturates instead of wrapping).
// int8 cannot hold NaN or infinity: a NaN becomes 0 - the bottom of the range - when it is quantised.
//
// Stored tensors: NHWC with the channel count rounded up to a multiple of 4 (`quad_channels`), the extra
// channels holding the zero point (their weights are zero, so their value never matters); a flat vector with
// its length rounded up to a multiple of 4. One 32-bit broadcast carries the quad (x[c] .. x[c + 3]) of
// adjacent channels and meets 16 output channels' weight quads in one vpdpbusd.
//
// conv_int8_kernel: the direct convolution of conv2d.hpp / conv_bf16_kernel (register tile of S pixels x NB
// vectors of output channels), the reduction over quads of (kw, c).
// dense_int8_kernel: the GEMV (batch 1: the weight stream, a quarter of fp32's bytes) and a register-blocked
// GEMM (8 rows x 32 outputs) reading a panel of input quads laid out [tile][quad][row].
//
// The scalar quantisation helpers are always available; the kernels only where TYPENET_HAS_VNNI
// (typenet/precision.hpp). cpu_has_vnni() checks the running CPU.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../precision.hpp"
#include "common.hpp"
#include "dense.hpp"  // epilogue tags, detail::with_rows

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

namespace typenet::kernels::simd {

/// Stored channels (or elements) for n logical ones: n rounded up to a multiple of 4.
constexpr int quad_channels(int n) { return (n + 3) / 4 * 4; }

/// The longest reduction (taps x channels, or dense inputs) whose exact result fits in int32: each of
/// sum q wq, z sum wq and sum (q - z) wq is at most 255 * 127 * n in magnitude, < 2^31 for n < 66311 (the
/// vector additions wrap modulo 2^32, so the order of the partial sums does not matter).
inline constexpr int max_reduction = 66000;

/// Whether the running CPU executes AVX512_VNNI (CPUID leaf 7, EBX bit 30 AVX512BW, bit 31 AVX512VL, ECX
/// bit 11 AVX512_VNNI) and the OS saves the zmm state.
inline bool cpu_has_vnni() noexcept {
#if defined(__x86_64__) || defined(_M_X64)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool bw_vl = ((b >> 30) & 1u) && ((b >> 31) & 1u);
  const bool vnni = (c >> 11) & 1u;
  unsigned lo = 0, hi = 0;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return bw_vl && vnni && (lo & 0xe6u) == 0xe6u;
#else
  return false;
#endif
}

/// The quantisation of one activation tensor: x ~ scale * (q - zero).
struct act_quant {
  float scale = 1.0f;
  int zero = 0;
};

/// The u8 quantisation that covers [lo, hi] (widened to include 0, so that a zero - padding, a ReLU's
/// floor - is exact): scale = (hi - lo) / 255, zero = nearbyint(-lo / scale). A range of one point (all
/// zeros) gets scale 1. Non-finite bounds are the caller's error (calibration rejects them).
inline act_quant act_quant_for_range(float lo, float hi) noexcept {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  act_quant q;
  if (hi - lo > 0) q.scale = (hi - lo) / 255.0f;
  q.zero = static_cast<int>(std::clamp(std::nearbyint(-lo / q.scale), 0.0f, 255.0f));
  return q;
}

/// q = nearbyint(clamp(x * inv_scale, -zero, 255 - zero)) + zero: what every kernel stores (NaN -> 0).
inline std::uint8_t quantize_u8(float x, float inv_scale, int zero) noexcept {
  float t = x * inv_scale;
  if (!(t >= float(-zero))) t = float(-zero);  // NaN too
  if (t > float(255 - zero)) t = float(255 - zero);
  return static_cast<std::uint8_t>(static_cast<int>(std::nearbyint(t)) + zero);
}

/// The scale of one output channel's weights: max |w| / 127 (1 where all are zero). A non-finite weight
/// makes it non-finite; the int8 program checks the weights before it quantises them.
inline float weight_scale(const float* w, std::size_t n) noexcept {
  float m = 0;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, std::abs(w[i]));
  return m > 0 ? m / 127.0f : 1.0f;
}
/// wq = nearbyint(clamp(w * inv_scale, -127, 127)).
inline std::int8_t quantize_s8(float w, float inv_scale) noexcept {
  const float t = std::clamp(w * inv_scale, -127.0f, 127.0f);
  return static_cast<std::int8_t>(std::nearbyint(t));
}

/// The fp32 epilogue of every int8 kernel, in scalar form (tests and the vector code agree bit for bit):
/// y = fma(float(acc), mul, bias).
inline float int8_dequantize_acc(std::int32_t acc, float mul, float bias) noexcept {
  return std::fma(static_cast<float>(acc), mul, bias);
}

/// How an int8 kernel stores its fp32 results: as floats, or quantised (inv_scale = 1 / s', zero = z').
struct out_quant {
  float inv_scale = 1.0f;
  int zero = 0;
};

/// The out_quant that stores with a's scale and zero point.
inline out_quant out_quant_of(const act_quant& a) noexcept { return {1.0f / a.scale, a.zero}; }

/// The clamp of a u8 output that holds both the epilogue's activation and the u8 range, in the scaled
/// domain t = value / s' + z' (the int8 kernels' out_stage): [lo, hi].
template <class Epilogue>
inline float requant_low(const out_quant& q) noexcept {
  return std::is_same_v<Epilogue, epilogue_none> ? 0.0f : float(q.zero);
}
template <class Epilogue>
inline float requant_high(const out_quant& q) noexcept {
  return std::is_same_v<Epilogue, epilogue_relu6> ? std::min(255.0f, std::fma(6.0f, q.inv_scale, float(q.zero)))
                                                  : 255.0f;
}
/// What the int8 conv and dense kernels store for a u8 output, in scalar form (the vector code agrees bit
/// for bit): t = fma(float(acc), mul / s', fma(bias, 1 / s', z')) [then fma(float(r - rz), rs / s', t) with
/// a residual], q = nearbyint(min(max(t, lo), hi)), NaN -> 0.
template <class Epilogue>
inline std::uint8_t requantize_u8(float t, const out_quant& q) noexcept {
  if (t != t) return 0;
  return static_cast<std::uint8_t>(
      std::nearbyint(std::min(std::max(t, requant_low<Epilogue>(q)), requant_high<Epilogue>(q))));
}

#if TYPENET_HAS_VNNI

namespace int8_detail {
/// acc + the dot products of u8 quads of x and s8 quads of w, the accumulator held as int lanes: g++ 12
/// spilled a tile of __m512i accumulators (their 64-bit lane type differs from vpdpbusd's) on every step.
TYPENET_ALWAYS_INLINE __v16si dot4(__v16si acc, __m512i x, __m512i w) noexcept {
  return __v16si(_mm512_dpbusd_epi32(__m512i(acc), x, w));
}

constexpr __mmask16 all = 0xffff;

using avx512::first_lanes;

/// The 32-bit quad at p (four u8 values), broadcast to all 16 lanes.
TYPENET_ALWAYS_INLINE __m512i broadcast_quad(const std::uint8_t* p) noexcept {
  std::uint32_t u;
  std::memcpy(&u, p, sizeof u);
  return _mm512_set1_epi32(static_cast<int>(u));
}

/// The first n (0..16) lanes of v stored at p, quantised with q (see quantize_u8).
TYPENET_ALWAYS_INLINE void store_first(__m512 v, std::uint8_t* p, int n, const out_quant& q) noexcept {
  // (The zero-masking forms throughout: GCC 12's unmasked ones start from an "undefined" register that
  // -Wmaybe-uninitialized reports.)
  __m512 t = _mm512_mul_ps(v, _mm512_set1_ps(q.inv_scale));
  // max(t, lo) returns lo when t is NaN (the second operand), as quantize_u8 does.
  t = _mm512_maskz_max_ps(all, t, _mm512_set1_ps(float(-q.zero)));
  t = _mm512_maskz_min_ps(all, t, _mm512_set1_ps(float(255 - q.zero)));
  const __m512i i = _mm512_add_epi32(_mm512_maskz_cvtps_epi32(all, t), _mm512_set1_epi32(q.zero));  // nearest even
  _mm_mask_storeu_epi8(p, first_lanes(n), _mm512_maskz_cvtepi32_epi8(all, i));
}

/// t (in the scaled domain of out_stage<u8>) clamped to [lo, hi], rounded to nearest even and its first n
/// (0..16) lanes stored as u8. max(lo, t) and min(hi, t) return t when it is NaN (the second operand); its
/// conversion is INT_MIN, whose low byte is 0.
TYPENET_ALWAYS_INLINE void store_clamped(__m512 t, __m512 lo, __m512 hi, std::uint8_t* p, int n) noexcept {
  t = _mm512_maskz_min_ps(all, hi, _mm512_maskz_max_ps(all, lo, t));
  _mm_mask_storeu_epi8(p, first_lanes(n), _mm512_maskz_cvtepi32_epi8(all, _mm512_maskz_cvtps_epi32(all, t)));
}

/// How the conv and dense kernels end: the activation and the store of one output type. Built once per run
/// from the output's quantisation; fold() adjusts a block's per-channel constants once, so that the work
/// per stored vector is fma, activation and store.
template <class Epilogue, class Out>
struct out_stage;

/// fp32 outputs: y = Epilogue(v); the constants are used as packed.
template <class Epilogue>
struct out_stage<Epilogue, float> {
  explicit out_stage(const out_quant&) noexcept {}
  TYPENET_ALWAYS_INLINE void fold(__m512&, __m512&) const noexcept {}
  TYPENET_ALWAYS_INLINE __m512 fold_scale(__m512 s) const noexcept { return s; }
  TYPENET_ALWAYS_INLINE void store(__m512 v, float* p, int n) const noexcept {
    _mm512_mask_storeu_ps(p, first_lanes(n), avx512::activation<Epilogue>(v));
  }
};

/// u8 outputs: the output's scale s' and zero point z' folded into the constants (mul / s', bias / s' + z',
/// a residual's scale / s'), so that the sum arrives as t = value / s' + z' (value: before the activation), and
/// the activation and the u8 range become one clamp: q = nearbyint(min(max(t, lo), hi)) with lo = z' under
/// ReLU and ReLU6 (else 0) and hi = min(255, 6 / s' + z') under ReLU6 (else 255); NaN stores 0.
/// requantize_u8 is the same in scalar form.
template <class Epilogue>
struct out_stage<Epilogue, std::uint8_t> {
  __m512 inv, zero, lo, hi;
  explicit out_stage(const out_quant& q) noexcept
      : inv(_mm512_set1_ps(q.inv_scale)),
        zero(_mm512_set1_ps(float(q.zero))),
        lo(_mm512_set1_ps(requant_low<Epilogue>(q))),
        hi(_mm512_set1_ps(requant_high<Epilogue>(q))) {}
  TYPENET_ALWAYS_INLINE void fold(__m512& mul, __m512& bias) const noexcept {
    mul = _mm512_mul_ps(mul, inv);
    bias = _mm512_fmadd_ps(bias, inv, zero);
  }
  TYPENET_ALWAYS_INLINE __m512 fold_scale(__m512 s) const noexcept { return _mm512_mul_ps(s, inv); }
  TYPENET_ALWAYS_INLINE void store(__m512 t, std::uint8_t* p, int n) const noexcept { store_clamped(t, lo, hi, p, n); }
};

/// y = Epilogue(fma(float(acc - comp), mul, bias)), stored by st (mul and bias folded by st.fold).
template <class Stage, class Out>
TYPENET_ALWAYS_INLINE void finish(__v16si acc, __m512i comp, __m512 mul, __m512 bias, Out* y, int n,
                                  const Stage& st) noexcept {
  st.store(_mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(all, _mm512_sub_epi32(__m512i(acc), comp)), mul, bias), y, n);
}

/// The residual join of finish: y = Epilogue(fma(float(r - rz), rs, fma(float(acc - comp), mul, bias))) with
/// r the first n u8 values at res (a residual quantised with scale rs and zero point rz; rs folded by
/// st.fold_scale).
template <class Stage, class Out>
TYPENET_ALWAYS_INLINE void finish_add(__v16si acc, __m512i comp, __m512 mul, __m512 bias, const std::uint8_t* res,
                                      __m512i rz, __m512 rs, Out* y, int n, const Stage& st) noexcept {
  const __m512 v = _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(all, _mm512_sub_epi32(__m512i(acc), comp)), mul, bias);
  const __m512i r = _mm512_maskz_cvtepu8_epi32(all, _mm_maskz_loadu_epi8(first_lanes(n), res));
  st.store(_mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(all, _mm512_sub_epi32(r, rz)), rs, v), y, n);
}

}  // namespace int8_detail

/// u8 storage for the kernels templated on it (pool.hpp's max pool): the stored integers q loaded as floats
/// (exactly) and stored back from floats that hold integers in [0, 255] (a max of loaded values). A max of
/// values that share one scale and zero point is the quantised max, so no requantisation is needed.
template <>
struct elem_io<std::uint8_t> {
  template <class V>
  TYPENET_ALWAYS_INLINE static V load(const std::uint8_t* p) noexcept {
    static_assert(V::size == 16, "typenet: u8 storage needs 16-lane (AVX-512) float vectors");
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return V(_mm512_maskz_cvtepi32_ps(int8_detail::all, _mm512_maskz_cvtepu8_epi32(int8_detail::all, b)));
  }
  template <class V>
  TYPENET_ALWAYS_INLINE static V load_first(const std::uint8_t* p, int n) noexcept {
    static_assert(V::size == 16, "typenet: u8 storage needs 16-lane (AVX-512) float vectors");
    const __m128i b = _mm_maskz_loadu_epi8(int8_detail::first_lanes(n), p);
    return V(_mm512_maskz_cvtepi32_ps(int8_detail::all, _mm512_maskz_cvtepu8_epi32(int8_detail::all, b)));
  }
  template <class V>
  TYPENET_ALWAYS_INLINE static void store(V v, std::uint8_t* p) noexcept {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), narrow(v));
  }
  template <class V>
  TYPENET_ALWAYS_INLINE static void store_first(V v, std::uint8_t* p, int n) noexcept {
    _mm_mask_storeu_epi8(p, int8_detail::first_lanes(n), narrow(v));
  }

 private:
  template <class V>
  TYPENET_ALWAYS_INLINE static __m128i narrow(V v) noexcept {
    return _mm512_maskz_cvtepi32_epi8(int8_detail::all, _mm512_maskz_cvtps_epi32(int8_detail::all, __m512(v)));
  }
};

/// Quantised u8 storage for kernels that take an Io (depthwise.hpp): a stored q is loaded as the float q - zero
/// (exact), and the kernel's sums arrive already in the output's scaled domain t = value / s' + z', because
/// fold() put the input's scale s, 1 / s' and z' into the weights and biases: w s / s' and b / s' + z'. The
/// store then applies the epilogue and the u8 range as one clamp, as out_stage<u8> does for conv and dense
/// (requant_low / requant_high): 3 vector instructions per 16 outputs instead of a scale, an activation and a
/// second clamp.
struct u8_affine_io {
  static constexpr bool applies_epilogue = true;
  __m512 zero;                 ///< the input's zero point in every lane
  __m512 act_low, relu6_high;  ///< z' (ReLU and ReLU6's floor), min(255, 6 / s' + z')
  u8_affine_io(int input_zero, const out_quant& out) noexcept
      : zero(_mm512_set1_ps(float(input_zero))),
        act_low(_mm512_set1_ps(requant_low<epilogue_relu>(out))),
        relu6_high(_mm512_set1_ps(requant_high<epilogue_relu6>(out))) {}

  /// The packed kernel's weights (w, any layout) and biases (b) adjusted once: w *= in_scale / s',
  /// b = b / s' + z'.
  static void fold(std::vector<float>& w, std::vector<float>& b, float in_scale, const out_quant& out) {
    const float ws = in_scale * out.inv_scale;
    for (float& v : w) v *= ws;
    for (float& v : b) v = std::fma(v, out.inv_scale, float(out.zero));
  }

  template <class V>
  TYPENET_ALWAYS_INLINE V load(const std::uint8_t* p) const noexcept {
    return V(_mm512_sub_ps(__m512(elem_io<std::uint8_t>::load<V>(p)), zero));
  }
  template <class V>
  TYPENET_ALWAYS_INLINE V load_first(const std::uint8_t* p, int n) const noexcept {
    return V(_mm512_sub_ps(__m512(elem_io<std::uint8_t>::load_first<V>(p, n)), zero));
  }
  /// The first n lanes of t (a sum in the scaled domain), activated with Epilogue and stored as u8.
  template <class Epilogue, class V>
  TYPENET_ALWAYS_INLINE void store_first(V t, std::uint8_t* p, int n) const noexcept {
    const __m512 lo = std::is_same_v<Epilogue, epilogue_none> ? _mm512_setzero_ps() : act_low;
    const __m512 hi = std::is_same_v<Epilogue, epilogue_relu6> ? relu6_high : _mm512_set1_ps(255.0f);
    int8_detail::store_clamped(__m512(t), lo, hi, p, n);
  }
  template <class Epilogue, class V>
  TYPENET_ALWAYS_INLINE void store(V t, std::uint8_t* p) const noexcept {
    store_first<Epilogue>(t, p, 16);
  }
};

/// dst[i] = quantize_u8(src[i]) for i in [0, n).
inline void quantize_row(const float* src, std::uint8_t* dst, std::int64_t n, const act_quant& a) noexcept {
  const out_quant q = out_quant_of(a);
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) int8_detail::store_first(_mm512_loadu_ps(src + i), dst + i, 16, q);
  if (i < n) {
    const int r = int(n - i);
    int8_detail::store_first(_mm512_maskz_loadu_ps(int8_detail::first_lanes(r), src + i), dst + i, r, q);
  }
}

/// dst[i] = scale * (src[i] - zero) for i in [0, n) (exact up to the one rounding of the product).
inline void dequantize_row(const std::uint8_t* src, float* dst, std::int64_t n, const act_quant& a) noexcept {
  const __m512i z = _mm512_set1_epi32(a.zero);
  const __m512 s = _mm512_set1_ps(a.scale);
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = int8_detail::first_lanes(int(std::min<std::int64_t>(16, n - i)));
    const __m512i q =
        _mm512_sub_epi32(_mm512_maskz_cvtepu8_epi32(int8_detail::all, _mm_maskz_loadu_epi8(m, src + i)), z);
    _mm512_mask_storeu_ps(dst + i, m, _mm512_mul_ps(_mm512_maskz_cvtepi32_ps(int8_detail::all, q), s));
  }
}

/// `pixels` pixels of C floats (NHWC) -> stored u8 (quad_channels(C) per pixel, the extra channels the zero
/// point).
template <int C>
inline void quantize_pixels(const float* src, std::uint8_t* dst, std::int64_t pixels, const act_quant& a) noexcept {
  constexpr int Cs = quad_channels(C);
  if constexpr (Cs == C) {
    quantize_row(src, dst, pixels * C, a);
  } else {
    for (std::int64_t p = 0; p < pixels; ++p) {
      quantize_row(src + p * C, dst + p * Cs, C, a);
      std::memset(dst + p * Cs + C, a.zero, Cs - C);
    }
  }
}
/// The inverse: stored u8 pixels -> C floats per pixel, s (q - z).
template <int C>
inline void dequantize_pixels(const std::uint8_t* src, float* dst, std::int64_t pixels, const act_quant& a) noexcept {
  constexpr int Cs = quad_channels(C);
  if constexpr (Cs == C) {
    dequantize_row(src, dst, pixels * C, a);
  } else {
    for (std::int64_t p = 0; p < pixels; ++p) dequantize_row(src + p * Cs, dst + p * C, C, a);
  }
}

/// NCHW floats -> stored NHWC u8, images [begin, end).
template <int C, int H, int W>
inline void nchw_to_nhwc_u8(const float* in, std::uint8_t* out, std::int64_t begin, std::int64_t end,
                            const act_quant& a) noexcept {
  constexpr int Cs = quad_channels(C);
  constexpr std::size_t plane = std::size_t(H) * W;
  const float inv = 1.0f / a.scale;
  for (std::int64_t n = begin; n < end; ++n) {
    const float* x = in + std::size_t(n) * C * plane;
    std::uint8_t* y = out + std::size_t(n) * Cs * plane;
    for (std::size_t p = 0; p < plane; ++p) {
      for (int c = 0; c < C; ++c) y[p * Cs + c] = quantize_u8(x[c * plane + p], inv, a.zero);
      for (int c = C; c < Cs; ++c) y[p * Cs + c] = static_cast<std::uint8_t>(a.zero);
    }
  }
}

/// The packed weights of an int8 layer: s8 weights in the kernel's order; per output channel (in blocks,
/// zero past the layer's outputs) the weight sums the zero point multiplies (per kernel row for a
/// convolution), mul = s * sw[o] and the fp32 bias.
struct int8_weights {
  const std::int8_t* w;
  const std::int32_t* sums;
  const float* mul;
  const float* bias;
};

/// The direct convolution over u8 x s8 quads (see the top of this file). Geo: conv_geometry (conv2d.hpp).
/// Out: float, or std::uint8_t (stored layout, quad_channels(F) per pixel, the extra channels z').
template <class Geo, class Out>
struct conv_int8_kernel {
  static constexpr int V = 16;
  static constexpr int C = Geo::c, H = Geo::h, W = Geo::w, F = Geo::f, OH = Geo::oh, OW = Geo::ow;
  static constexpr int KH = Geo::kh, KW = Geo::kw, SH = Geo::sh, SW = Geo::sw, PH = Geo::ph, PW = Geo::pw;
  static constexpr int G = Geo::g, Cg = Geo::cg, Fg = Geo::fg;
  static_assert(G == 1 || Cg % 4 == 0,
                "typenet: conv_int8_kernel: a grouped convolution needs a multiple of 4 channels per group");
  static constexpr int Cs = quad_channels(C);   ///< input channels per stored pixel
  static constexpr int Cgs = G == 1 ? Cs : Cg;  ///< stored input channels of one group
  static_assert(KH * KW * Cgs <= max_reduction, "typenet: conv_int8_kernel: the reduction could overflow int32");
  /// Output channels per pixel: F floats, or the stored count of u8 values.
  static constexpr int Fs = std::is_same_v<Out, float> ? F : quad_channels(F);

  static constexpr int NB = (Fg % (3 * V) == 0) ? 3 : (Fg % (2 * V) == 0) ? 2 : (Fg >= 3 * V) ? 3 : ceil_div(Fg, V);
  static constexpr int B = NB * V;
  static constexpr int blocks = ceil_div(Fg, B);
  static constexpr int max_tile = NB == 3 ? 8 : NB == 2 ? 12 : 16;
  static constexpr int tiles = ceil_div(OW, max_tile);
  static constexpr int tile = ceil_div(OW, tiles);
  static constexpr int last_tile = OW - (tiles - 1) * tile;

  /// Bytes of one block: [KH][KW][Cgs / 4][B][4].
  static constexpr std::size_t block_bytes = std::size_t{KH} * KW * Cgs * B;
  static constexpr std::size_t packed_bytes = std::size_t{G} * blocks * block_bytes;
  static constexpr std::size_t sum_ints = std::size_t{G} * blocks * KH * B;   ///< row sums [block][KH][B]
  static constexpr std::size_t channel_floats = std::size_t{G} * blocks * B;  ///< mul, bias
  static constexpr std::size_t pad_bytes = Cgs;  ///< the row (of the input's zero point) padding taps read

  /// Packs PyTorch weights [F][C/G][KH][KW] and bias [F], for an input quantised with scale in_scale.
  /// Channels past C/G (stored padding) and outputs past F/G get zero weights.
  TYPENET_NO_VECTORIZE static void pack(const float* w, const float* bias, float in_scale, std::int8_t* packed,
                                        std::int32_t* sums, float* mul, float* packed_bias) {
    constexpr std::size_t per_output = std::size_t{Cg} * KH * KW;
    for (int g = 0; g < G; ++g)
      for (int ob = 0; ob < blocks; ++ob) {
        const std::size_t gb = std::size_t(g) * blocks + ob;
        std::int8_t* pb = packed + gb * block_bytes;
        for (int j = 0; j < B; ++j) {
          const int oc = ob * B + j;
          const bool real = oc < Fg;
          const float* wo = real ? w + std::size_t(g * Fg + oc) * per_output : nullptr;
          const float sw = real ? weight_scale(wo, per_output) : 1.0f;
          for (int kh = 0; kh < KH; ++kh) {
            std::int32_t row = 0;
            for (int kw = 0; kw < KW; ++kw)
              for (int ic = 0; ic < Cgs; ++ic) {
                const std::size_t quad = (std::size_t(kh) * KW + kw) * (Cgs / 4) + ic / 4;
                const std::int8_t q =
                    real && ic < Cg ? quantize_s8(wo[(std::size_t(ic) * KH + kh) * KW + kw], 1.0f / sw) : 0;
                pb[(quad * B + j) * 4 + ic % 4] = q;
                row += q;
              }
            sums[(gb * KH + kh) * B + j] = row;
          }
          mul[gb * B + j] = real ? in_scale * sw : 0.0f;
          packed_bias[gb * B + j] = real ? bias[g * Fg + oc] : 0.0f;
        }
      }
  }

  static constexpr std::int64_t items(int batch) { return std::int64_t{G} * blocks * batch * OH; }

  /// Items [begin, end) of a batch: out = Epilogue(conv(in) + bias [+ residual]) in the stored NHWC layouts.
  /// in_zero: the input's zero point, which `pad` (pad_bytes) must hold; q: the output's quantisation (u8
  /// Out). With Add, res holds the residual in the stored u8 layout of the output (quad_channels(F) per
  /// pixel), quantised as rq; it is dequantised and added before the activation.
  template <class Epilogue, bool Add = false>
  static void run(const int8_weights& k, const std::uint8_t* in, int in_zero, Out* out, const out_quant& q,
                  const std::uint8_t* pad, int batch, std::int64_t begin, std::int64_t end,
                  const std::uint8_t* res = nullptr, const act_quant& rq = {}) {
    const std::int64_t rows = std::int64_t{batch} * OH;
    const int8_detail::out_stage<Epilogue, Out> st(q);
    for (std::int64_t i = begin; i < end; ++i) {
      const int gb = static_cast<int>(i / rows);
      const int r = static_cast<int>(i % rows);
      const int n = r / OH, oh = r % OH;
      const int g = gb / blocks, ob = gb % blocks;
      const std::int8_t* w = k.w + std::size_t(gb) * block_bytes;
      const std::uint8_t* x = in + std::size_t(n) * H * W * Cs + std::size_t(g) * Cg;
      Out* y = out + (std::size_t(n) * OH + oh) * OW * Fs + std::size_t(g) * Fg + std::size_t(ob) * B;
      epi_t e;
      if constexpr (Add) {
        e.res = res + (std::size_t(n) * OH + oh) * OW * Rs + std::size_t(g) * Fg + std::size_t(ob) * B;
        e.rz = _mm512_set1_epi32(rq.zero);
        e.rs = st.fold_scale(_mm512_set1_ps(rq.scale));
      }
      const int ih0 = oh * SH - PH;
      const int kh0 = std::max(0, -ih0), kh1 = std::min(KH, H - ih0);
      // The zero point times the weights of the rows read, and the per-channel constants.
      const std::int32_t* sums = k.sums + std::size_t(gb) * KH * B;
      const __m512i z = _mm512_set1_epi32(in_zero);
      static_for<NB>([&](auto b) {
        __m512i s = _mm512_setzero_si512();
        for (int kh = kh0; kh < kh1; ++kh) s = _mm512_add_epi32(s, _mm512_loadu_si512(sums + kh * B + b * V));
        e.comp[b] = _mm512_mullo_epi32(s, z);
        e.mul[b] = _mm512_loadu_ps(k.mul + std::size_t(gb) * B + b * V);
        e.bias[b] = _mm512_loadu_ps(k.bias + std::size_t(gb) * B + b * V);
        st.fold(e.mul[b], e.bias[b]);
      });
      // Channels this block stores: with one group the stored padding channels too (zero weights and
      // bias: they store z').
      const int valid = std::min(B, (G == 1 ? Fs : Fg) - ob * B);
      for (int t = 0; t < tiles; ++t) {
        const int ow0 = t * tile;
        if (t + 1 < tiles) {
          if (all_interior || interior(ow0, tile))
            tile_kernel<tile, true, Add>(w, e, x, y, st, ih0, kh0, kh1, ow0, pad, valid);
          else if constexpr (!all_interior)
            tile_kernel<tile, false, Add>(w, e, x, y, st, ih0, kh0, kh1, ow0, pad, valid);
        } else {
          if (all_interior || interior(ow0, last_tile))
            tile_kernel<last_tile, true, Add>(w, e, x, y, st, ih0, kh0, kh1, ow0, pad, valid);
          else if constexpr (!all_interior)
            tile_kernel<last_tile, false, Add>(w, e, x, y, st, ih0, kh0, kh1, ow0, pad, valid);
        }
      }
    }
  }

 private:
  /// Stored channels per pixel of a residual (the u8 output layout).
  static constexpr int Rs = quad_channels(F);
  struct epi_t {
    __m512i comp[NB];
    __m512 mul[NB], bias[NB];
    const std::uint8_t* res = nullptr;  ///< the residual at this block of the row (Add)
    __m512i rz;
    __m512 rs;
  };
  static constexpr bool all_interior = PW == 0 && (OW - 1) * SW + KW <= W;
  static constexpr bool interior(int ow0, int s) { return ow0 * SW - PW >= 0 && (ow0 + s - 1) * SW - PW + KW <= W; }

  // acc[p][b] += quads of x[p * Stride + 4r .. +3] . w[r][b] for r in [0, Quads).
  template <int S, int Stride, int Quads>
  TYPENET_ALWAYS_INLINE static void accumulate_run(__v16si (&acc)[S][NB], const std::uint8_t* x, const std::int8_t* w) {
    for (int r = 0; r < Quads; ++r) {
      __m512i wv[NB];
      static_for<NB>([&](auto b) { wv[b] = _mm512_load_si512(w + (r * B + b * V) * 4); });
      static_for<S>([&](auto p) {
        const __m512i xv = int8_detail::broadcast_quad(x + p * Stride + 4 * r);
        static_for<NB>([&](auto b) { acc[p][b] = int8_detail::dot4(acc[p][b], xv, wv[b]); });
      });
    }
  }

  template <int S>
  TYPENET_ALWAYS_INLINE static void accumulate_ptrs(__v16si (&acc)[S][NB], const std::uint8_t* const (&x)[S],
                                                    const std::int8_t* w) {
    for (int r = 0; r < Cgs / 4; ++r) {
      __m512i wv[NB];
      static_for<NB>([&](auto b) { wv[b] = _mm512_load_si512(w + (r * B + b * V) * 4); });
      static_for<S>([&](auto p) {
        const __m512i xv = int8_detail::broadcast_quad(x[p] + 4 * r);
        static_for<NB>([&](auto b) { acc[p][b] = int8_detail::dot4(acc[p][b], xv, wv[b]); });
      });
    }
  }

  template <int S, bool Interior, bool Add, class Stage>
  static void tile_kernel(const std::int8_t* w, const epi_t& e, const std::uint8_t* x, Out* y, const Stage& st, int ih0,
                          int kh0, int kh1, int ow0, const std::uint8_t* pad, int valid) {
    __v16si acc[S][NB];
    static_for<S>([&](auto p) { static_for<NB>([&](auto b) { acc[p][b] = __v16si{}; }); });
    for (int kh = kh0; kh < kh1; ++kh) {
      const std::int8_t* wk = w + std::size_t(kh) * KW * Cgs * B;
      const std::uint8_t* xr = x + std::size_t(ih0 + kh) * W * Cs;
      if constexpr (Interior) {
        const std::uint8_t* xp = xr + std::size_t(ow0 * SW - PW) * Cs;
        if constexpr (G == 1) {
          accumulate_run<S, SW * Cs, KW * Cs / 4>(acc, xp, wk);
        } else {
          for (int kw = 0; kw < KW; ++kw)
            accumulate_run<S, SW * Cs, Cgs / 4>(acc, xp + kw * Cs, wk + std::size_t(kw) * Cgs * B);
        }
      } else {
        for (int kw = 0; kw < KW; ++kw) {
          const std::uint8_t* ptr[S];
          static_for<S>([&](auto p) {
            const int iw = (ow0 + p) * SW - PW + kw;
            ptr[p] = (iw >= 0 && iw < W) ? xr + std::size_t(iw) * Cs : pad;
          });
          accumulate_ptrs<S>(acc, ptr, wk + std::size_t(kw) * Cgs * B);
        }
      }
    }
    static_for<S>([&](auto p) {
      Out* yp = y + std::size_t(ow0 + p) * Fs;
      static_for<NB>([&](auto b) {
        if constexpr (Add)
          int8_detail::finish_add(acc[p][b], e.comp[b], e.mul[b], e.bias[b], e.res + std::size_t(ow0 + p) * Rs + b * V,
                                  e.rz, e.rs, yp + b * V, valid - int(b) * V, st);
        else
          int8_detail::finish(acc[p][b], e.comp[b], e.mul[b], e.bias[b], yp + b * V, valid - int(b) * V, st);
      });
    });
  }
};

/// The dense layer over u8 x s8 quads. In: stored inputs per row (a multiple of 4); Out: outputs; OutT:
/// float or std::uint8_t (a u8 output row holds quad_channels(Out) values, the extra ones z').
template <int In, int Out, class OutT>
struct dense_int8_kernel {
  static_assert(In % 4 == 0, "typenet: dense_int8_kernel: the stored input length is a multiple of 4");
  static_assert(In <= max_reduction, "typenet: dense_int8_kernel: the reduction could overflow int32");
  static constexpr int In4 = In / 4;  ///< quads per row
  static constexpr int block = 32;    ///< outputs per packed block (two vectors)
  static constexpr int blocks = ceil_div(Out, block);
  static constexpr int Outs = std::is_same_v<OutT, float> ? Out : quad_channels(Out);
  static constexpr int tile_rows = 8;
  static constexpr std::size_t packed_bytes = std::size_t(blocks) * block * In;
  static constexpr std::size_t channel_floats = std::size_t(blocks) * block;  ///< mul, bias, sums
  /// 32-bit quads of the GEMM's input panel for `batch` rows.
  static constexpr std::size_t panel_quads(int batch) {
    return std::size_t(ceil_div(batch, tile_rows)) * tile_rows * In4;
  }

  /// w[Out][In] in the stored input order (the padding columns zero), bias[Out], for an input quantised
  /// with scale in_scale.
  TYPENET_NO_VECTORIZE static void pack(const float* w, const float* bias, float in_scale, std::int8_t* packed,
                                        std::int32_t* sums, float* mul, float* packed_bias) {
    for (int blk = 0; blk < blocks; ++blk)
      for (int j = 0; j < block; ++j) {
        const int o = blk * block + j;
        const bool real = o < Out;
        const float* wo = real ? w + std::size_t(o) * In : nullptr;
        const float sw = real ? weight_scale(wo, In) : 1.0f;
        std::int32_t sum = 0;
        for (int i = 0; i < In; ++i) {
          const std::int8_t q = real ? quantize_s8(wo[i], 1.0f / sw) : 0;
          packed[((std::size_t(blk) * In4 + i / 4) * block + j) * 4 + i % 4] = q;
          sum += q;
        }
        sums[o] = sum;
        mul[o] = real ? in_scale * sw : 0.0f;
        packed_bias[o] = real ? bias[o] : 0.0f;
      }
  }

  static constexpr std::pair<int, int> part_blocks(int part, int parts) noexcept {
    return {int(std::int64_t(blocks) * part / parts), int(std::int64_t(blocks) * (part + 1) / parts)};
  }

  /// panel[(t * In4 + i) * tile_rows + r] = quad i of row t * tile_rows + r (0 past the batch), rows
  /// [row_begin, row_end).
  static void make_panel(const std::uint8_t* x, std::uint32_t* panel, int batch, int row_begin, int row_end) {
    for (int row = row_begin; row < row_end; ++row) {
      std::uint32_t* dst = panel + std::size_t(row / tile_rows) * In4 * tile_rows + row % tile_rows;
      if (row < batch) {
        const std::uint8_t* xr = x + std::size_t(row) * In;
        for (int i = 0; i < In4; ++i) std::memcpy(dst + std::size_t(i) * tile_rows, xr + 4 * i, 4);
      } else {
        for (int i = 0; i < In4; ++i) dst[std::size_t(i) * tile_rows] = 0;
      }
    }
  }

  /// y = Epilogue(w x + bias) for the output blocks of part `part` of `parts`. Batch 1 streams the weights
  /// from x; a larger batch reads the panel (make_panel over all rows first). in_zero: the input's zero
  /// point; q: the output's quantisation (u8 OutT).
  template <class Epilogue>
  static void run(const int8_weights& k, int in_zero, const std::uint8_t* x, const std::uint32_t* panel, OutT* y,
                  const out_quant& q, int batch, int part, int parts) {
    const auto [first, last] = part_blocks(part, parts);
    const __m512i z = _mm512_set1_epi32(in_zero);
    const int8_detail::out_stage<Epilogue, OutT> st(q);
    for (int blk = first; blk < last; ++blk) {
      const std::int8_t* w = k.w + std::size_t(blk) * In * block;
      const int o = blk * block;
      const int valid = std::min(block, Outs - o);
      epi_t e;
      for (int h = 0; h < 2; ++h) {
        e.comp[h] = _mm512_mullo_epi32(_mm512_loadu_si512(k.sums + o + 16 * h), z);
        e.mul[h] = _mm512_loadu_ps(k.mul + o + 16 * h);
        e.bias[h] = _mm512_loadu_ps(k.bias + o + 16 * h);
        st.fold(e.mul[h], e.bias[h]);
      }
      if (batch == 1) {
        gemv_block(w, e, x, y + o, valid, st);
      } else {
        for (int t = 0; t * tile_rows < batch; ++t) {
          const int rows = std::min(tile_rows, batch - t * tile_rows);
          const std::uint32_t* xp = panel + std::size_t(t) * In4 * tile_rows;
          OutT* yt = y + std::size_t(t) * tile_rows * Outs + o;
          detail::with_rows<tile_rows>(rows, [&]<int R>() { tile<R>(w, e, xp, yt, valid, st); });
        }
      }
    }
  }

 private:
  struct epi_t {
    __m512i comp[2];
    __m512 mul[2], bias[2];
  };

  template <class Stage>
  static void gemv_block(const std::int8_t* w, const epi_t& e, const std::uint8_t* x, OutT* y, int valid,
                         const Stage& st) {
    __v16si a0{}, a1{}, a2{}, a3{};
    int i = 0;
    for (; i + 2 <= In4; i += 2) {
      const std::int8_t* wi = w + std::size_t(i) * block * 4;
      const __m512i x0 = int8_detail::broadcast_quad(x + 4 * i), x1 = int8_detail::broadcast_quad(x + 4 * i + 4);
      a0 = int8_detail::dot4(a0, x0, _mm512_loadu_si512(wi));
      a1 = int8_detail::dot4(a1, x0, _mm512_loadu_si512(wi + 64));
      a2 = int8_detail::dot4(a2, x1, _mm512_loadu_si512(wi + 128));
      a3 = int8_detail::dot4(a3, x1, _mm512_loadu_si512(wi + 192));
    }
    if constexpr (In4 % 2 != 0) {
      const std::int8_t* wi = w + std::size_t(In4 - 1) * block * 4;
      const __m512i x0 = int8_detail::broadcast_quad(x + In - 4);
      a0 = int8_detail::dot4(a0, x0, _mm512_loadu_si512(wi));
      a1 = int8_detail::dot4(a1, x0, _mm512_loadu_si512(wi + 64));
    }
    int8_detail::finish(a0 + a2, e.comp[0], e.mul[0], e.bias[0], y, valid, st);
    int8_detail::finish(a1 + a3, e.comp[1], e.mul[1], e.bias[1], y + 16, valid - 16, st);
  }

  template <int R, class Stage>
  static void tile(const std::int8_t* w, const epi_t& e, const std::uint32_t* xp, OutT* y, int valid, const Stage& st) {
    __v16si acc[R][2];
    static_for<R>([&](auto r) { acc[r][0] = acc[r][1] = __v16si{}; });
    for (int i = 0; i < In4; ++i) {
      const __m512i w0 = _mm512_loadu_si512(w + std::size_t(i) * block * 4);
      const __m512i w1 = _mm512_loadu_si512(w + std::size_t(i) * block * 4 + 64);
      static_for<R>([&](auto r) {
        const __m512i xv = _mm512_set1_epi32(static_cast<int>(xp[i * tile_rows + r]));
        acc[r][0] = int8_detail::dot4(acc[r][0], xv, w0);
        acc[r][1] = int8_detail::dot4(acc[r][1], xv, w1);
      });
    }
    static_for<R>([&](auto r) {
      OutT* yr = y + std::size_t(r) * Outs;
      int8_detail::finish(acc[r][0], e.comp[0], e.mul[0], e.bias[0], yr, valid, st);
      int8_detail::finish(acc[r][1], e.comp[1], e.mul[1], e.bias[1], yr + 16, valid - 16, st);
    });
  }
};

#endif  // TYPENET_HAS_VNNI

}  // namespace typenet::kernels::simd
