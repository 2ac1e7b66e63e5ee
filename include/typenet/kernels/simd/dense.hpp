// typenet/kernels/simd/dense.hpp: the dense (fully connected) layer of exec::simd.
//
// y[b][o] = ep(bias[o] + sum_i w[o][i] * x[b][i]), with In and Out compile-time constants.
//
// One packed weight layout serves every batch size. Output rows are grouped in blocks of
// `block` = 2 vectors (32 rows with AVX-512, 16 with AVX2); inside a block the weights are interleaved
// over the input index, so packed[(blk * In + i) * block + j] = w[blk * block + j][i] (zero where the
// row is past Out). One step of the input index reads `block` consecutive floats, and a thread that
// owns a run of consecutive blocks reads one contiguous stream of memory.
//
//   * batch 1 (the weight-streaming GEMV): per input index, one broadcast of x[i] and two vector loads
//     feed two FMAs; two input indices are in flight on four accumulators. Memory-bound: it runs at the
//     machine's read bandwidth; the hardware prefetcher follows the one sequential stream, and a
//     software prefetch measured slower (docs/dense-kernels.md).
//   * batch >= 2 (the packed GEMM): a register-blocked tile of `rows` batch rows x 2 vectors of outputs
//     (8 x 32 = 16 zmm accumulators with AVX-512). The input goes in chunks of `k_chunk` indices; for
//     each chunk the batch's x is copied into a small panel on the stack, then every block of the part
//     runs its row tiles over it, so a block's chunk of weights (32 KiB) comes from memory once and is
//     reused from L1 by every row tile, while the tiles prefetch the next block's chunk. Partial sums
//     live in y between chunks; the bias is added by the first chunk, the epilogue by the last.
//     Compute-bound from about 8 rows on.
//
// Threads: callers split the work with (part, parts); part p owns the output blocks
// [nblocks * p / parts, nblocks * (p + 1) / parts), so parts write disjoint outputs and each reads
// a contiguous share of the packed weights. run() allocates nothing.
//
// NaN and infinities propagate as IEEE arithmetic says: the ReLU keeps a NaN (it is a select on v < 0,
// not a max), and zero-padded rows of the last block are computed but never stored.
#pragma once
#include <xsimd/xsimd.hpp>
#include "common.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

// Small helpers that must be inlined into the kernels' loops (the Winograd kernels use them too).
#if defined(__GNUC__)
#define TYPENET_SIMD_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define TYPENET_SIMD_ALWAYS_INLINE inline
#endif

namespace typenet::kernels::simd {

/// What a kernel applies to its results before storing them (after the bias and any residual add).
struct epilogue_none {};
struct epilogue_relu {};   ///< max(x, 0)
struct epilogue_relu6 {};  ///< min(max(x, 0), 6)

#if defined(__AVX512F__)
/// Helpers of the AVX-512 intrinsic kernels (bf16.hpp, int8.hpp).
namespace avx512 {

/// The mask of the first n (0..16) of 16 lanes.
TYPENET_SIMD_ALWAYS_INLINE __mmask16 first_lanes(int n) noexcept {
  return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n > 0 ? n : 0)) - 1u);
}

/// An epilogue's activation on 16 floats; ReLU and ReLU6 keep NaN (a compare with NaN is false).
template <class Epilogue>
TYPENET_SIMD_ALWAYS_INLINE __m512 activation(__m512 v) noexcept {
  const __m512 zero = _mm512_setzero_ps();
  if constexpr (std::is_same_v<Epilogue, epilogue_relu> || std::is_same_v<Epilogue, epilogue_relu6>) {
    v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), zero);
    if constexpr (std::is_same_v<Epilogue, epilogue_relu6>) {
      const __m512 six = _mm512_set1_ps(6.0f);
      v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, six, _CMP_GT_OQ), six);
    }
    return v;
  } else {
    static_assert(std::is_same_v<Epilogue, epilogue_none>, "typenet: AVX-512 kernel: unknown epilogue");
    return v;
  }
}

}  // namespace avx512
#endif

