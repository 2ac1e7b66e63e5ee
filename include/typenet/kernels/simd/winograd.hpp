// typenet/kernels/simd/winograd.hpp: Winograd F(MxM, 3x3) convolution, M = 2 or 4, for 3x3 kernels,
// stride 1, pad 1, groups 1, on NHWC activations.
//
//   out[n][y][x][f] = Epilogue(bias[f] + sum_{c, kh, kw} in[n][y + kh - 1][x + kw - 1][c] * w[f][c][kh][kw])
//
// The output is cut into M x M tiles (TH = ceil(H/M) x TW = ceil(W/M) per image; the last row/column of
// tiles is clipped when M does not divide H or W). Each tile reads an A x A input patch d, A = M + 2 (zeros
// outside the image), and
//
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A        (.) = element-wise over the P = A^2 positions xi
//
// so per tile and (c, f) pair P multiplies replace 9 M^2: 16 for 36 with M = 2 (2.25x fewer), 36 for 144
// with M = 4 (4x fewer; the transforms' constants reach 8 and 1/24, so the rounding error grows: about 4x
// F(2x2)'s in the tests). With the positions as the outer index, the element-wise products summed over c
// are P independent GEMMs M[xi] = V[xi] [T x C] * U[xi] [C x F].
//   F(2x2, 3x3): B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
//                A^T = [1 1 1 0; 0 1 -1 -1]
//   F(4x4, 3x3): interpolation points 0, 1, -1, 2, -2 and infinity (B^T, G, A^T written out below).
//
// Layouts
//   packed  U = G g G^T: [fblock][xi][c][FB], FB = NB * lanes output channels per block (64 with AVX-512
//           when F >= 64), zero past F. One f-block of U (P * C * FB floats) is one contiguous stream.
//   workspace per part: Vbuf [P][Tmax][Cp] (input transforms of a block of tiles, Cp = C rounded up to
//           the vector width) then Mbuf [P][Tmax][FB] (GEMM results of one f-block).
//
// run(part, parts): the tiles (over batch x tile rows x tile cols) are split into `parts` contiguous
// ranges; a part cuts its range into blocks of at most Tmax tiles (nearly equal sizes). Per block:
//   1. input transform of every tile into Vbuf (vectorised over channels; out-of-image taps read a
//      static row of zeros);
//   2. per f-block: P GEMMs Vbuf[xi] x U[xi] -> Mbuf[xi] with a register tile of R tiles x NB vectors
//      (6 x 4 = 24 zmm accumulators with AVX-512: per channel 4 vector loads of U + 6 broadcasts of V feed
//      24 independent FMAs), then the output transform + bias + epilogue of the block's tiles for that
//      f-block, straight into `out` (only the pixels of this part's tiles, clipped to H x W).
// Vbuf stays in L2 while every f-block of U streams past it; Mbuf (one f-block) stays in L1/L2.
// No allocation, no synchronisation: parts write disjoint pixels.
#pragma once
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "../../config.hpp"  // TYPENET_NOINLINE
#include "common.hpp"        // vector_registers, TYPENET_UNROLL
#include "dense.hpp"         // epilogue_none, epilogue_relu, detail::load_first / store_first

namespace typenet::kernels::simd {

namespace winograd_detail {

#define TYPENET_WINO_INLINE TYPENET_SIMD_ALWAYS_INLINE

/// Calls fn.template operator()<R>() for the run-time r in [1, Max].
template <int Max, class Fn>
inline void with_count(int r, Fn&& fn) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    (void)((r == I + 1 ? (fn.template operator()<I + 1>(), true) : false) || ...);
  }
  (std::make_integer_sequence<int, Max>{});
}

constexpr int cdiv(int a, int b) { return (a + b - 1) / b; }

