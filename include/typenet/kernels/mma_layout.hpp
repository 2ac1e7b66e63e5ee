// typenet/kernels/mma_layout.hpp: which elements of a tile each lane of a warp hands to the tensor cores'
// mma.sync.m16n8k16 with 16-bit operands (fp16 or bf16) and fp32 accumulators, and where the results land.
// exec::cuda's GEMM kernel (kernels/cuda/gemm.hpp) loads its fp16 and bf16 fragments by these rules;
// tests/unit/mma_layout.cpp checks them on the host against the PTX ISA's element tables and by emulating
// the product. Plain constexpr functions, host and device.
//
// A is 16 x 16 (rows m, columns k), B 16 x 8 (rows k, columns n), C/D 16 x 8. Each lane holds A in four
// 32-bit registers and B in two, each register two 16-bit elements: element 0 in the low half, element 1 in
// the high half, at neighbouring k. The accumulators are four floats per lane, as for the TF32 m16n8k8.
#pragma once
#include "../config.hpp"

namespace typenet::kernels::mma_k16 {

/// The row (m) of both elements of A register r (0..3) of `lane`.
TYPENET_HOST_DEVICE constexpr int a_row(int lane, int r) { return lane / 4 + (r & 1) * 8; }
/// The k of element `half` (0: low, 1: high) of A register r of `lane`.
TYPENET_HOST_DEVICE constexpr int a_k(int lane, int r, int half) { return (lane % 4) * 2 + half + (r >> 1) * 8; }
/// The k of element `half` of B register r (0..1) of `lane`.
TYPENET_HOST_DEVICE constexpr int b_k(int lane, int r, int half) { return (lane % 4) * 2 + half + r * 8; }
/// The column (n) of both elements of each B register of `lane`.
TYPENET_HOST_DEVICE constexpr int b_col(int lane) { return lane / 4; }
/// The row and column of accumulator i (0..3) of `lane`.
TYPENET_HOST_DEVICE constexpr int c_row(int lane, int i) { return lane / 4 + (i >> 1) * 8; }
TYPENET_HOST_DEVICE constexpr int c_col(int lane, int i) { return (lane % 4) * 2 + (i & 1); }

}  // namespace typenet::kernels::mma_k16