namespace detail {

/// Tile geometry of the dense kernel for one instruction set.
template <class Arch>
struct dense_geometry {
  using vec = xsimd::batch<float, Arch>;
  static constexpr int lanes = static_cast<int>(vec::size);
  static constexpr int block = 2 * lanes;  ///< output rows per packed block (two vectors)
  /// Batch rows per GEMM tile: 2 * rows accumulators + 2 weight vectors + 1 broadcast must fit the
  /// register file (32 registers with AVX-512, 16 with AVX2 and narrower).
  static constexpr int rows = lanes >= 16 ? 8 : 6;
  /// Input indices per GEMM chunk: k_chunk * block floats of weights (32 KiB with AVX-512) are reused
  /// by every row tile of the batch from L1/L2.
  static constexpr int k_chunk = 256;
  /// How far ahead the batch-1 stream is software-prefetched, in floats; 0: not at all (measured best
  /// on Zen 4, whose hardware prefetcher follows the single sequential stream; see docs/dense-kernels.md).
  static constexpr int prefetch_floats = 0;
};

/// An epilogue's activation: relu_keep_nan, and for ReLU6 then min(6, v), v second for the same reason (x86's
/// minps returns its second operand when either is NaN). The selects on v < 0 and v > 6 these replace took
/// five instructions on AVX2, about a tenth of MobileNetV2's 16 -> 96 expansion (16 multiply-adds per output;
/// docs/performance.md, 2026-12-07).
template <class Epilogue, class V>
TYPENET_SIMD_ALWAYS_INLINE V apply_epilogue(V v) noexcept {
  if constexpr (std::is_same_v<Epilogue, epilogue_relu>) {
    return relu_keep_nan(v);
  } else if constexpr (std::is_same_v<Epilogue, epilogue_relu6>) {
    return min_nan_second(V(6.0f), relu_keep_nan(v));
  } else {
    static_assert(std::is_same_v<Epilogue, epilogue_none>, "typenet: simd kernel: unknown epilogue");
    return v;
  }
}

/// Loads the first n (1..lanes) floats at p; lanes past n read as 0.
template <class V>
TYPENET_SIMD_ALWAYS_INLINE V load_first(const float* p, int n) noexcept {
  constexpr int lanes = static_cast<int>(V::size);
  if (n >= lanes) return V::load_unaligned(p);
  alignas(64) float tmp[lanes] = {};
  std::copy(p, p + n, tmp);
  return V::load_aligned(tmp);
}

/// Stores the first n (1..lanes) lanes of v at p.
template <class V>
TYPENET_SIMD_ALWAYS_INLINE void store_first(V v, float* p, int n) noexcept {
  constexpr int lanes = static_cast<int>(V::size);
  if (n >= lanes) {
    v.store_unaligned(p);
    return;
  }
  alignas(64) float tmp[lanes];
  v.store_aligned(tmp);
  std::copy(tmp, tmp + n, p);
}

}  // namespace detail

/// How a kernel computing in float vectors V reads and writes stored elements of type T: floats here,
/// bf16 (widened exactly, rounded to nearest even) in bf16.hpp. A class, so that the bf16 specialisation
/// declared later is found when a kernel is instantiated.
template <class T>
struct elem_io;
template <>
struct elem_io<float> {
  template <class V>
  TYPENET_SIMD_ALWAYS_INLINE static V load(const float* p) noexcept {
    return V::load_unaligned(p);
  }
  template <class V>
  TYPENET_SIMD_ALWAYS_INLINE static V load_first(const float* p, int n) noexcept {
    return detail::load_first<V>(p, n);
  }
  template <class V>
  TYPENET_SIMD_ALWAYS_INLINE static void store(V v, float* p) noexcept {
    v.store_unaligned(p);
  }
  template <class V>
  TYPENET_SIMD_ALWAYS_INLINE static void store_first(V v, float* p, int n) noexcept {
    detail::store_first(v, p, n);
  }
};

namespace detail {

/// Calls f.template operator()<R>() for the run-time r in [1, Max].
template <int Max, class F, int... R>
inline void with_rows_impl(int r, F&& f, std::integer_sequence<int, R...>) {
  (void)((r == R + 1 ? (f.template operator()<R + 1>(), true) : false) || ...);
}
template <int Max, class F>
inline void with_rows(int r, F&& f) {
  with_rows_impl<Max>(r, std::forward<F>(f), std::make_integer_sequence<int, Max>{});
}

template <int P, class F>
inline void row_pieces_from(int r, int at, F& f) {
  if (r & P) {
    f.template operator()<P>(at);
    at += P;
  }
  if constexpr (P > 1) row_pieces_from<P / 2>(r, at, f);
}

/// Covers r rows (1..Max) with tiles: one of Max rows when r is Max, else one per set bit of r, largest first
/// (f.template operator()<R>(first_row)). So a kernel compiles its tile for Max and the powers of two below it
/// (4 sizes for Max 6 or 8) instead of for every size from 1 to Max.
template <int Max, class F>
inline void with_row_pieces(int r, F&& f) {
  if (r == Max) {
    f.template operator()<Max>(0);
    return;
  }
  if constexpr (Max > 1) row_pieces_from<std::bit_floor(unsigned(Max - 1))>(r, 0, f);
}

}  // namespace detail

