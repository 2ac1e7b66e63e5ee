// typenet/kernels/cuda/gemm.hpp: conv2d (implicit GEMM) and dense (GEMM) kernels with a fused epilogue
// (bias, for a convolution optionally a residual added, then ReLU or ReLU6: nchw_ops.hpp's activate<Act>),
// generated from a layer's compile-time shape (nvcc only).
//
// Both layers are C[m, n] = sum_k A[m, k] * B[k, n]:
//   conv2d, per group g: m = output channel in the group, k = (input channel, kh, kw), n = (image, oh, ow);
//                        B is gathered from the NCHW input on the fly (no im2col buffer).
//   dense:               m = unit, k = input feature, n = image; B is read from the input transposed to
//                        [k][n] (transpose_kernel runs first when the batch is above 1), so that the 32
//                        lanes of a warp load 32 neighbouring values instead of 32 rows of the input.
// A (the weights) is repacked once, when the program is built, to [G][Kpad][Mpad] (k-major, zero padded
// to whole tiles), so tile loads of A are aligned float4 loads without bounds checks.
//
// Tiles (BM x BN, depth BK = 32) are constants chosen from the shape; each thread owns 8 x 8 outputs.
// Three shared-memory stages filled by cp.async (the gather of B zero-fills padding and edges), so two
// tiles are in flight while one is multiplied.
// Math: fp32 (FFMA, the default), tf32 (tensor cores, mma.sync m16n8k8, opt-in), tf32x3 (tensor cores
// with split operands, about fp32 accuracy, opt-in), fp16 or bf16 (tensor cores, mma.sync m16n8k16: each
// operand rounded to 16 bits as it leaves shared memory, fp32 accumulation, opt-in). Storage stays fp32
// in every mode: operands are rounded in registers, outputs written in fp32.
// When the grid would not fill the GPU (small batch, few output channels) the k range is split over
// blockIdx.z; each split writes a partial sum to a workspace and gemm_finish adds them, the bias, the
// residual and the activation.
// The epilogue stages the C tile through shared memory so that the global writes are coalesced.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "../../config.hpp"
#include "../mma_layout.hpp"
#include "../nchw_ops.hpp"

// Tuning knobs (define before including <typenet/cuda.hpp>): the k depth of a tile (8, 16 or 32) and the
// number of cp.async pipeline stages (2 to 4). The defaults were the fastest measured (docs/cuda.md).
#ifndef TYPENET_CUDA_GEMM_BK
#define TYPENET_CUDA_GEMM_BK 32
#endif
#ifndef TYPENET_CUDA_GEMM_STAGES
#define TYPENET_CUDA_GEMM_STAGES 3
#endif
// Blocks per multiprocessor the compiler must leave registers for (__launch_bounds__' second argument):
// 2 caps the 256-thread tiles at 128 registers, so two blocks share a multiprocessor and one's epilogue
// and pipeline start overlap the other's products (H100, same run: seed AlexNet fp32 2.29 against 2.46 ms
// at batch 64, 8.36 against 8.88 at 256; a few tf32x3 tiles spill up to 44 bytes and are still faster).
#ifndef TYPENET_CUDA_GEMM_MIN_BLOCKS
#define TYPENET_CUDA_GEMM_MIN_BLOCKS 2
#endif

