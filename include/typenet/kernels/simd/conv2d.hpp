// typenet/kernels/simd/conv2d.hpp: direct convolution on NHWC activations, register-blocked.
//
// Layouts
//   input   [N][H][W][C]   (NHWC, channels contiguous)
//   output  [N][OH][OW][F] (NHWC)
//   weights packed once: [G][block][KH][KW][C/G][B], B = NB * V output channels of one group
//           (V = the vector width: 16 floats for AVX-512), zero-padded past F/G.
//
// The inner loop broadcasts one input value and multiplies it by NB weight vectors, accumulating into
// a register tile of S output pixels x NB vectors of output channels (S * NB accumulators, e.g. 8 x 3):
// every FMA is independent of the others in the same step, so the two FMA pipes stay busy.
//
// Padding: rows of the kernel that fall into the zero padding are skipped (the kh range is clipped per
// output row); columns are handled per tile: a tile whose every tap is inside the input reads a single
// base pointer with compile-time offsets, and with one group the (kw, c) reduction is one contiguous run
// of KW * C floats (this is what makes conv1, with C = 3, efficient); a tile that touches the left or right
// padding points its padding taps at a row of zeros.
//
// Work is split into items (group, output-channel block, image, output row), ordered block-major so that
// a thread's consecutive items reuse one block of weights from cache.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../../config.hpp"
#include "../../core/geometry.hpp"
#include "common.hpp"
#include "dense.hpp"  // epilogues, detail::load_first

namespace typenet::kernels::simd {

/// The compile-time geometry of one conv2d layer.
template <int C, int H, int W, int F, int OH, int OW, int KH, int KW, int SH, int SW, int PH, int PW, int G>
struct conv_geometry {
  static constexpr int c = C, h = H, w = W, f = F, oh = OH, ow = OW, kh = KH, kw = KW;
  static constexpr int sh = SH, sw = SW, ph = PH, pw = PW, g = G;
  static constexpr int cg = C / G, fg = F / G;
};

/// The geometry of a bound conv2d layer (bound_layer of core/network.hpp), from its window_of.
template <class B>
struct conv_geometry_from {
  static constexpr window_geometry g = window_of<B>;
  using type = conv_geometry<g.in_c, g.in_h, g.in_w, g.out_c, g.out_h, g.out_w, g.kernel_h, g.kernel_w, g.stride_h,
                             g.stride_w, g.pad_h, g.pad_w, g.groups>;
};
template <class B>
using conv_geometry_of = typename conv_geometry_from<B>::type;

/// The block layout of conv_kernel's packed weights (see the top of this file).
struct conv_pack_layout {
  int groups, blocks, block, kh, kw, cg, fg;
};

/// Packs PyTorch weights [F][C/G][KH][KW] and bias [F] into [G][block][KH][KW][C/G][B] (zero past F/G). An
/// ordinary function: it runs once when a model is built, so nothing is gained by compiling it per shape.
inline void pack_direct_conv(const float* w, const float* bias, float* packed, float* packed_bias,
                             const conv_pack_layout& l) {
  const std::size_t block_floats = std::size_t(l.kh) * l.kw * l.cg * l.block;
  for (int g = 0; g < l.groups; ++g)
    for (int ob = 0; ob < l.blocks; ++ob)
      for (int j = 0; j < l.block; ++j) {
        const int oc = ob * l.block + j;
        float* pb = packed + (std::size_t(g) * l.blocks + ob) * block_floats;
        for (int kh = 0; kh < l.kh; ++kh)
          for (int kw = 0; kw < l.kw; ++kw)
            for (int ic = 0; ic < l.cg; ++ic) {
              const std::size_t dst = ((std::size_t(kh) * l.kw + kw) * l.cg + ic) * l.block + j;
              pb[dst] = oc < l.fg ? w[((std::size_t(g * l.fg + oc) * l.cg + ic) * l.kh + kh) * l.kw + kw] : 0.f;
            }
        packed_bias[(std::size_t(g) * l.blocks + ob) * l.block + j] = oc < l.fg ? bias[g * l.fg + oc] : 0.f;
      }
}

/// Output-channel vectors per block for a layer of F output channels (per group): 3 when that divides F or
/// F is large, 2 when that divides, else as few as cover F.
template <class Arch>
constexpr int channel_vectors(int f) {
  constexpr int V = static_cast<int>(xsimd::batch<float, Arch>::size);
  return (f % (3 * V) == 0) ? 3 : (f % (2 * V) == 0) ? 2 : (f >= 3 * V) ? 3 : ceil_div(f, V);
}

/// Pixels per register tile for NB channel vectors: S * NB accumulators plus NB weight vectors and a
/// broadcast fit the register file (8, 12, 16 with AVX-512's 32 registers; 4, 6, 14 with AVX2's 16).
template <class Arch>
constexpr int tile_pixels(int nb) {
  return vector_registers<Arch> == 32 ? (nb == 3 ? 8 : nb == 2 ? 12 : 16) : (vector_registers<Arch> - nb - 1) / nb;
}

template <class Geo, class Arch>
struct conv_kernel {
  using batch = xsimd::batch<float, Arch>;
  static constexpr int V = static_cast<int>(batch::size);
  static constexpr int C = Geo::c, H = Geo::h, W = Geo::w, F = Geo::f, OH = Geo::oh, OW = Geo::ow;
  static constexpr int KH = Geo::kh, KW = Geo::kw, SH = Geo::sh, SW = Geo::sw, PH = Geo::ph, PW = Geo::pw;
  static constexpr int G = Geo::g, Cg = Geo::cg, Fg = Geo::fg;

