// typenet/kernels/simd/winograd.hpp: Winograd F(2x2, 3x3) convolution for 3x3 kernels, stride 1, pad 1,
// groups 1, on NHWC activations.
//
//   out[n][y][x][f] = Epilogue(bias[f] + sum_{c, kh, kw} in[n][y + kh - 1][x + kw - 1][c] * w[f][c][kh][kw])
//
// The output is cut into 2 x 2 tiles (TH = ceil(H/2) x TW = ceil(W/2) per image; the last row/column of
// tiles is clipped when H or W is odd). Each tile reads a 4 x 4 input patch d (zeros outside the image) and
//
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A        (.) = element-wise over the 16 positions xi
//
// so per tile and (c, f) pair 16 multiplies replace 36. With the 16 positions as the outer index, the
// element-wise products summed over c are 16 independent GEMMs M[xi] = V[xi] [T x C] * U[xi] [C x F].
//
// Layouts
//   packed  U = G g G^T: [fblock][xi][c][FB], FB = NB * lanes output channels per block (64 with AVX-512
//           when F >= 64), zero past F. One f-block of U (16 * C * FB floats) is one contiguous stream.
//   workspace per part: Vbuf [16][Tmax][Cp] (input transforms of a block of tiles, Cp = C rounded up to
//           the vector width) then Mbuf [16][Tmax][FB] (GEMM results of one f-block).
//
// run(part, parts): the tiles (over batch x tile rows x tile cols) are split into `parts` contiguous
// ranges; a part cuts its range into blocks of at most Tmax tiles (nearly equal sizes). Per block:
//   1. input transform of every tile into Vbuf (vectorised over channels; out-of-image taps read a
//      static row of zeros);
//   2. per f-block: 16 GEMMs Vbuf[xi] x U[xi] -> Mbuf[xi] with a register tile of R tiles x NB vectors
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

#include "common.hpp"  // vector_registers
#include "dense.hpp"   // epilogue_none, epilogue_relu, detail::load_first / store_first

namespace typenet::kernels::simd {

namespace winograd_detail {

#define TYPENET_WINO_INLINE TYPENET_SIMD_ALWAYS_INLINE
#if defined(__GNUC__)
#define TYPENET_WINO_INLINE_LAMBDA __attribute__((always_inline))
#else
#define TYPENET_WINO_INLINE_LAMBDA
#endif

template <int N, class Fn>
TYPENET_WINO_INLINE void unroll(Fn&& fn) {
  [&]<int... I>(std::integer_sequence<int, I...>) { (fn(std::integral_constant<int, I>{}), ...); }
  (std::make_integer_sequence<int, N>{});
}

/// Calls fn.template operator()<R>() for the run-time r in [1, Max].
template <int Max, class Fn>
inline void with_count(int r, Fn&& fn) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    (void)((r == I + 1 ? (fn.template operator()<I + 1>(), true) : false) || ...);
  }
  (std::make_integer_sequence<int, Max>{});
}

constexpr int cdiv(int a, int b) { return (a + b - 1) / b; }

