// typenet/kernels/simd/gemm.hpp: a general single-precision matrix product with run-time sizes, for the
// training kernels (im2col convolutions and dense layers, forward and backward).
//
//   C[i][j] = beta * C[i][j] + sum_k A(i, k) * B(k, j),   0 <= i < m, 0 <= j < n, 0 <= k < kk
//
// A and B are strided views (element (i, k) of A at a[i * a.row + k * a.col]), so a transposed operand is
// a view with its strides swapped and costs nothing; C is row-major with leading dimension ldc; beta is 0
// (overwrite) or 1 (accumulate).
//
// The classic blocking: the k range in panels of kc, B's panel packed into column slivers of nr (2 vectors)
// contiguous floats per k, A's rows in blocks of mc packed into row slivers of mr, and an mr x nr register
// tile of accumulators (6 x 16 with AVX2's 16 registers, 14 x 32 with AVX-512's 32) that reads one sliver of
// each per k. Edges are zero-padded in the packs and stored through a small buffer, so the micro-kernel has
// one shape. The packs live in a gemm_workspace the caller owns (allocated once: no allocation per call).
// Sums are float, in k order within a panel.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "common.hpp"

namespace typenet::kernels::simd {

/// A strided matrix operand: element (r, c) at data[r * row + c * col].
struct matrix_view {
  const float* data;
  std::int64_t row, col;
  const float& at(std::int64_t r, std::int64_t c) const { return data[r * row + c * col]; }
};

template <class Arch = xsimd::default_arch>
struct gemm_shape {
  using vec = xsimd::batch<float, Arch>;
  static constexpr int lanes = static_cast<int>(vec::size);
  static constexpr int nr = 2 * lanes;                              // two vectors of columns
  static constexpr int mr = vector_registers<Arch> == 32 ? 14 : 6;  // accumulators: 2 x mr
  static constexpr int kc = 256;
  static constexpr int mc = mr * 12;
  static constexpr int nc = nr * 128;
};

/// The packing buffers of one thread's gemm calls.
template <class Arch = xsimd::default_arch>
struct gemm_workspace {
  using shape = gemm_shape<Arch>;
  std::vector<float, xsimd::aligned_allocator<float>> a =
      std::vector<float, xsimd::aligned_allocator<float>>(static_cast<std::size_t>(shape::mc) * shape::kc);
  std::vector<float, xsimd::aligned_allocator<float>> b =
      std::vector<float, xsimd::aligned_allocator<float>>(static_cast<std::size_t>(shape::nc) * shape::kc);
};

namespace detail {

template <class Arch>
TYPENET_ALWAYS_INLINE void gemm_micro(int k, const float* a, const float* b, float* c, std::int64_t ldc, bool add) {
  using S = gemm_shape<Arch>;
  using vec = typename S::vec;
  vec acc[S::mr][2];
  static_for<S::mr>([&](auto r) {
    acc[r][0] = vec(0.f);
    acc[r][1] = vec(0.f);
  });
  for (int p = 0; p < k; ++p) {
    const vec b0 = vec::load_aligned(b + p * S::nr), b1 = vec::load_aligned(b + p * S::nr + S::lanes);
    static_for<S::mr>([&](auto r) {
      const vec ar(a[p * S::mr + r]);
      acc[r][0] = xsimd::fma(ar, b0, acc[r][0]);
      acc[r][1] = xsimd::fma(ar, b1, acc[r][1]);
    });
  }
  static_for<S::mr>([&](auto r) {
    float* row = c + r * ldc;
    if (add) {
      (acc[r][0] + vec::load_unaligned(row)).store_unaligned(row);
      (acc[r][1] + vec::load_unaligned(row + S::lanes)).store_unaligned(row + S::lanes);
    } else {
      acc[r][0].store_unaligned(row);
      acc[r][1].store_unaligned(row + S::lanes);
    }
  });
}

}  // namespace detail

/// C (m x n, leading dimension ldc) = beta * C + A (m x kk) * B (kk x n); beta is 0 or 1.
template <class Arch = xsimd::default_arch>
void gemm(std::int64_t m, std::int64_t n, std::int64_t kk, matrix_view a, matrix_view b, float* c, std::int64_t ldc,
          bool accumulate, gemm_workspace<Arch>& ws) {
  using S = gemm_shape<Arch>;
  if (m <= 0 || n <= 0) return;
  if (kk <= 0) {
    if (!accumulate)
      for (std::int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.f);
    return;
  }
  alignas(64) float edge[S::mr * S::nr];
  for (std::int64_t j0 = 0; j0 < n; j0 += S::nc) {
    const std::int64_t nb = std::min<std::int64_t>(S::nc, n - j0);
    for (std::int64_t p0 = 0; p0 < kk; p0 += S::kc) {
      const int kb = static_cast<int>(std::min<std::int64_t>(S::kc, kk - p0));
      const bool add = accumulate || p0 > 0;
      // B's panel: slivers of nr columns, each kb x nr, zero past n.
      for (std::int64_t js = 0; js < nb; js += S::nr) {
        float* dst = ws.b.data() + js * kb;
        const int w = static_cast<int>(std::min<std::int64_t>(S::nr, nb - js));
        for (int p = 0; p < kb; ++p) {
          const float* src = b.data + (p0 + p) * b.row + (j0 + js) * b.col;
          float* out = dst + p * S::nr;
          if (b.col == 1 && w == S::nr) {
            std::copy(src, src + S::nr, out);
          } else {
            int j = 0;
            for (; j < w; ++j) out[j] = src[j * b.col];
            for (; j < S::nr; ++j) out[j] = 0.f;
          }
        }
      }
      for (std::int64_t i0 = 0; i0 < m; i0 += S::mc) {
        const std::int64_t mb = std::min<std::int64_t>(S::mc, m - i0);
        // A's block: slivers of mr rows, each kb x mr, zero past m.
        for (std::int64_t is = 0; is < mb; is += S::mr) {
          float* dst = ws.a.data() + is * kb;
          const int h = static_cast<int>(std::min<std::int64_t>(S::mr, mb - is));
          if (h < S::mr) std::fill(dst, dst + std::int64_t{kb} * S::mr, 0.f);
          // Along A's contiguous direction in the inner loop.
          if (a.col == 1) {
            for (int r = 0; r < h; ++r) {
              const float* src = a.data + (i0 + is + r) * a.row + p0;
              for (int p = 0; p < kb; ++p) dst[p * S::mr + r] = src[p];
            }
          } else {
            for (int p = 0; p < kb; ++p)
              for (int r = 0; r < h; ++r) dst[p * S::mr + r] = a.at(i0 + is + r, p0 + p);
          }
        }
        for (std::int64_t js = 0; js < nb; js += S::nr) {
          const int w = static_cast<int>(std::min<std::int64_t>(S::nr, nb - js));
          for (std::int64_t is = 0; is < mb; is += S::mr) {
            const int h = static_cast<int>(std::min<std::int64_t>(S::mr, mb - is));
            float* target = c + (i0 + is) * ldc + j0 + js;
            if (h == S::mr && w == S::nr) {
              detail::gemm_micro<Arch>(kb, ws.a.data() + is * kb, ws.b.data() + js * kb, target, ldc, add);
            } else {
              detail::gemm_micro<Arch>(kb, ws.a.data() + is * kb, ws.b.data() + js * kb, edge, S::nr, false);
              for (int r = 0; r < h; ++r)
                for (int j = 0; j < w; ++j)
                  target[r * ldc + j] = add ? target[r * ldc + j] + edge[r * S::nr + j] : edge[r * S::nr + j];
            }
          }
        }
      }
    }
  }
}

}  // namespace typenet::kernels::simd