  /// Vectors of output channels per block, and pixels per register tile (the output row is cut into
  /// tiles of nearly equal size).
  static constexpr int NB = channel_vectors<Arch>(Fg);
  static constexpr int B = NB * V;
  static constexpr int blocks = ceil_div(Fg, B);  ///< blocks per group
  static constexpr bool full_blocks = Fg % B == 0;
  static constexpr int max_tile = tile_pixels<Arch>(NB);
  static constexpr int tiles = ceil_div(OW, max_tile);
  static constexpr int tile = ceil_div(OW, tiles);
  static constexpr int last_tile = OW - (tiles - 1) * tile;

  static constexpr std::size_t block_floats = std::size_t{KH} * KW * Cg * B;
  static constexpr std::size_t packed_floats = std::size_t{G} * blocks * block_floats;
  static constexpr std::size_t packed_bias_floats = std::size_t{G} * blocks * B;
  /// Floats of zeros the padding taps read.
  static constexpr std::size_t zero_floats = Cg;

  /// Packs PyTorch weights [F][C/G][KH][KW] and bias [F] into this kernel's layout.
  static void pack(const float* w, const float* bias, float* packed, float* packed_bias) {
    pack_direct_conv(w, bias, packed, packed_bias, {G, blocks, B, KH, KW, Cg, Fg});
  }

  /// Work items for a batch: one per (group, block, image, output row).
  static constexpr std::int64_t items(int batch) { return std::int64_t{G} * blocks * batch * OH; }

