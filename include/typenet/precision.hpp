// typenet/precision.hpp: the number formats a policy can compute in, as types.
//
//   tn::exec::simd<xsimd::avx512bw, tn::precision::bf16> policy;   // bf16 weights and activations
//
// Precision is part of the policy type, never a run-time switch inside a kernel: a program for another
// precision is another program, compiled for its shapes like the fp32 one. What each format means:
//   f32   IEEE single precision everywhere (the default, and the boundary contract of every policy).
//   bf16  weights packed to bfloat16 when the model is built, activations stored in bfloat16 between fused
//         stages, products summed in fp32 (AVX512_BF16's vdpbf16ps); input and output stay fp32 NCHW.
//   int8  8-bit weights (s8, per output channel scales) and activations (u8, per tensor scale and zero point),
//         int32 sums (AVX512_VNNI vpdpbusd): the kernels exist (kernels/simd/int8.hpp), the program does not yet.
#pragma once

namespace typenet::precision {

struct f32 {
  static constexpr const char* name = "f32";
};
struct bf16 {
  static constexpr const char* name = "bf16";
};
struct int8 {
  static constexpr const char* name = "int8";
};

}  // namespace typenet::precision

namespace typenet::exec {

/// The range of one tensor's values over calibration inputs (exec::calibrate in exec/simd/int8.hpp), which
/// the int8 program maps onto u8 (kernels::simd::act_quant_for_range).
struct tensor_range {
  float lo = 0.0f;
  float hi = 0.0f;
};

}  // namespace typenet::exec

/// Whether this translation unit is compiled with the instructions the bf16 kernels use (AVX512_BF16 and
/// AVX512BW, e.g. -march=native on Zen 4 or Sapphire Rapids, or -mavx512bf16 -mavx512bw -mavx512vl).
#if defined(__AVX512BF16__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define TYPENET_HAS_BF16 1
#else
#define TYPENET_HAS_BF16 0
#endif

/// Whether this translation unit is compiled with the instructions the int8 kernels use (AVX512_VNNI with
/// AVX512BW and AVX512VL, e.g. -march=native on Zen 4, Ice Lake or later Xeons).
#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define TYPENET_HAS_VNNI 1
#else
#define TYPENET_HAS_VNNI 0
#endif