template <int In, int Out, class Arch = xsimd::default_arch>
struct dense_kernel {
  static_assert(In > 0 && Out > 0, "typenet: dense_kernel: In and Out must be positive");

  using geometry = detail::dense_geometry<Arch>;
  using vec = typename geometry::vec;
  static constexpr int lanes = geometry::lanes;
  static constexpr int block = geometry::block;
  static constexpr int blocks = (Out + block - 1) / block;      ///< packed blocks, the last one may be partial
  static constexpr int last_rows = Out - (blocks - 1) * block;  ///< valid rows of the last block (1..block)
  static constexpr int tile_rows = geometry::rows;
  static constexpr int k_chunk = geometry::k_chunk < In ? geometry::k_chunk : In;
  static constexpr int full_chunks = In / k_chunk;
  static constexpr int k_tail = In % k_chunk;

  /// Floats of the packed weights (blocks * block * In; rows past Out are zero).
  static constexpr std::size_t packed_floats = std::size_t(blocks) * block * std::size_t(In);

  /// Packs PyTorch-layout weights w[Out][In] into the kernel's layout (see the file comment).
  static void pack(const float* w, float* packed) {
    for (int b = 0; b < blocks; ++b) {
      float* dst = packed + std::size_t(b) * block * In;
      for (int j = 0; j < block; ++j) {
        const int o = b * block + j;
        if (o < Out) {
          const float* row = w + std::size_t(o) * In;
          for (int i = 0; i < In; ++i) dst[std::size_t(i) * block + j] = row[i];
        } else {
          for (int i = 0; i < In; ++i) dst[std::size_t(i) * block + j] = 0.0f;
        }
      }
    }
  }

  /// The output blocks [first, last) of part `part` of `parts`.
  static constexpr std::pair<int, int> part_blocks(int part, int parts) noexcept {
    return {int(std::int64_t(blocks) * part / parts), int(std::int64_t(blocks) * (part + 1) / parts)};
  }

  template <class Epilogue>
  static void run(const float* packed, const float* bias, const float* x, float* y, int batch, int part, int parts) {
    if (parts < 1 || part < 0 || part >= parts)
      throw std::invalid_argument("typenet: dense_kernel::run: part " + std::to_string(part) + " is outside 0.." +
                                  std::to_string(parts - 1) + " (parts = " + std::to_string(parts) + ")");
    if (batch < 0) throw std::invalid_argument("typenet: dense_kernel::run: negative batch " + std::to_string(batch));
    const auto [first, last] = part_blocks(part, parts);
    if (batch == 0 || first == last) return;
    if (batch == 1)
      gemv<Epilogue>(packed, bias, x, y, first, last);
    else
      gemm<Epilogue>(packed, bias, x, y, batch, first, last);
  }

  // The two paths run() chooses between, on the output blocks [first, last); public so that benchmarks
  // can compare them at the same batch. Arguments are not checked here.

  /// Batch 1 only: the weight-streaming GEMV. PrefetchFloats: software prefetch distance (0: none).
  template <class Epilogue, int PrefetchFloats = geometry::prefetch_floats>
  static void gemv(const float* packed, const float* bias, const float* x, float* y, int first, int last) {
    constexpr std::size_t step = block;
    // Prefetch targets are clamped to the last line of this part's stream, so no address past it is formed.
    const std::size_t stream_end = std::size_t(last) * block * In - 16;
    for (int blk = first; blk < last; ++blk) {
      const std::size_t base = std::size_t(blk) * block * In;
      const float* w = packed + base;
      vec a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
      int i = 0;
      for (; i + 2 <= In; i += 2) {
        if constexpr (PrefetchFloats > 0) {  // the 4 lines of the step PrefetchFloats ahead
          const std::size_t at = base + std::size_t(i) * step;
          const std::size_t pf = std::min(at + PrefetchFloats, stream_end);
          __builtin_prefetch(packed + pf, 0, 3);
          __builtin_prefetch(packed + std::min(pf + 16, stream_end), 0, 3);
          __builtin_prefetch(packed + std::min(pf + 32, stream_end), 0, 3);
          __builtin_prefetch(packed + std::min(pf + 48, stream_end), 0, 3);
        }
        const float* wi = w + std::size_t(i) * step;
        const vec x0(x[i]), x1(x[i + 1]);
        a0 = xsimd::fma(vec::load_unaligned(wi), x0, a0);
        a1 = xsimd::fma(vec::load_unaligned(wi + lanes), x0, a1);
        a2 = xsimd::fma(vec::load_unaligned(wi + step), x1, a2);
        a3 = xsimd::fma(vec::load_unaligned(wi + step + lanes), x1, a3);
      }
      if constexpr (In % 2 != 0) {
        const float* wi = w + std::size_t(In - 1) * step;
        const vec x0(x[In - 1]);
        a0 = xsimd::fma(vec::load_unaligned(wi), x0, a0);
        a1 = xsimd::fma(vec::load_unaligned(wi + lanes), x0, a1);
      }
      const int valid = valid_rows(blk);
      const int o = blk * block;
      const int n0 = std::min(valid, lanes), n1 = valid - n0;
      const vec r0 = detail::apply_epilogue<Epilogue>((a0 + a2) + detail::load_first<vec>(bias + o, n0));
      detail::store_first(r0, y + o, n0);
      if (n1 > 0) {
        const vec r1 = detail::apply_epilogue<Epilogue>((a1 + a3) + detail::load_first<vec>(bias + o + lanes, n1));
        detail::store_first(r1, y + o + lanes, n1);
      }
    }
  }