  /// Computes items [begin, end): out = Epilogue(conv(in) + bias [+ residual]). residual, when not null, is
  /// a tensor of out's layout (NHWC, F channels) added before the epilogue (a residual block's join).
  /// Add: whether there is a residual (a template argument, so a kernel without one is not compiled with it).
  template <class Epilogue, bool Add = false>
  TYPENET_NOINLINE static void run(const float* packed, const float* packed_bias, const float* in, float* out,
                                   const float* zeros, int batch, std::int64_t begin, std::int64_t end,
                                   const float* residual = nullptr) {
    const std::int64_t rows = std::int64_t{batch} * OH;
    for (std::int64_t i = begin; i < end; ++i) {
      const int gb = static_cast<int>(i / rows);
      const int r = static_cast<int>(i % rows);
      const int n = r / OH, oh = r % OH;
      const int g = gb / blocks, ob = gb % blocks;
      const float* w = packed + std::size_t(gb) * block_floats;
      const float* bias = packed_bias + std::size_t(gb) * B;
      const float* x = in + std::size_t(n) * H * W * C + std::size_t(g) * Cg;
      const std::size_t at = (std::size_t(n) * OH + oh) * OW * F + std::size_t(g) * Fg + std::size_t(ob) * B;
      float* y = out + at;
      const float* res = Add ? residual + at : nullptr;
      const int ih0 = oh * SH - PH;
      const int kh0 = std::max(0, -ih0), kh1 = std::min(KH, H - ih0);
      const int valid = std::min(B, Fg - ob * B);
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
  /// No column padding and the last window inside the input (every 1x1 convolution): every tile is
  /// interior, and the padding variant of the tile kernel is not compiled.
  static constexpr bool all_interior = PW == 0 && (OW - 1) * SW + KW <= W;
  /// Whether every tap of the tile's S output pixels lies inside the input columns.
  static constexpr bool interior(int ow0, int s) { return ow0 * SW - PW >= 0 && (ow0 + s - 1) * SW - PW + KW <= W; }

  // acc[p][b] += x[p * Stride + r] * w[r * B + b * V] for r in [0, Len).
  template <int S, int Stride, int Len>
  TYPENET_ALWAYS_INLINE static void accumulate_run(batch (&acc)[S][NB], const float* x, const float* w) {
    for (int r = 0; r < Len; ++r) {
      batch wv[NB];
      TYPENET_UNROLL
      for (int b = 0; b < NB; ++b) wv[b] = batch::load_aligned(w + r * B + b * V);
      TYPENET_UNROLL
      for (int p = 0; p < S; ++p) {
        const batch xv(x[p * Stride + r]);
        TYPENET_UNROLL
        for (int b = 0; b < NB; ++b) acc[p][b] = xsimd::fma(xv, wv[b], acc[p][b]);
      }
    }
  }

  // The same with one pointer per pixel (tiles touching the padding).
  template <int S>
  TYPENET_ALWAYS_INLINE static void accumulate_ptrs(batch (&acc)[S][NB], const float* const (&x)[S], const float* w) {
    for (int r = 0; r < Cg; ++r) {
      batch wv[NB];
      TYPENET_UNROLL
      for (int b = 0; b < NB; ++b) wv[b] = batch::load_aligned(w + r * B + b * V);
      TYPENET_UNROLL
      for (int p = 0; p < S; ++p) {
        const batch xv(x[p][r]);
        TYPENET_UNROLL
        for (int b = 0; b < NB; ++b) acc[p][b] = xsimd::fma(xv, wv[b], acc[p][b]);
      }
    }
  }

  template <int S, bool Interior, class Epilogue, bool Add>
  static void tile_kernel(const float* w, const float* bias, const float* x, float* y, const float* res, int ih0,
                          int kh0, int kh1, int ow0, const float* zeros, int valid) {
    batch acc[S][NB];
    TYPENET_UNROLL
    for (int b = 0; b < NB; ++b) {
      const batch bv = batch::load_aligned(bias + b * V);
      TYPENET_UNROLL
      for (int p = 0; p < S; ++p) acc[p][b] = bv;
    }
    for (int kh = kh0; kh < kh1; ++kh) {
      const float* wk = w + std::size_t(kh) * KW * Cg * B;
      const float* xr = x + std::size_t(ih0 + kh) * W * C;
      if constexpr (Interior) {
        const float* xp = xr + std::size_t(ow0 * SW - PW) * C;
        if constexpr (G == 1) {
          accumulate_run<S, SW * C, KW * C>(acc, xp, wk);
        } else {
          for (int kw = 0; kw < KW; ++kw)
            accumulate_run<S, SW * C, Cg>(acc, xp + kw * C, wk + std::size_t(kw) * Cg * B);
        }
      } else {
        for (int kw = 0; kw < KW; ++kw) {
          const float* ptr[S];
          TYPENET_UNROLL
          for (int p = 0; p < S; ++p) {
            const int iw = (ow0 + p) * SW - PW + kw;
            ptr[p] = (iw >= 0 && iw < W) ? xr + std::size_t(iw) * C : zeros;
          }
          accumulate_ptrs<S>(acc, ptr, wk + std::size_t(kw) * Cg * B);
        }
      }
    }
    TYPENET_UNROLL
    for (int p = 0; p < S; ++p) {
      float* yp = y + std::size_t(ow0 + p) * F;
      if constexpr (Add) {
        const float* rp = res + std::size_t(ow0 + p) * F;
        TYPENET_UNROLL
        for (int b = 0; b < NB; ++b) {
          const int n = std::clamp(valid - b * V, 0, V);
          if (n > 0) acc[p][b] = acc[p][b] + detail::load_first<batch>(rp + b * V, n);
        }
      }
      TYPENET_UNROLL
      for (int b = 0; b < NB; ++b) acc[p][b] = detail::apply_epilogue<Epilogue>(acc[p][b]);
      if (full_blocks || valid == B) {
        TYPENET_UNROLL
        for (int b = 0; b < NB; ++b) acc[p][b].store_unaligned(yp + b * V);
      } else {
        alignas(64) float tmp[B];
        TYPENET_UNROLL
        for (int b = 0; b < NB; ++b) acc[p][b].store_aligned(tmp + b * V);
        std::memcpy(yp, tmp, sizeof(float) * std::size_t(std::clamp(valid, 0, B)));
      }
    }
  }
};

}  // namespace typenet::kernels::simd