namespace typenet::kernels::cuda {

/// fp32: FFMA. tf32: tensor cores, operands rounded to TF32. tf32x3: tensor cores, each operand split into
/// a TF32 head and a TF32 tail and three products summed (head*head + head*tail + tail*head), which gives
/// about fp32 accuracy. fp16, bf16: tensor cores, operands rounded to IEEE half (10-bit mantissa, 5-bit
/// exponent: magnitudes above 65504 become infinite) or to bfloat16 (7-bit mantissa, fp32's exponent),
/// k steps of 16.
enum class math_mode { fp32, tf32, tf32x3, fp16, bf16 };

/// Whether a math mode runs 16-bit operands (mma.sync m16n8k16).
TYPENET_HOST_DEVICE constexpr bool is_16bit(math_mode m) { return m == math_mode::fp16 || m == math_mode::bf16; }

TYPENET_HOST_DEVICE constexpr int round_up(int x, int m) { return (x + m - 1) / m * m; }

/// The GEMM view of conv2d on a C x H x W input.
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PH, int PW, int G, int OH, int OW>
struct conv_geometry {
  static constexpr bool is_conv = true;
  static constexpr int groups = G;
  static constexpr int in_c = C / G;  // input channels per group
  static constexpr int m = F / G;     // output channels per group
  static constexpr int k = in_c * KH * KW;
  static constexpr int pixels = OH * OW;  // n per image
  static constexpr int channels = F;
  static constexpr std::int64_t in_image = std::int64_t{C} * H * W;
  static constexpr std::int64_t out_image = std::int64_t{F} * OH * OW;
  static constexpr int h = H, w = W, kh = KH, kw = KW, sh = SH, sw = SW, ph = PH, pw = PW, ow = OW;
  static constexpr int cols = 0;  // column tile: gemm_tiles' rule
  static_assert(in_image < (std::int64_t{1} << 31) && out_image < (std::int64_t{1} << 31),
                "typenet: exec::cuda: a convolution's input or output holds 2^31 or more floats per image; "
                "exec::cuda indexes within an image with 32-bit integers");
};

/// The GEMM view of dense: [units, in] x [in, batch], with column tiles of Cols images (64, or 128 for
/// batches of 128 and more).
template <int In, int Units, int Cols = 64>
struct dense_geometry {
  static constexpr bool is_conv = false;
  static constexpr int cols = Cols;
  static constexpr int groups = 1, in_c = In, m = Units, k = In, pixels = 1, channels = Units;
  static constexpr std::int64_t in_image = In, out_image = Units;
  static constexpr int h = 1, w = 1, kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, ow = 1;
};

/// Tile sizes from the shape: 128 rows when a group has more than 64 output channels, else 64; 128
/// columns for convolutions with many output pixels and for 1x1 convolutions (the Winograd products,
/// whose columns are batch x tiles), 64 for other small images, the geometry's own for dense layers.
/// The weights are packed for these tiles; the kernel's own row tile is kernel_tiles' (below).
template <class Geo>
struct gemm_tiles {
  static constexpr int bm = Geo::m > 64 ? 128 : 64;
  static constexpr int bn = Geo::is_conv ? ((Geo::pixels >= 128 || Geo::kh * Geo::kw == 1) ? 128 : 64) : Geo::cols;
  static constexpr int bk = TYPENET_CUDA_GEMM_BK;
  static constexpr int stages = TYPENET_CUDA_GEMM_STAGES;  // cp.async pipeline depth
  static constexpr int threads = (bm / 8) * (bn / 8);
  static constexpr int kpad = round_up(Geo::k, bk);
  static constexpr int mpad = round_up(Geo::m, bm);
  static constexpr int k_tiles = kpad / bk;
  static constexpr std::int64_t packed_weights = std::int64_t{Geo::groups} * kpad * mpad;
  // Shared-memory rows are padded by 8 floats so that the tensor-core fragment loads hit 32 banks.
  static constexpr int a_stride = bm + 8;
  static constexpr int b_stride = bn + 8;
  static constexpr int pipeline_bytes = stages * bk * (a_stride + b_stride) * 4;
  // After the k loop the same memory holds the block's C tile, rows padded by one float so that both
  // row-wise and column-wise reads of it are free of bank conflicts.
  static constexpr int c_stride = bn + 1;
  static constexpr int c_bytes = bm * c_stride * 4;
  static constexpr int smem_bytes = pipeline_bytes > c_bytes ? pipeline_bytes : c_bytes;  // dynamic shared memory
  static_assert(threads % bn == 0 && threads % bm == 0 && (bk * bm) % (4 * threads) == 0);
};

/// The tiles one kernel instantiation runs with. The tensor-core paths take gemm_tiles' as they are. fp32
/// convolutions take 96-row tiles (6 rows per thread instead of 8, same thread count) where 128-row tiles
/// would leave padding rows that 96-row tiles do not, e.g. the 96 filters of AlexNet's conv1 (a quarter of
/// each 128-row tile was zeros); the packing's 128-row padding covers every 96-row tile. (Dense layers keep
/// 128: their epilogue puts one thread on each row.)
template <class Geo, math_mode Math>
struct kernel_tiles : gemm_tiles<Geo> {
  using base = gemm_tiles<Geo>;
  static constexpr bool rows96 =
      Math == math_mode::fp32 && Geo::is_conv && base::bm == 128 && round_up(Geo::m, 96) < base::mpad;
  static constexpr int bm = rows96 ? 96 : base::bm;
  static constexpr int rows_per_thread = rows96 ? 6 : 8;
  static constexpr int threads = base::threads;  // 16 thread rows x (bn / 8) for both 96 and 128 rows
  static constexpr int m_tiles = (Geo::m + bm - 1) / bm;
  static constexpr int a_stride = bm + 8;
  static constexpr int pipeline_bytes = base::stages * base::bk * (a_stride + base::b_stride) * 4;
  static constexpr int c_bytes = bm * base::c_stride * 4;
  static constexpr int smem_bytes = pipeline_bytes > c_bytes ? pipeline_bytes : c_bytes;
  static_assert(!rows96 || threads == 16 * (base::bn / 8));
  static_assert(m_tiles * bm <= base::mpad, "a row tile would read past the packed weights");
  static_assert((base::bk * bm) % (4 * threads) == 0 && threads % base::bn == 0 && (Geo::is_conv || threads % bm == 0));
  static_assert(
      !is_16bit(Math) || base::bk % 16 == 0,
      "typenet: exec::cuda: the fp16 and bf16 maths take k steps of 16: TYPENET_CUDA_GEMM_BK must be 16 or 32");
};

__device__ __forceinline__ void cp_async16(float* smem, const float* src) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src));
}
/// Copies 4 bytes, or writes a zero when !valid (src is then not read).
__device__ __forceinline__ void cp_async4(float* smem, const float* src, bool valid) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 4 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int Pending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending));
}