/// G of F(MxM, 3x3) (A x 3, A = M + 2).
inline constexpr double g_2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
inline constexpr double g_4[6][3] = {{1.0 / 4, 0, 0},
                                     {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                     {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                     {0, 0, 1}};

/// Packs PyTorch weights w[F][C][3][3] into U = G g G^T (A x A per (f, c), A = 4 for M = 2, 6 for M = 4),
/// layout [fblock][xi][c][FB] (zero past F). An ordinary function: it runs once when a model is built.
inline void pack_u(const float* w, float* packed, int C, int F, int FB, int fblocks, int M = 2) {
  const int A = M + 2, P = A * A;
  const auto G = [&](int i, int k) { return M == 2 ? g_2[i][k] : g_4[i][k]; };
  for (int fb = 0; fb < fblocks; ++fb)
    for (int j = 0; j < FB; ++j) {
      const int f = fb * FB + j;
      for (int c = 0; c < C; ++c) {
        double u[6][6] = {};
        if (f < F) {
          const float* g = w + (std::size_t(f) * C + c) * 9;
          double t[6][3];  // G g
          for (int i = 0; i < A; ++i)
            for (int k = 0; k < 3; ++k) t[i][k] = G(i, 0) * g[k] + G(i, 1) * g[3 + k] + G(i, 2) * g[6 + k];
          for (int i = 0; i < A; ++i)  // (G g) G^T
            for (int k = 0; k < A; ++k) u[i][k] = t[i][0] * G(k, 0) + t[i][1] * G(k, 1) + t[i][2] * G(k, 2);
        }
        for (int xi = 0; xi < P; ++xi)
          packed[((std::size_t(fb) * P + xi) * C + c) * FB + j] = static_cast<float>(u[xi / A][xi % A]);
      }
    }
}

}  // namespace winograd_detail

/// Whether a convolution of geometry Geo runs as Winograd F(2x2, 3x3) in exec::simd (every program: chain,
/// graph, bf16): 3x3, stride 1, pad 1, one group, at least 16 channels in and out (1.6x faster than the
/// direct kernel on conv3 of the seed AlexNet: 49 tiles per image), and at least 25 of its 2 x 2 output
/// tiles per image: the transformed weights, 16/9 of the direct kernel's, are reused only by the tiles, and
/// on a 7 x 7 map (ResNet-50's layer4: 16 tiles) streaming them costs more than the multiplies saved
/// (docs/performance.md, "Graph networks on an Intel Xeon").
template <class Geo>
inline constexpr bool winograd_shape = Geo::kh == 3 && Geo::kw == 3 && Geo::sh == 1 && Geo::sw == 1 && Geo::ph == 1 &&
                                       Geo::pw == 1 && Geo::g == 1 && Geo::c >= 16 && Geo::f >= 16;
template <class Geo>
inline constexpr bool winograd_suits = winograd_shape<Geo> && ((Geo::h + 1) / 2) * ((Geo::w + 1) / 2) >= 25;

/// A convolution that Winograd suits only over several images at once (the graph program's conv_runner): the
/// shape, but a map too small for winograd_suits (ResNet-50's and ResNet-18's layer4: 7 x 7). It keeps the
/// direct kernel for runs of fewer than winograd_batched_min images and runs F(4x4, 3x3) for more, when the
/// transformed weights (4x the direct kernel's: 37.7 MB for 512 -> 512) are reused by many tiles (still
/// streamed once per block of tiles per thread, which is what keeps it behind oneDNN's F(4x4) there):
/// measured on Zen 4 (bench_typenet_winograd, 512 -> 512 on 7 x 7, 2 threads) F(4x4) 4.4 ms against direct
/// 7.5 ms at 8 images and 12.4 against 18.6 at 20, but 3.1 against 2.5 (F(2x2)) and 3.7 (direct) at 4.
template <class Geo>
inline constexpr bool winograd_batched = winograd_shape<Geo> && !winograd_suits<Geo>;
inline constexpr int winograd_batched_min = 8;

/// The output tile M of a convolution of geometry Geo that runs as Winograd: F(4x4, 3x3) when the map holds
/// at least 25 of its 4 x 4 tiles (ResNet-50's 56 and 28 wide maps), else F(2x2, 3x3). F(4x4) needs 4x
/// instead of 2.25x fewer multiplies, but its transformed weights are 36/9 instead of 16/9 the direct
/// kernel's and are streamed once per block of tiles: measured (bench_typenet_winograd, one thread, batch 1)
/// 2.1x faster than F(2x2) on 28 x 28 x 128, level on 14 x 14 x 256 (16 tiles), 14 % slower on the seed
/// AlexNet's 13 x 13 layers (16 tiles, 169 of their 256 pixels inside); at batch 64 faster on all three.
template <class Geo>
inline constexpr int winograd_tile = ((Geo::h + 3) / 4) * ((Geo::w + 3) / 4) >= 25 ? 4 : 2;

namespace winograd_detail {

/// The run-time shape of one Winograd layer: engine's kernels take it as an argument, so that they are
/// compiled once per (Arch, M, NB, epilogue) and not once per layer shape (docs/compile-time.md).
struct shape {
  int c, h, w, f;       ///< channels in, map height and width, channels out
  int cp;               ///< c rounded up to the vector width: the Vbuf row stride
  int tw;               ///< tiles per row of the map
  int tiles_per_image;  ///< tiles per image
  int tmax;             ///< tiles per block
  const float* zeros;   ///< cp zeros: what out-of-image taps read
};

/// The register-tile geometry of F(MxM, 3x3) on Arch with NB output-channel vectors per f-block.
template <class Arch, int M, int NB>
struct engine {
  static constexpr int A = M + 2;  ///< input patch extent
  static constexpr int P = A * A;  ///< positions: GEMMs per f-block
  using vec = xsimd::batch<float, Arch>;
  static constexpr int lanes = static_cast<int>(vec::size);
  static constexpr int registers = vector_registers<Arch>;
  static constexpr int FB = NB * lanes;  ///< output channels per f-block
  /// Tiles per register tile of the GEMM: R * NB accumulators + NB loads + 1 broadcast fit the register
  /// file (AVX-512: 6 x 4, 8 x 3, 12 x 2 or 1; AVX2: 6 x 2, 12 x 1).
  static constexpr int R = registers == 32 ? (NB >= 4 ? 6 : NB == 3 ? 8 : 12) : (NB == 2 ? 6 : 12);

  /// The tiles [first, last) of shape s: see the top of this file.
  template <class Epilogue, bool Add>
  TYPENET_NOINLINE static void run_tiles(const shape& s, const float* packed, const float* bias, const float* in,
                                         float* out, float* workspace, std::int64_t first, std::int64_t last,
                                         const float* residual) {
    const std::int64_t count = last - first;
    if (count <= 0) return;
    const std::int64_t nblk = (count + s.tmax - 1) / s.tmax;
    const std::size_t u_block = std::size_t{P} * s.c * FB;
    const int fblocks = cdiv(s.f, FB);
    float* vbuf = workspace;
    float* mbuf = workspace + std::size_t{P} * s.tmax * s.cp;
    for (std::int64_t b = 0; b < nblk; ++b) {
      const std::int64_t t0 = first + count * b / nblk;
      const int T = static_cast<int>(first + count * (b + 1) / nblk - t0);
      input_transform(s, in, vbuf, t0, T);
      for (int fb = 0; fb < fblocks; ++fb) {
        gemms(s, packed + fb * u_block, vbuf, mbuf, T);
        output_transform<Epilogue, Add>(s, mbuf, bias, out, t0, T, fb, residual);
      }
    }
  }

 private:
  struct tile_pos {
    int n, y0, x0;  // image, top-left output pixel
  };
  static tile_pos position(const shape& s, std::int64_t t) noexcept {
    const int n = static_cast<int>(t / s.tiles_per_image);
    const int r = static_cast<int>(t % s.tiles_per_image);
    return {n, M * (r / s.tw), M * (r % s.tw)};
  }

  // V[xi][k][c] = (B^T d B)[xi] for the T tiles from t0, d the A x A input patch of channel c.
  static void input_transform(const shape& s, const float* in, float* vbuf, std::int64_t t0, int T) {
    const std::size_t plane = std::size_t(s.tmax) * s.cp;
    const int full = s.c / lanes, rest = s.c % lanes;
    for (int k = 0; k < T; ++k) {
      const tile_pos p = position(s, t0 + k);
      const float* img = in + std::size_t(p.n) * s.h * s.w * s.c;
      const float* src[A][A];
      for (int i = 0; i < A; ++i)
        for (int j = 0; j < A; ++j) {
          const int y = p.y0 - 1 + i, x = p.x0 - 1 + j;
          src[i][j] = (y >= 0 && y < s.h && x >= 0 && x < s.w) ? img + (std::size_t(y) * s.w + x) * s.c : s.zeros;
        }
      float* dst = vbuf + std::size_t(k) * s.cp;
      for (int cv = 0; cv < full; ++cv) transform_one(src, dst, plane, cv * lanes, lanes);
      if (rest != 0) transform_one(src, dst, plane, full * lanes, rest);
    }
  }

  // t = B^T d for one column of A values (the same along rows and columns).
  //   F(2x2): B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
  //   F(4x4): B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
  TYPENET_WINO_INLINE static void input_1d(const vec (&d)[A], vec (&t)[A]) {
    if constexpr (M == 2) {
      t[0] = d[0] - d[2];
      t[1] = d[1] + d[2];
      t[2] = d[2] - d[1];
      t[3] = d[1] - d[3];
    } else {
      const vec four(4.0f), five(5.0f), two(2.0f);
      const vec a = xsimd::fnma(four, d[2], d[4]);  // d4 - 4 d2
      const vec b = xsimd::fnma(four, d[1], d[3]);  // d3 - 4 d1
      const vec c = d[4] - d[2];
      const vec e = two * (d[3] - d[1]);
      t[0] = xsimd::fma(four, d[0], xsimd::fnma(five, d[2], d[4]));
      t[1] = a + b;
      t[2] = a - b;
      t[3] = c + e;
      t[4] = c - e;
      t[5] = xsimd::fma(four, d[1], xsimd::fnma(five, d[3], d[5]));
    }
  }

  TYPENET_WINO_INLINE static void transform_one(const float* const (&src)[A][A], float* dst, std::size_t plane, int c,
                                                int n) {
    vec t[A][A];
    for (int j = 0; j < A; ++j) {  // B^T d (along the rows)
      vec col[A], out[A];
      for (int i = 0; i < A; ++i)
        col[i] = n == lanes ? vec::load_unaligned(src[i][j] + c) : detail::load_first<vec>(src[i][j] + c, n);
      input_1d(col, out);
      for (int i = 0; i < A; ++i) t[i][j] = out[i];
    }
    for (int i = 0; i < A; ++i) {  // (B^T d) B (along the columns)
      vec out[A];
      input_1d(t[i], out);
      float* o = dst + std::size_t(A * i) * plane + c;
      for (int j = 0; j < A; ++j) out[j].store_unaligned(o + j * plane);
    }
  }

  // M[xi][k][0..FB) = sum_c V[xi][k][c] * U[xi][c][0..FB) for the block's T tiles and one f-block of U.
  static void gemms(const shape& s, const float* u, const float* vbuf, float* mbuf, int T) {
    const int groups = (T + R - 1) / R;
    for (int xi = 0; xi < P; ++xi) {
      const float* ux = u + std::size_t(xi) * s.c * FB;
      const float* vx = vbuf + std::size_t(xi) * s.tmax * s.cp;
      float* mx = mbuf + std::size_t(xi) * s.tmax * FB;
      for (int g = 0; g < groups; ++g) {
        const int k0 = T * g / groups, rows = T * (g + 1) / groups - k0;
        with_count<R>(rows,
                      [&]<int RR>() { micro<RR>(ux, vx + std::size_t(k0) * s.cp, mx + std::size_t(k0) * FB, s); });
      }
    }
  }

  template <int RR>
  static void micro(const float* u, const float* v, float* m, const shape& s) {
    vec acc[RR][NB];
    TYPENET_UNROLL
    for (int r = 0; r < RR; ++r) {
      TYPENET_UNROLL
      for (int b = 0; b < NB; ++b) acc[r][b] = vec(0.0f);
    }
    const std::size_t cp = std::size_t(s.cp);
    for (int c = 0; c < s.c; ++c) {
      vec w[NB];
      TYPENET_UNROLL
      for (int b = 0; b < NB; ++b) w[b] = vec::load_unaligned(u + std::size_t(c) * FB + b * lanes);
      TYPENET_UNROLL
      for (int r = 0; r < RR; ++r) {
        const vec x(v[r * cp + c]);
        TYPENET_UNROLL
        for (int b = 0; b < NB; ++b) acc[r][b] = xsimd::fma(x, w[b], acc[r][b]);
      }
    }
    TYPENET_UNROLL
    for (int r = 0; r < RR; ++r) {
      TYPENET_UNROLL
      for (int b = 0; b < NB; ++b) acc[r][b].store_unaligned(m + r * FB + b * lanes);
    }
  }

  // y = A^T m for one column of A values.
  //   F(2x2): A^T = [1 1 1 0; 0 1 -1 -1]
  //   F(4x4): A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
  TYPENET_WINO_INLINE static void output_1d(const vec (&m)[A], vec (&y)[M]) {
    if constexpr (M == 2) {
      y[0] = m[0] + m[1] + m[2];
      y[1] = m[1] - m[2] - m[3];
    } else {
      const vec p = m[1] + m[2], q = m[1] - m[2], r = m[3] + m[4], s = m[3] - m[4];
      y[0] = m[0] + p + r;
      y[1] = xsimd::fma(vec(2.0f), s, q);
      y[2] = xsimd::fma(vec(4.0f), r, p);
      y[3] = xsimd::fma(vec(8.0f), s, q) + m[5];
    }
  }

  // Y = A^T M A + bias for the block's tiles and f-block fb, clipped to H x W.
  template <class Epilogue, bool Add>
  static void output_transform(const shape& s, const float* mbuf, const float* bias, float* out, std::int64_t t0, int T,
                               int fb, const float* residual) {
    const std::size_t plane = std::size_t(s.tmax) * FB;
    const int H = s.h, W = s.w, F = s.f;
    vec bv[NB];
    int valid[NB];
    for (int b = 0; b < NB; ++b) {
      const int f = fb * FB + b * lanes;
      valid[b] = std::clamp(F - f, 0, lanes);
      bv[b] = (bias != nullptr && valid[b] > 0) ? detail::load_first<vec>(bias + f, valid[b]) : vec(0.0f);
    }
    for (int k = 0; k < T; ++k) {
      const tile_pos p = position(s, t0 + k);
      const int rows = std::min(M, H - p.y0), cols = std::min(M, W - p.x0);
      const std::size_t at = ((std::size_t(p.n) * H + p.y0) * W + p.x0) * F + std::size_t(fb) * FB;
      for (int b = 0; b < NB; ++b) {
        if (valid[b] <= 0) break;
        const float* mk = mbuf + std::size_t(k) * FB + b * lanes;
        vec t[M][A];
        for (int j = 0; j < A; ++j) {  // A^T M (along the rows)
          vec col[A], y[M];
          for (int i = 0; i < A; ++i) col[i] = vec::load_unaligned(mk + (A * i + j) * plane);
          output_1d(col, y);
          for (int i = 0; i < M; ++i) t[i][j] = y[i];
        }
        const int n = valid[b];
        const int off = b * lanes;
        for (int i = 0; i < rows; ++i) {  // (A^T M) A (along the columns)
          vec y[M];
          output_1d(t[i], y);
          for (int j = 0; j < cols; ++j) {
            // bias + result [+ residual at the same place], then the epilogue, stored.
            const std::size_t o = at + (std::size_t(i) * W + j) * F + off;
            vec v = bv[b] + y[j];
            if constexpr (Add) v = v + detail::load_first<vec>(residual + o, n);
            detail::store_first(detail::apply_epilogue<Epilogue>(v), out + o, n);
          }
        }
      }
    }
  }
};

}  // namespace winograd_detail

/// F(MxM, 3x3) of one layer shape: its constants and packing; the kernels are winograd_detail::engine's,
/// shared by every layer with the same (Arch, M, NB).
template <int C, int H, int W, int F, class Arch = xsimd::default_arch, int M = 2>
struct winograd_3x3 {
  static_assert(C > 0 && H > 0 && W > 0 && F > 0, "typenet: winograd_3x3: C, H, W, F must be positive");
  static_assert(M == 2 || M == 4, "typenet: winograd_3x3: output tiles of 2 x 2 or 4 x 4");

  using vec = xsimd::batch<float, Arch>;
  static constexpr int lanes = static_cast<int>(vec::size);
  /// Vectors of output channels per f-block: 4 (64 channels) with AVX-512 when F is that large, at most 2
  /// (16 channels) with AVX2's 16 registers.
  static constexpr int NB = std::min(vector_registers<Arch> == 32 ? 4 : 2, winograd_detail::cdiv(F, lanes));
  using engine = winograd_detail::engine<Arch, M, NB>;
  static constexpr int A = engine::A, P = engine::P, FB = engine::FB, R = engine::R;
  static constexpr int fblocks = winograd_detail::cdiv(F, FB);        ///< the last one may be partial
  static constexpr int Cp = winograd_detail::cdiv(C, lanes) * lanes;  ///< Vbuf row stride
  static constexpr int TH = (H + M - 1) / M, TW = (W + M - 1) / M;
  static constexpr int tiles_per_image = TH * TW;
  /// Tiles per block: 3 register tiles, fewer when Vbuf would exceed ~512 KiB (half of a 1 MiB L2).
  static constexpr int Tmax = std::max(R, std::min(3 * R, int((std::size_t{512} << 10) / (P * sizeof(float) * Cp))));

  static constexpr std::size_t u_block_floats = std::size_t{P} * C * FB;  ///< one f-block of U
  /// Floats of the transformed weights U = G g G^T.
  static constexpr std::size_t packed_floats = std::size_t{fblocks} * u_block_floats;
  static constexpr std::size_t vbuf_floats = std::size_t{P} * Tmax * Cp;
  static constexpr std::size_t mbuf_floats = std::size_t{P} * Tmax * FB;
  /// Scratch floats one part needs (each concurrently running part its own; 64-byte alignment is best).
  static constexpr std::size_t workspace_floats_per_part = vbuf_floats + mbuf_floats;

  /// Packs PyTorch weights w[F][C][3][3] into U = G g G^T, layout [fblock][xi][c][FB] (zero past F).
  static void pack(const float* w, float* packed) { winograd_detail::pack_u(w, packed, C, F, FB, fblocks, M); }

  /// Output tiles of a batch.
  static constexpr std::int64_t tiles(int batch) noexcept { return std::int64_t{batch} * tiles_per_image; }

  /// The tiles [first, last) of part `part` of `parts`.
  static constexpr std::pair<std::int64_t, std::int64_t> part_tiles(int batch, int part, int parts) noexcept {
    return {tiles(batch) * part / parts, tiles(batch) * (part + 1) / parts};
  }

  /// out = Epilogue(bias + conv(in) [+ residual]) for the output pixels of part `part`'s tiles. bias may be
  /// null (zero); residual, when not null, is a tensor of out's layout added before the epilogue.
  template <class Epilogue, bool Add = false>
  static void run(const float* packed, const float* bias, const float* in, float* out, float* workspace, int batch,
                  int part, int parts, const float* residual = nullptr) {
    if (parts < 1 || part < 0 || part >= parts)
      throw std::invalid_argument("typenet: winograd_3x3::run: part " + std::to_string(part) + " is outside 0.." +
                                  std::to_string(parts - 1));
    if (batch < 0) throw std::invalid_argument("typenet: winograd_3x3::run: negative batch");
    const auto [first, last] = part_tiles(batch, part, parts);
    run_tiles<Epilogue, Add>(packed, bias, in, out, workspace, first, last, residual);
  }

  /// The tiles [first, last) (no argument checks).
  template <class Epilogue, bool Add = false>
  static void run_tiles(const float* packed, const float* bias, const float* in, float* out, float* workspace,
                        std::int64_t first, std::int64_t last, const float* residual = nullptr) {
    engine::template run_tiles<Epilogue, Add>(shape, packed, bias, in, out, workspace, first, last, residual);
  }

 private:
  alignas(64) static constexpr float zeros_[Cp] = {};

 public:
  /// This layer's shape, as engine::run_tiles takes it (what a caller that threads several layers' kernels
  /// through one function passes along with &engine::run_tiles<Epilogue, Add>).
  static constexpr winograd_detail::shape shape{C, H, W, F, Cp, TW, tiles_per_image, Tmax, zeros_};
};

}  // namespace typenet::kernels::simd