  /// Any batch >= 1: the register-blocked GEMM. Prefetch: each block's chunk of weights is prefetched
  /// while the previous block computes (turned off only to measure what it brings).
  ///
  /// The batch goes in groups of `group_rows` rows; for each group, chunk by chunk of the input: the
  /// group's x chunk is copied into a panel on the stack (tile by tile, [k][row], so a tile's broadcasts
  /// read 32 contiguous bytes per step instead of 8 rows at a stride of In floats, which for In = 4096 or
  /// 9216 all fall into one L1 set), then every block of this part runs its row tiles over it. The panel
  /// stays in L1/L2, each block's chunk of weights (32 KiB) is read from memory once per group and reused
  /// by the group's tiles from L1, and the partial sums wait in y between chunks.
  template <class Epilogue, bool Prefetch = true>
  static void gemm(const float* packed, const float* bias, const float* x, float* y, int batch, int first, int last) {
    alignas(64) float panel[panel_floats];
    for (int g0 = 0; g0 < batch; g0 += group_rows) {
      const int rows = std::min(group_rows, batch - g0);
      const float* xg = x + std::size_t(g0) * In;
      float* yg = y + std::size_t(g0) * Out;
      const auto pass = [&]<int K>(int k0, bool first_chunk, bool last_chunk) {
        pack_panel<K>(xg + k0, rows, panel);
        for (int blk = first; blk < last; ++blk)
          chunk<K, Epilogue>(weights_at(packed, blk, k0), bias, panel, yg, rows, blk, first_chunk, last_chunk,
                             Prefetch && blk + 1 < last ? weights_at(packed, blk + 1, k0) : nullptr);
      };
      for (int c = 0; c < full_chunks; ++c)
        pass.template operator()<k_chunk>(c * k_chunk, c == 0, k_tail == 0 && c == full_chunks - 1);
      if constexpr (k_tail != 0) pass.template operator()<k_tail>(full_chunks * k_chunk, false, true);
    }
  }

  static constexpr int group_tiles = 8;
  static constexpr int group_rows = group_tiles * tile_rows;     ///< batch rows per GEMM group (64 with AVX-512)
  static constexpr int tile_panel = k_chunk * tile_rows;         ///< floats of one row tile's panel
  static constexpr int panel_floats = group_tiles * tile_panel;  ///< the stack panel (64 KiB with AVX-512)

 private:
  static constexpr int valid_rows(int blk) noexcept { return blk == blocks - 1 ? last_rows : block; }

  static const float* weights_at(const float* packed, int blk, int k0) noexcept {
    return packed + (std::size_t(blk) * In + std::size_t(k0)) * block;
  }

  // panel[t][k][r] = x[(t * tile_rows + r) * In + k] for the rows of the group, k in [0, K).
  template <int K>
  static void pack_panel(const float* x, int rows, float* panel) noexcept {
    for (int row = 0; row < rows; ++row) {
      const float* xr = x + std::size_t(row) * In;
      float* dst = panel + (row / tile_rows) * tile_panel + row % tile_rows;
      for (int k = 0; k < K; ++k) dst[k * tile_rows] = xr[k];
    }
  }