/// Packs PyTorch weights w[F][C][3][3] into U = G g G^T, layout [fblock][xi][c][FB] (zero past F). An ordinary
/// function: it runs once when a model is built.
inline void pack_u(const float* w, float* packed, int C, int F, int FB, int fblocks) {
  // G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
  constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  for (int fb = 0; fb < fblocks; ++fb)
    for (int j = 0; j < FB; ++j) {
      const int f = fb * FB + j;
      for (int c = 0; c < C; ++c) {
        double u[4][4] = {};
        if (f < F) {
          const float* g = w + (std::size_t(f) * C + c) * 9;
          double t[4][3];  // G g
          for (int i = 0; i < 4; ++i)
            for (int k = 0; k < 3; ++k) t[i][k] = G[i][0] * g[k] + G[i][1] * g[3 + k] + G[i][2] * g[6 + k];
          for (int i = 0; i < 4; ++i)  // (G g) G^T
            for (int k = 0; k < 4; ++k) u[i][k] = t[i][0] * G[k][0] + t[i][1] * G[k][1] + t[i][2] * G[k][2];
        }
        for (int xi = 0; xi < 16; ++xi)
          packed[((std::size_t(fb) * 16 + xi) * C + c) * FB + j] = static_cast<float>(u[xi / 4][xi % 4]);
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
inline constexpr bool winograd_suits = Geo::kh == 3 && Geo::kw == 3 && Geo::sh == 1 && Geo::sw == 1 && Geo::ph == 1 &&
                                       Geo::pw == 1 && Geo::g == 1 && Geo::c >= 16 && Geo::f >= 16 &&
                                       ((Geo::h + 1) / 2) * ((Geo::w + 1) / 2) >= 25;

template <int C, int H, int W, int F, class Arch = xsimd::default_arch>
struct winograd_3x3 {
  static_assert(C > 0 && H > 0 && W > 0 && F > 0, "typenet: winograd_3x3: C, H, W, F must be positive");

  using vec = xsimd::batch<float, Arch>;
  static constexpr int lanes = static_cast<int>(vec::size);
  static constexpr int registers = vector_registers<Arch>;
  /// Vectors of output channels per f-block: 4 (64 channels) with AVX-512 when F is that large, at most 2
  /// (16 channels) with AVX2's 16 registers.
  static constexpr int NB = std::min(registers == 32 ? 4 : 2, winograd_detail::cdiv(F, lanes));
  static constexpr int FB = NB * lanes;                         ///< output channels per f-block
  static constexpr int fblocks = winograd_detail::cdiv(F, FB);  ///< the last one may be partial
  /// Tiles per register tile of the GEMM: R * NB accumulators + NB loads + 1 broadcast fit the register
  /// file (AVX-512: 6 x 4, 8 x 3, 12 x 2 or 1; AVX2: 6 x 2, 12 x 1).
  static constexpr int R = registers == 32 ? (NB >= 4 ? 6 : NB == 3 ? 8 : 12) : (NB == 2 ? 6 : 12);
  static constexpr int Cp = winograd_detail::cdiv(C, lanes) * lanes;  ///< Vbuf row stride
  static constexpr int TH = (H + 1) / 2, TW = (W + 1) / 2;
  static constexpr int tiles_per_image = TH * TW;
  /// Tiles per block: 3 register tiles, fewer when Vbuf would exceed ~512 KiB (half of a 1 MiB L2).
  static constexpr int Tmax = std::max(R, std::min(3 * R, int((std::size_t{512} << 10) / (16 * sizeof(float) * Cp))));

  static constexpr std::size_t u_block_floats = std::size_t{16} * C * FB;  ///< one f-block of U
  /// Floats of the transformed weights U = G g G^T.
  static constexpr std::size_t packed_floats = std::size_t{fblocks} * u_block_floats;
  static constexpr std::size_t vbuf_floats = std::size_t{16} * Tmax * Cp;
  static constexpr std::size_t mbuf_floats = std::size_t{16} * Tmax * FB;
  /// Scratch floats one part needs (each concurrently running part its own; 64-byte alignment is best).
  static constexpr std::size_t workspace_floats_per_part = vbuf_floats + mbuf_floats;

  /// Packs PyTorch weights w[F][C][3][3] into U = G g G^T, layout [fblock][xi][c][FB] (zero past F).
  static void pack(const float* w, float* packed) { winograd_detail::pack_u(w, packed, C, F, FB, fblocks); }

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
    const std::int64_t count = last - first;
    if (count <= 0) return;
    const std::int64_t nblk = (count + Tmax - 1) / Tmax;
    float* vbuf = workspace;
    float* mbuf = workspace + vbuf_floats;
    for (std::int64_t b = 0; b < nblk; ++b) {
      const std::int64_t t0 = first + count * b / nblk;
      const int T = static_cast<int>(first + count * (b + 1) / nblk - t0);
      input_transform(in, vbuf, t0, T);
      for (int fb = 0; fb < fblocks; ++fb) {
        gemms(packed + fb * u_block_floats, vbuf, mbuf, T);
        output_transform<Epilogue, Add>(mbuf, bias, out, t0, T, fb, residual);
      }
    }
  }

 private:
  alignas(64) static constexpr float zeros_[Cp] = {};

  struct tile_pos {
    int n, y0, x0;  // image, top-left output pixel
  };
  static tile_pos position(std::int64_t t) noexcept {
    const int n = static_cast<int>(t / tiles_per_image);
    const int r = static_cast<int>(t % tiles_per_image);
    return {n, 2 * (r / TW), 2 * (r % TW)};
  }

  // V[xi][k][c] = (B^T d B)[xi] for the T tiles from t0, d the 4 x 4 input patch of channel c.
  // B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
  static void input_transform(const float* in, float* vbuf, std::int64_t t0, int T) {
    for (int k = 0; k < T; ++k) {
      const tile_pos p = position(t0 + k);
      const float* img = in + std::size_t(p.n) * H * W * C;
      const float* src[4][4];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          const int y = p.y0 - 1 + i, x = p.x0 - 1 + j;
          src[i][j] = (y >= 0 && y < H && x >= 0 && x < W) ? img + (std::size_t(y) * W + x) * C : zeros_;
        }
      float* dst = vbuf + std::size_t(k) * Cp;
      constexpr int full = C / lanes;
      for (int cv = 0; cv < full; ++cv) transform_one(src, dst, cv * lanes, lanes);
      if constexpr (C % lanes != 0) transform_one(src, dst, full * lanes, C % lanes);
    }
  }

  TYPENET_WINO_INLINE static void transform_one(const float* const (&src)[4][4], float* dst, int c, int n) {
    vec d[4][4];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j)
        d[i][j] = n == lanes ? vec::load_unaligned(src[i][j] + c) : detail::load_first<vec>(src[i][j] + c, n);
    vec t[4][4];
    for (int j = 0; j < 4; ++j) {  // B^T d (along the rows)
      t[0][j] = d[0][j] - d[2][j];
      t[1][j] = d[1][j] + d[2][j];
      t[2][j] = d[2][j] - d[1][j];
      t[3][j] = d[1][j] - d[3][j];
    }
    constexpr std::size_t plane = std::size_t{Tmax} * Cp;
    for (int i = 0; i < 4; ++i) {  // (B^T d) B (along the columns)
      float* o = dst + std::size_t(4 * i) * plane + c;
      (t[i][0] - t[i][2]).store_unaligned(o);
      (t[i][1] + t[i][2]).store_unaligned(o + plane);
      (t[i][2] - t[i][1]).store_unaligned(o + 2 * plane);
      (t[i][1] - t[i][3]).store_unaligned(o + 3 * plane);
    }
  }

  // M[xi][k][0..FB) = sum_c V[xi][k][c] * U[xi][c][0..FB) for the block's T tiles and one f-block of U.
  static void gemms(const float* u, const float* vbuf, float* mbuf, int T) {
    const int groups = (T + R - 1) / R;
    for (int xi = 0; xi < 16; ++xi) {
      const float* ux = u + std::size_t(xi) * C * FB;
      const float* vx = vbuf + std::size_t(xi) * Tmax * Cp;
      float* mx = mbuf + std::size_t(xi) * Tmax * FB;
      for (int g = 0; g < groups; ++g) {
        const int k0 = T * g / groups, rows = T * (g + 1) / groups - k0;
        winograd_detail::with_count<R>(
            rows, [&]<int RR>() { micro<RR>(ux, vx + std::size_t(k0) * Cp, mx + std::size_t(k0) * FB); });
      }
    }
  }

  template <int RR>
  static void micro(const float* u, const float* v, float* m) {
    vec acc[RR][NB];
    winograd_detail::unroll<RR>([&](auto r) { winograd_detail::unroll<NB>([&](auto b) { acc[r][b] = vec(0.0f); }); });
    for (int c = 0; c < C; ++c) {
      vec w[NB];
      winograd_detail::unroll<NB>([&](auto b) { w[b] = vec::load_unaligned(u + std::size_t(c) * FB + b * lanes); });
      winograd_detail::unroll<RR>([&](auto r) {
        const vec x(v[r * Cp + c]);
        winograd_detail::unroll<NB>([&](auto b) { acc[r][b] = xsimd::fma(x, w[b], acc[r][b]); });
      });
    }
    winograd_detail::unroll<RR>([&](auto r) {
      winograd_detail::unroll<NB>([&](auto b) { acc[r][b].store_unaligned(m + r * FB + b * lanes); });
    });
  }

  // Y = A^T M A + bias, A^T = [1 1 1 0; 0 1 -1 -1], for the block's tiles and f-block fb, clipped to H x W.
  template <class Epilogue, bool Add>
  static void output_transform(const float* mbuf, const float* bias, float* out, std::int64_t t0, int T, int fb,
                               const float* residual) {
    constexpr std::size_t plane = std::size_t{Tmax} * FB;
    vec bv[NB];
    int valid[NB];
    for (int b = 0; b < NB; ++b) {
      const int f = fb * FB + b * lanes;
      valid[b] = std::clamp(F - f, 0, lanes);
      bv[b] = (bias != nullptr && valid[b] > 0) ? detail::load_first<vec>(bias + f, valid[b]) : vec(0.0f);
    }
    for (int k = 0; k < T; ++k) {
      const tile_pos p = position(t0 + k);
      const bool two_rows = p.y0 + 1 < H, two_cols = p.x0 + 1 < W;
      const std::size_t at = ((std::size_t(p.n) * H + p.y0) * W + p.x0) * F + std::size_t(fb) * FB;
      float* y0 = out + at;
      float* y1 = y0 + std::size_t(W) * F;
      const float* r0 = Add ? residual + at : nullptr;
      const float* r1 = Add ? r0 + std::size_t(W) * F : nullptr;
      for (int b = 0; b < NB; ++b) {
        if (valid[b] <= 0) break;
        const float* mk = mbuf + std::size_t(k) * FB + b * lanes;
        vec s[2][4];
        for (int j = 0; j < 4; ++j) {  // A^T M (along the rows)
          const vec m0 = vec::load_unaligned(mk + (0 + j) * plane), m1 = vec::load_unaligned(mk + (4 + j) * plane);
          const vec m2 = vec::load_unaligned(mk + (8 + j) * plane), m3 = vec::load_unaligned(mk + (12 + j) * plane);
          s[0][j] = m0 + m1 + m2;
          s[1][j] = m1 - m2 - m3;
        }
        const int n = valid[b];
        const int off = b * lanes;
        // bias + result [+ residual at the same place], then the epilogue, stored.
        const auto put = [&](vec v, float* y, const float* r) TYPENET_WINO_INLINE_LAMBDA {
          v = bv[b] + v;
          if constexpr (Add) v = v + detail::load_first<vec>(r + off, n);
          detail::store_first(detail::apply_epilogue<Epilogue>(v), y + off, n);
        };
        put(s[0][0] + s[0][1] + s[0][2], y0, r0);
        if (two_cols) put(s[0][1] - s[0][2] - s[0][3], y0 + F, r0 + (Add ? F : 0));
        if (two_rows) {
          put(s[1][0] + s[1][1] + s[1][2], y1, r1);
          if (two_cols) put(s[1][1] - s[1][2] - s[1][3], y1 + F, r1 + (Add ? F : 0));
        }
      }
    }
  }
};

}  // namespace typenet::kernels::simd