__device__ __forceinline__ std::uint32_t to_tf32(float x) {
  std::uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return r;
}

/// Two floats rounded (to nearest even) to fp16 or bf16 and packed for mma.sync: lo in the low half.
template <math_mode Math>
__device__ __forceinline__ std::uint32_t pack_16bit(float lo, float hi) {
  if constexpr (Math == math_mode::fp16)
    return std::uint32_t{__half_as_ushort(__float2half_rn(lo))} |
           (std::uint32_t{__half_as_ushort(__float2half_rn(hi))} << 16);
  else
    return std::uint32_t{__bfloat16_as_ushort(__float2bfloat16_rn(lo))} |
           (std::uint32_t{__bfloat16_as_ushort(__float2bfloat16_rn(hi))} << 16);
}

/// max(v, 0) that keeps NaN, as exec::reference's v < 0 ? 0 : v (fmaxf(NaN, 0) is 0: it drops NaN).

/// grid: (n tiles, kernel_tiles<Geo, Math>::m_tiles, groups * splits); block: kernel_tiles<Geo, Math>::threads.
/// wt: packed weights [G][Kpad][Mpad]; x: input batch (NCHW, or [In][N] for dense); y: output; ws: split
/// workspace.
template <class Geo, int Act, math_mode Math>
__global__ void __launch_bounds__(kernel_tiles<Geo, Math>::threads, TYPENET_CUDA_GEMM_MIN_BLOCKS)
    gemm_kernel(const float* __restrict__ wt, const float* __restrict__ bias, const float* __restrict__ x,
                float* __restrict__ y, float* __restrict__ ws, int n_total, int tiles_per_split,
                const float* __restrict__ res) {
  using T = kernel_tiles<Geo, Math>;
  constexpr int BM = T::bm, BN = T::bn, BK = T::bk, NT = T::threads, TM = T::rows_per_thread;
  constexpr int AS = T::a_stride, BS = T::b_stride;
  constexpr int a_vec = BK * BM / (4 * NT);  // 16-byte copies of A per thread and tile
  constexpr int b_rows = BK / (NT / BN);     // B elements per thread and tile (one column, several k)
  constexpr int ST = T::stages;
  extern __shared__ __align__(16) float smem[];
  float* as = smem;                 // [ST][BK * AS]
  float* bs = smem + ST * BK * AS;  // [ST][BK * BS]

  const int tid = threadIdx.x;
  const int g = blockIdx.z % Geo::groups;
  const int split = blockIdx.z / Geo::groups;
  const bool split_k = gridDim.z > Geo::groups;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int t_begin = split * tiles_per_split;
  const int t_end = min(t_begin + tiles_per_split, T::k_tiles);

  const float* a_src = wt + std::int64_t{g} * T::kpad * T::mpad + m0;

  // This thread's column of B and where its pixel's window starts in the input.
  const int b_col = tid % BN, b_row0 = tid / BN;
  const int n = n0 + b_col;
  const bool n_ok = n < n_total;
  const float* x_img;
  int ih0 = 0, iw0 = 0;
  if constexpr (Geo::is_conv) {
    const int img = n_ok ? n / Geo::pixels : 0;
    const int p = n_ok ? n - img * Geo::pixels : 0;
    const int oh = p / Geo::ow, ow = p - oh * Geo::ow;
    ih0 = oh * Geo::sh - Geo::ph;
    iw0 = ow * Geo::sw - Geo::pw;
    x_img = x + img * Geo::in_image + std::int64_t{g} * Geo::in_c * Geo::h * Geo::w;
  } else {
    x_img = x + (n_ok ? n : 0);  // x is [k][n_total]
  }

  // Starts the copies of k tile t into pipeline stage s (cp.async; out-of-range B elements become zeros).
  auto issue = [&](int t, int s) {
    const int k0 = t * BK;
    float* a_dst = as + s * BK * AS;
    float* b_dst = bs + s * BK * BS;
#pragma unroll
    for (int i = 0; i < a_vec; ++i) {
      const int idx = tid + i * NT, row = idx / (BM / 4), col = idx % (BM / 4);
      cp_async16(a_dst + row * AS + col * 4, a_src + std::int64_t{k0 + row} * T::mpad + col * 4);
    }
#pragma unroll
    for (int i = 0; i < b_rows; ++i) {
      const int kr = b_row0 + i * (NT / BN);
      const int k = k0 + kr;
      const float* src = x;
      bool ok;
      if constexpr (Geo::is_conv) {
        const int c = k / (Geo::kh * Geo::kw), r = k - c * (Geo::kh * Geo::kw);
        const int ih = ih0 + r / Geo::kw, iw = iw0 + r % Geo::kw;
        ok = n_ok && k < Geo::k && ih >= 0 && ih < Geo::h && iw >= 0 && iw < Geo::w;
        if (ok) src = x_img + (c * Geo::h + ih) * Geo::w + iw;
      } else {
        ok = n_ok && k < Geo::k;
        if (ok) src = x_img + std::int64_t{k} * n_total;
      }
      cp_async4(b_dst + kr * BS + b_col, src, ok);
    }
  };

  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.f;

  // fp32: thread (ty, tx) owns rows ty*4 + {0..3} and 64 + ty*4 + {0..3} (96-row tiles: 64 + ty*2 + {0,1}),
  // and columns tx*4 + {0..3} and BN/2 + tx*4 + {0..3}.
  const int tx = tid % (BN / 8), ty = tid / (BN / 8);
  // tensor cores (tf32, tf32x3, fp16, bf16): warp (wm, wn) owns a 64 x 32 block: 4 x 4 mma tiles of 16 x 8.
  const int lane = tid % 32, warp = tid / 32;
  const int wm = warp / (BN / 32), wn = warp % (BN / 32);
  const int gid = lane / 4, tig = lane % 4;

  // Pipeline: ST - 1 tiles in flight ahead of the one being multiplied. One group is committed per step,
  // empty or not, so that wait_group<ST - 2> always means "the tile needed now has landed".
#pragma unroll
  for (int s = 0; s < ST - 1; ++s) {
    if (t_begin + s < t_end) issue(t_begin + s, s);
    cp_async_commit();
  }
  for (int t = t_begin; t < t_end; ++t) {
    cp_async_wait<ST - 2>();
    __syncthreads();  // tile t is visible to all; every thread is done with tile t - 1's stage
    const int ahead = t + ST - 1;
    if (ahead < t_end) issue(ahead, (ahead - t_begin) % ST);
    cp_async_commit();
    const int buf = (t - t_begin) % ST;
    const float* a_s = as + buf * BK * AS;
    const float* b_s = bs + buf * BK * BS;
    if constexpr (Math == math_mode::fp32) {
#pragma unroll
      for (int kk = 0; kk < BK; ++kk) {
        const float4 a0 = *reinterpret_cast<const float4*>(a_s + kk * AS + ty * 4);
        const float4 b0 = *reinterpret_cast<const float4*>(b_s + kk * BS + tx * 4);
        const float4 b1 = *reinterpret_cast<const float4*>(b_s + kk * BS + BN / 2 + tx * 4);
        float a[8];
        a[0] = a0.x, a[1] = a0.y, a[2] = a0.z, a[3] = a0.w;
        if constexpr (TM == 8) {
          const float4 a1 = *reinterpret_cast<const float4*>(a_s + kk * AS + BM / 2 + ty * 4);
          a[4] = a1.x, a[5] = a1.y, a[6] = a1.z, a[7] = a1.w;
        } else {
          const float2 a1 = *reinterpret_cast<const float2*>(a_s + kk * AS + 64 + ty * 2);
          a[4] = a1.x, a[5] = a1.y, a[6] = a[7] = 0.f;
        }
        const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
          for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
    } else if constexpr (is_16bit(Math)) {
      namespace L = mma_k16;
#pragma unroll
      for (int k16 = 0; k16 < BK; k16 += 16) {
        // One k step of 16: A fragments for 4 row tiles, B fragments for 4 column tiles (mma_layout.hpp).
        std::uint32_t af[4][4], bf[4][2];
#pragma unroll
        for (int mi = 0; mi < 4; ++mi) {
          const int r0 = wm * 64 + mi * 16;
#pragma unroll
          for (int q = 0; q < 4; ++q) {
            const int row = r0 + L::a_row(lane, q);
            af[mi][q] = pack_16bit<Math>(a_s[(k16 + L::a_k(lane, q, 0)) * AS + row],
                                         a_s[(k16 + L::a_k(lane, q, 1)) * AS + row]);
          }
        }
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) {
          const int c = wn * 32 + ni * 8 + L::b_col(lane);
#pragma unroll
          for (int q = 0; q < 2; ++q)
            bf[ni][q] =
                pack_16bit<Math>(b_s[(k16 + L::b_k(lane, q, 0)) * BS + c], b_s[(k16 + L::b_k(lane, q, 1)) * BS + c]);
        }
#pragma unroll
        for (int mi = 0; mi < 4; ++mi)
#pragma unroll
          for (int ni = 0; ni < 4; ++ni) {
            float* d = &acc[mi * 2][ni * 2];      // accumulators 0, 1 (row gid); see the epilogue
            float* e = &acc[mi * 2 + 1][ni * 2];  // accumulators 2, 3 (row gid + 8)
            const std::uint32_t* a = af[mi];
            const std::uint32_t* b = bf[ni];
            if constexpr (Math == math_mode::fp16)
              asm volatile(
                  "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                  "{%0,%1,%2,%3};\n"
                  : "+f"(d[0]), "+f"(d[1]), "+f"(e[0]), "+f"(e[1])
                  : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
            else
              asm volatile(
                  "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                  "{%0,%1,%2,%3};\n"
                  : "+f"(d[0]), "+f"(d[1]), "+f"(e[0]), "+f"(e[1])
                  : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
          }
      }
    } else {
      constexpr bool split = Math == math_mode::tf32x3;
#pragma unroll
      for (int k8 = 0; k8 < BK; k8 += 8) {
        // One k step of 8: A fragments for 4 row tiles, B fragments for 4 column tiles.
        std::uint32_t af[4][4], bf[4][2];
        std::uint32_t at[split ? 4 : 1][4], bt[split ? 4 : 1][2];  // TF32 tails (tf32x3 only)
        auto take = [&](float v, std::uint32_t& head, std::uint32_t& tail) {
          head = to_tf32(v);
          if constexpr (split)
            tail = to_tf32(v - __uint_as_float(head));
          else
            (void)tail;
        };
#pragma unroll
        for (int mi = 0; mi < 4; ++mi) {
          const int r = wm * 64 + mi * 16 + gid;
          const int q = split ? mi : 0;
          take(a_s[(k8 + tig) * AS + r], af[mi][0], at[q][0]);
          take(a_s[(k8 + tig) * AS + r + 8], af[mi][1], at[q][1]);
          take(a_s[(k8 + tig + 4) * AS + r], af[mi][2], at[q][2]);
          take(a_s[(k8 + tig + 4) * AS + r + 8], af[mi][3], at[q][3]);
        }
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) {
          const int c = wn * 32 + ni * 8 + gid;
          const int q = split ? ni : 0;
          take(b_s[(k8 + tig) * BS + c], bf[ni][0], bt[q][0]);
          take(b_s[(k8 + tig + 4) * BS + c], bf[ni][1], bt[q][1]);
        }
        auto mma = [](float* d, float* e, const std::uint32_t* a, const std::uint32_t* b) {
          asm volatile(
              "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
              "{%0,%1,%2,%3};\n"
              : "+f"(d[0]), "+f"(d[1]), "+f"(e[0]), "+f"(e[1])
              : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
        };
#pragma unroll
        for (int mi = 0; mi < 4; ++mi)
#pragma unroll
          for (int ni = 0; ni < 4; ++ni) {
            float* d = &acc[mi * 2][ni * 2];  // 4 accumulators per mma tile, see the epilogue
            float* e = &acc[mi * 2 + 1][ni * 2];
            if constexpr (split) {  // small terms first
              mma(d, e, at[split ? mi : 0], bf[ni]);
              mma(d, e, af[mi], bt[split ? ni : 0]);
            }
            mma(d, e, af[mi], bf[ni]);
          }
      }
    }
  }
  cp_async_wait<0>();  // no copy may be left in flight when the block exits
  __syncthreads();     // every warp is done with the pipeline's shared memory: it becomes the C tile

  // Epilogue, in two steps: the accumulators go to the C tile in shared memory, then the tile is written
  // out with the lanes of a warp on neighbouring addresses (32 pixels of one channel for a convolution
  // and for the split workspace, 32 units of one image for a dense layer) instead of 8 x 8 scattered values
  // per thread; the column's image and pixel are decoded once per thread, not once per value.
  constexpr int CS = T::c_stride;
  float* cs = smem;
  if constexpr (Math == math_mode::fp32) {
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < 8; ++j)
        cs[(i < 4 ? ty * 4 + i : (TM == 8 ? BM / 2 + ty * 4 : 64 + ty * 2) + i - 4) * CS +
           (j < 4 ? tx * 4 + j : BN / 2 + tx * 4 + j - 4)] = acc[i][j];
  } else {
    // mma tile (mi, ni): c0, c1 at row gid, columns 2*tig, 2*tig+1; c2, c3 at row gid + 8.
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
      for (int ni = 0; ni < 4; ++ni)
#pragma unroll
        for (int h = 0; h < 2; ++h)
#pragma unroll
          for (int c = 0; c < 2; ++c)
            cs[(wm * 64 + mi * 16 + gid + h * 8) * CS + wn * 32 + ni * 8 + tig * 2 + c] = acc[mi * 2 + h][ni * 2 + c];
  }
  __syncthreads();

  const int rows = min(BM, Geo::m - m0);  // rows of this tile inside the layer (the rest is padding)
  const int ch0 = g * Geo::m + m0;        // the tile's first output channel
  if (split_k || Geo::is_conv) {
    // Lanes along n. Convolution: y[img][ch][p]; workspace: ws[split][ch][n].
    const int c = tid % BN, nn = n0 + c;
    if (nn < n_total) {
      float* out;
      const float* add = nullptr;  // the residual at out's place (convolution, no split, res given)
      std::int64_t step;           // from one channel to the next
      if (split_k) {
        out = ws + (std::int64_t{split} * Geo::channels + ch0) * n_total + nn;
        step = n_total;
      } else {
        const int img = nn / Geo::pixels, p = nn - img * Geo::pixels;
        const std::int64_t at = img * Geo::out_image + std::int64_t{ch0} * Geo::pixels + p;
        out = y + at;
        if (res != nullptr) add = res + at;
        step = Geo::pixels;
      }
      for (int r = tid / BN; r < rows; r += NT / BN) {
        float v = cs[r * CS + c];
        if (!split_k) {
          v += bias[ch0 + r];
          if (add != nullptr) v += add[r * step];
          v = activate<Act>(v);
        }
        out[r * step] = v;
      }
    }
  } else {
    // Dense: y[n][ch], lanes along the channel.
    const int r = tid % BM;
    if (r < rows) {
      const float b = bias[ch0 + r];
      for (int c = tid / BM; c < BN && n0 + c < n_total; c += NT / BM) {
        const float v = activate<Act>(cs[r * CS + c] + b);
        y[std::int64_t{n0 + c} * Geo::channels + ch0 + r] = v;
      }
    }
  }
}

/// Sums the k splits of the workspace, adds the bias (and for a convolution the residual res, when given),
/// applies the activation and writes the final layout. One thread per output value; grid covers
/// n_total * channels.
template <class Geo, int Act>
__global__ void gemm_finish(const float* __restrict__ ws, const float* __restrict__ bias, float* __restrict__ y,
                            int n_total, int splits, const float* __restrict__ res) {
  const std::int64_t total = std::int64_t{n_total} * Geo::channels;
  for (std::int64_t o = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; o < total;
       o += std::int64_t{gridDim.x} * blockDim.x) {
    int n, ch;
    std::int64_t out;
    if constexpr (Geo::is_conv) {  // o indexes the NCHW output: (image, channel, pixel)
      const std::int64_t img = o / Geo::out_image;
      const int rest = static_cast<int>(o - img * Geo::out_image);
      ch = rest / Geo::pixels;
      n = static_cast<int>(img) * Geo::pixels + (rest - ch * Geo::pixels);
      out = o;
    } else {  // o indexes the workspace's (channel, image) order, so that the split reads are coalesced
      ch = static_cast<int>(o / n_total);
      n = static_cast<int>(o - std::int64_t{ch} * n_total);
      out = std::int64_t{n} * Geo::channels + ch;
    }
    float v = bias[ch];
    for (int s = 0; s < splits; ++s) v += ws[(std::int64_t{s} * Geo::channels + ch) * n_total + n];
    if (Geo::is_conv && res != nullptr) v += res[out];
    y[out] = activate<Act>(v);
  }
}

/// The k split for a launch: when the tiles alone leave resident-block slots of the GPU idle (`slots`:
/// multiprocessors x blocks of this kernel that fit on one), as many splits as still fit in one wave, each
/// at least four k tiles long. Returns the split count; tiles_per_split receives the tiles each split takes.
template <class Geo, math_mode Math>
inline int gemm_splits(int n_total, int slots, int& tiles_per_split) {
  using T = kernel_tiles<Geo, Math>;
  const long long blocks = (long long)((n_total + T::bn - 1) / T::bn) * T::m_tiles * Geo::groups;
  int splits = 1;
  if (blocks < slots) {
    splits = static_cast<int>(slots / blocks);
    splits = splits < T::k_tiles / 4 ? splits : T::k_tiles / 4;
    splits = splits < 32 ? splits : 32;
    if (splits < 1) splits = 1;
  }
  tiles_per_split = (T::k_tiles + splits - 1) / splits;
  splits = (T::k_tiles + tiles_per_split - 1) / tiles_per_split;  // no empty split
  return splits;
}

/// Repacks PyTorch weights [F][C/G][KH][KW] (or [Units][In]) to [G][Kpad][Mpad], zero padded.
template <class Geo>
inline void pack_gemm_weights(const float* w, float* out) {
  using T = gemm_tiles<Geo>;
  for (std::int64_t i = 0; i < T::packed_weights; ++i) out[i] = 0.f;
  for (int g = 0; g < Geo::groups; ++g)
    for (int m = 0; m < Geo::m; ++m)
      for (int k = 0; k < Geo::k; ++k)
        out[(std::int64_t{g} * T::kpad + k) * T::mpad + m] = w[(std::int64_t{g} * Geo::m + m) * Geo::k + k];
}

}  // namespace typenet::kernels::cuda