  // ---- the GEMM tile ---------------------------------------------------------------------------------
  // R batch rows x one block of outputs over K input indices: w is the block's chunk of weights, xp the
  // tile's panel ([k][tile_rows]), y the first output of the tile's first row. The accumulators start from
  // the bias (first chunk) or from the partial sums in y; the last chunk applies the epilogue. The
  // tile also pulls pf_lines cache lines from pf into L2 (at most two per step; none when pf_lines is 0),
  // its share of the next block's chunk. The loops over rows are unrolled by TYPENET_UNROLL: g++ -O2 does not
  // unroll them itself and then keeps the 2R accumulators on the stack (18 - 25 instead of 47 - 55 G
  // multiply-adds/s measured at -O2 with R = 8).
  template <int R, int K, class Epilogue>
  static void tile(const float* w, const float* bias_blk, const float* xp, float* y, int valid, bool first_chunk,
                   bool last_chunk, const float* pf, int pf_lines) {
    vec acc[R][2];
    const int n0 = std::min(valid, lanes), n1 = valid - n0;
    if (first_chunk) {
      const vec b0 = detail::load_first<vec>(bias_blk, n0);
      const vec b1 = n1 > 0 ? detail::load_first<vec>(bias_blk + lanes, n1) : vec(0.0f);
      TYPENET_UNROLL
      for (int r = 0; r < R; ++r) acc[r][0] = b0, acc[r][1] = b1;
    } else {
      TYPENET_UNROLL
      for (int r = 0; r < R; ++r) {
        acc[r][0] = detail::load_first<vec>(y + std::size_t(r) * Out, n0);
        acc[r][1] = n1 > 0 ? detail::load_first<vec>(y + std::size_t(r) * Out + lanes, n1) : vec(0.0f);
      }
    }
    for (int k = 0; k < K; ++k) {
      if (k < pf_lines) __builtin_prefetch(pf + std::size_t(k) * 16, 0, 2);
      if (k + K < pf_lines) __builtin_prefetch(pf + std::size_t(k + K) * 16, 0, 2);
      const vec w0 = vec::load_unaligned(w + std::size_t(k) * block);
      const vec w1 = vec::load_unaligned(w + std::size_t(k) * block + lanes);
      TYPENET_UNROLL
      for (int r = 0; r < R; ++r) {
        const vec xb(xp[k * tile_rows + r]);
        acc[r][0] = xsimd::fma(w0, xb, acc[r][0]);
        acc[r][1] = xsimd::fma(w1, xb, acc[r][1]);
      }
    }
    TYPENET_UNROLL
    for (int r = 0; r < R; ++r) {
      float* yr = y + std::size_t(r) * Out;
      if (last_chunk) {
        acc[r][0] = detail::apply_epilogue<Epilogue>(acc[r][0]);
        acc[r][1] = detail::apply_epilogue<Epilogue>(acc[r][1]);
      }
      detail::store_first(acc[r][0], yr, n0);
      if (n1 > 0) detail::store_first(acc[r][1], yr + lanes, n1);
    }
  }

  // One block's chunk for the `rows` rows of a group. Unless pf is null, the row tiles share the
  // prefetching of pf, the next block's chunk (K * block floats), in equal slices of its cache lines, so
  // the misses are spread over the whole block instead of bursting. A tail tile (fewer than tile_rows rows)
  // runs in pieces of 4, 2 and 1 rows (with_row_pieces); its first piece takes the tile's share.
  template <int K, class Epilogue>
  static void chunk(const float* w, const float* bias, const float* panel, float* y, int rows, int blk,
                    bool first_chunk, bool last_chunk, const float* pf) {
    static_assert(K * block / 16 <= 2 * K, "typenet: dense_kernel: a tile prefetches at most two lines per step");
    constexpr int pf_total = K * block / 16;  // cache lines of the next chunk
    const int o = blk * block;
    const int valid = valid_rows(blk);
    const int tiles = (rows + tile_rows - 1) / tile_rows;
    const int slice = (pf_total + tiles - 1) / tiles;
    for (int t = 0; t < tiles; ++t) {
      const int r = std::min(tile_rows, rows - t * tile_rows);
      const float* xp = panel + t * tile_panel;
      float* yt = y + std::size_t(t) * tile_rows * Out + o;
      const int pf_first = std::min(pf_total, t * slice), pf_lines = std::min(pf_total, pf_first + slice) - pf_first;
      const float* pft = pf != nullptr ? pf + std::size_t(pf_first) * 16 : nullptr;
      int lines = pf != nullptr ? pf_lines : 0;
      // Tail rows go in pieces (with_row_pieces); the panel's rows of a piece start at xp + r0.
      detail::with_row_pieces<tile_rows>(r, [&]<int R>(int r0) {
        tile<R, K, Epilogue>(w, bias + o, xp + r0, yt + std::size_t(r0) * Out, valid, first_chunk, last_chunk, pft,
                             lines);
        lines = 0;  // the first piece prefetches the tile's share
      });
    }
  }
};

}  // namespace typenet::kernels::simd
