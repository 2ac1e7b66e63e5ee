// typenet/kernels/simd/common.hpp: small helpers shared by the SIMD kernels.
#pragma once
#include <cstdint>
#include <type_traits>
#include <utility>

#include <xsimd/xsimd.hpp>

#if defined(__GNUC__)
#define TYPENET_ALWAYS_INLINE inline __attribute__((always_inline))
/// After a lambda's parameter list: the lambda's body is inlined into static_for (g++ 12 otherwise calls
/// a large loop body out of line and keeps its register tile on the stack).
#define TYPENET_INLINE_LAMBDA __attribute__((always_inline))
#else
#define TYPENET_ALWAYS_INLINE inline
#define TYPENET_INLINE_LAMBDA
#endif

/// Before a loop over a register tile's pixels, rows or vectors (a small constant trip count): unrolled
/// completely at -O2, so that the tile's accumulators live in registers. It compiles faster than static_for,
/// which instantiates a lambda per index (measured on ResNet-50's exec::simd translation unit:
/// docs/compile-time.md); static_for stays where the index must be a constant expression.
#if defined(__clang__)
#define TYPENET_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define TYPENET_UNROLL _Pragma("GCC unroll 32")
#else
#define TYPENET_UNROLL
#endif

#if defined(__GNUC__) && !defined(__clang__)
/// On a weight-packing function that runs once per model: no loop vectorisation. g++ 12.2's -O3 loop
/// vectoriser mis-compiled conv_bf16_kernel::pack's loop over input channels for short channel counts (a
/// 1x1 convolution from 6 or 8 channels got its weights shifted between output channels; tests in
/// bf16_test.cpp); nothing is lost, the loop is not in the timed path.
#define TYPENET_NO_VECTORIZE __attribute__((optimize("no-tree-loop-vectorize")))
#else
#define TYPENET_NO_VECTORIZE
#endif

namespace typenet::kernels::simd {

namespace detail {
template <class F, int... I>
TYPENET_ALWAYS_INLINE void static_for_each(F& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
}  // namespace detail

/// Calls f(std::integral_constant<int, I>{}) for I = 0 .. N-1, unrolled at compile time. The fold is a
/// function marked always-inline rather than a lambda: g++ 12 kept a lambda's fold out of line in the
/// 12-pixel tile kernel of ResNet-50's 64 -> 256 1x1 convolutions (perf: an out-of-line static_for<12, ...>
/// was the hottest symbol), so the accumulators went through memory on every multiply-add.
template <int N, class F>
TYPENET_ALWAYS_INLINE void static_for(F&& f) {
  detail::static_for_each(f, std::make_integer_sequence<int, N>{});
}

/// The lanes of x that hold NaN. Not x != x: xsimd 8.1 compiles that to an ordered compare on AVX and
/// AVX-512 (_CMP_NEQ_OQ, false when either side is NaN), and its xsimd::isnan has no AVX-512 kernel.
/// x == x is ordered too, so its negation is true exactly for NaN on every architecture.
template <class Batch>
TYPENET_ALWAYS_INLINE auto is_nan(const Batch& x) {
  return !(x == x);
}

/// max(a, b) and min(a, b) as x86's maxps / minps: b when either is NaN. xsimd::max spells the AVX-512
/// form as _mm512_max_ps, whose masked-off source is _mm512_undefined_ps(); GCC 12 reports that as
/// "'__Y' may be used uninitialized" (-Werror) once it is inlined deep into a kernel. The masked form with
/// every lane set and b as the source compiles to the same single vmaxps / vminps without it.
template <class Batch>
TYPENET_ALWAYS_INLINE Batch max_nan_second(const Batch& a, const Batch& b) {
#if defined(__AVX512F__)
  if constexpr (sizeof(Batch) == 64 && std::is_same_v<typename Batch::value_type, float>)
    return _mm512_mask_max_ps(b, __mmask16(0xFFFF), a, b);
  else
#endif
    return xsimd::max(a, b);
}

template <class Batch>
TYPENET_ALWAYS_INLINE Batch min_nan_second(const Batch& a, const Batch& b) {
#if defined(__AVX512F__)
  if constexpr (sizeof(Batch) == 64 && std::is_same_v<typename Batch::value_type, float>)
    return _mm512_mask_min_ps(b, __mmask16(0xFFFF), a, b);
  else
#endif
    return xsimd::min(a, b);
}

/// max(0, x) that keeps NaN: x86's maxps returns its second operand when either is NaN, so x goes second
/// (max(x, 0) would turn a NaN into 0). One instruction; a select on x < 0 took two, and ReLU6 as two selects
/// five on AVX2 (docs/performance.md, 2026-12-07). The stand-alone ReLU and every kernel's epilogue use it.
template <class Batch>
TYPENET_ALWAYS_INLINE Batch relu_keep_nan(const Batch& x) {
  return max_nan_second(Batch(0.f), x);
}

constexpr int ceil_div(int a, int b) { return (a + b - 1) / b; }

/// Vector registers a kernel can keep its register tile in: 32 with AVX-512, 16 with AVX2 and narrower. A
/// tile of accumulators larger than the register file spills to the stack inside the inner loop.
template <class Arch>
inline constexpr int vector_registers = xsimd::batch<float, Arch>::size >= 16 ? 32 : 16;

/// Holds v in a vector register from here on. A value loaded once and used by several FMAs is otherwise
/// often folded by g++ into each of them as a memory operand: with AVX2's 16 registers the 4-pixel x
/// 3-vector conv tile then did 12 weight loads and 4 broadcasts per 12 FMAs, and Zen 3 does two vector loads
/// a cycle, so the loads (8 cycles) and not the FMAs (6) set its pace (docs/performance.md, 2026-12-07).
/// The empty asm statement says the register is read and written, which the compiler cannot see through.
/// For xmm and ymm registers (the "x" constraint); a wider batch is left as it is.
template <class Batch>
TYPENET_ALWAYS_INLINE void pin_register(Batch& v) noexcept {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  if constexpr (sizeof(v.data) <= 32) asm("" : "+x"(v.data));
#else
  (void)v;
#endif
}

}  // namespace typenet::kernels::simd
