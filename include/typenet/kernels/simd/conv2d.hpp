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

/// Output-channel vectors per block for a layer of F output channels (per group). With AVX-512's 32 registers:
/// 3 when that divides F or F is large, 2 when that divides, else as few as cover F. With AVX2's 16: 2 when
/// that divides F or F is large (more than 3 vectors, so that a half-empty last block wastes at most a fifth),
/// else as few as cover F: on Zen 3 the 6-pixel x 2-vector tile ran 1x1 layers of 96 - 960 channels and
/// AlexNet's conv1 1.3 - 1.4x faster than the 4 x 3 tile of the same 12 accumulators (docs/performance.md,
/// 2026-12-06), whose weight loads g++ then folded into every FMA; with them held in registers
/// (pin_register) the two tiles are level on those layers (2026-12-07), so 6 x 2 stays. 24 channels stay
/// 4 x 3: as three one-vector blocks they ran 0.7 - 1.2x in different builds (the 1.2 MB input of
/// MobileNetV2's 56 x 56 layer is then read three times).
template <class Arch>
constexpr int channel_vectors(int f) {
  constexpr int V = static_cast<int>(xsimd::batch<float, Arch>::size);
  if constexpr (vector_registers<Arch> == 16) return (f % (2 * V) == 0 || f > 3 * V) ? 2 : ceil_div(f, V);
  return (f % (3 * V) == 0) ? 3 : (f % (2 * V) == 0) ? 2 : (f >= 3 * V) ? 3 : ceil_div(f, V);
}

/// Pixels per register tile for NB channel vectors: S * NB accumulators plus NB weight vectors and a broadcast
/// fit the register file (8, 12, 16 with AVX-512's 32 registers; 4, 6, 13 with AVX2's 16: with 14 one-vector
/// accumulators and ReLU6, objdump showed g++ keeping one of them on the stack inside the loop, the constant 6
/// taking the last register).
template <class Arch>
constexpr int tile_pixels(int nb) {
  return vector_registers<Arch> == 32 ? (nb == 3 ? 8 : nb == 2 ? 12 : 16) : (nb == 3 ? 4 : nb == 2 ? 6 : 13);
}

namespace conv_detail {

/// One row of register tiles of a direct convolution: where it reads and writes, and the layer's strides
/// (read by runtime_geometry; fixed_geometry has them at compile time).
struct tile_args {
  const float* wt;     ///< the block's packed weights [KH][KW][C/G][B]
  const float* bias;   ///< the block's B biases
  const float* x;      ///< the image's input, at the group's first channel
  float* y;            ///< the output row, at the block's first channel
  const float* res;    ///< the residual at y's place (Add), else null
  const float* zeros;  ///< C/G zeros: what padding taps read
  int ih0, kh0, kh1;   ///< the first input row and the kernel rows inside the input
  int valid;           ///< output channels of the block that exist (B, or fewer in the last block)
  int c, in_w, f;      ///< channels in, input width, channels out (the NHWC strides)
  int kw, cg;          ///< kernel width, channels per group
  int sw, pw;          ///< column stride and padding
};

/// A layer's strides as tile<> reads them: at run time from tile_args (one tile serves every layer with the
/// same register tile) ...
struct runtime_geometry {
  static int c(const tile_args& a) { return a.c; }
  static int in_w(const tile_args& a) { return a.in_w; }
  static int f(const tile_args& a) { return a.f; }
  static int kw(const tile_args& a) { return a.kw; }
  static int cg(const tile_args& a) { return a.cg; }
  static int sw(const tile_args& a) { return a.sw; }
  static int pw(const tile_args& a) { return a.pw; }
};
/// ... or from the layer's conv_geometry, as constants.
template <class Geo>
struct fixed_geometry {
  static constexpr int c(const tile_args&) { return Geo::c; }
  static constexpr int in_w(const tile_args&) { return Geo::w; }
  static constexpr int f(const tile_args&) { return Geo::f; }
  static constexpr int kw(const tile_args&) { return Geo::kw; }
  static constexpr int cg(const tile_args&) { return Geo::cg; }
  static constexpr int sw(const tile_args&) { return Geo::sw; }
  static constexpr int pw(const tile_args&) { return Geo::pw; }
};

/// The register tiles of NB output-channel vectors on Arch.
template <class Arch, int NB>
struct tiles {
  using batch = xsimd::batch<float, Arch>;
  static constexpr int V = static_cast<int>(batch::size);
  static constexpr int B = NB * V;

  /// S output pixels from column ow0 of a's row: out = Epilogue(conv + bias [+ residual]). Interior: every
  /// tap inside the input columns (a base pointer per pixel), else padding taps read zeros; Run: one group,
  /// so that a kernel row is one contiguous run of KW x C floats; Full: the block's B output channels all
  /// exist. Geom: runtime_geometry or fixed_geometry<Geo>.
  template <int S, bool Interior, bool Run, bool Full, class Epilogue, bool Add, class Geom>
  TYPENET_ALWAYS_INLINE static void tile(const tile_args& a, int ow0) {
    batch acc[S][NB];
    TYPENET_UNROLL
    for (int b = 0; b < NB; ++b) {
      const batch bv = batch::load_aligned(a.bias + b * V);
      TYPENET_UNROLL
      for (int p = 0; p < S; ++p) acc[p][b] = bv;
    }
    const int C = Geom::c(a), KW = Geom::kw(a), Cg = Geom::cg(a), SW = Geom::sw(a), F = Geom::f(a);
    const std::size_t row = std::size_t(Geom::in_w(a)) * C;
    for (int kh = a.kh0; kh < a.kh1; ++kh) {
      const float* wk = a.wt + std::size_t(kh) * KW * Cg * B;
      const float* xr = a.x + std::size_t(a.ih0 + kh) * row;
      if constexpr (Interior) {
        const float* xp = xr + std::size_t(ow0 * SW - Geom::pw(a)) * C;
        if constexpr (Run) {
          accumulate<S>(acc, xp, std::size_t(SW) * C, wk, KW * C);
        } else {
          for (int kw = 0; kw < KW; ++kw)
            accumulate<S>(acc, xp + std::size_t(kw) * C, std::size_t(SW) * C, wk + std::size_t(kw) * Cg * B, Cg);
        }
      } else {
        for (int kw = 0; kw < KW; ++kw) {
          const float* ptr[S];
          TYPENET_UNROLL
          for (int p = 0; p < S; ++p) {
            const int iw = (ow0 + p) * SW - Geom::pw(a) + kw;
            ptr[p] = (iw >= 0 && iw < Geom::in_w(a)) ? xr + std::size_t(iw) * C : a.zeros;
          }
          accumulate_ptrs<S>(acc, ptr, wk + std::size_t(kw) * Cg * B, Cg);
        }
      }
    }
    TYPENET_UNROLL
    for (int p = 0; p < S; ++p) {
      float* yp = a.y + std::size_t(ow0 + p) * F;
      if constexpr (Add) {
        const float* rp = a.res + std::size_t(ow0 + p) * F;
        TYPENET_UNROLL
        for (int b = 0; b < NB; ++b) {
          if constexpr (Full) {
            acc[p][b] = acc[p][b] + batch::load_unaligned(rp + b * V);
          } else {
            const int n = std::clamp(a.valid - b * V, 0, V);
            if (n > 0) acc[p][b] = acc[p][b] + detail::load_first<batch>(rp + b * V, n);
          }
        }
      }
      TYPENET_UNROLL
      for (int b = 0; b < NB; ++b) acc[p][b] = detail::apply_epilogue<Epilogue>(acc[p][b]);
      if (Full || a.valid == B) {
        TYPENET_UNROLL
        for (int b = 0; b < NB; ++b) acc[p][b].store_unaligned(yp + b * V);
      } else {
        alignas(64) float tmp[B];
        TYPENET_UNROLL
        for (int b = 0; b < NB; ++b) acc[p][b].store_aligned(tmp + b * V);
        std::memcpy(yp, tmp, sizeof(float) * std::size_t(std::clamp(a.valid, 0, B)));
      }
    }
  }

  /// tile<> with the strides at run time, out of line: one copy for every layer with this register tile.
  template <int S, bool Interior, bool Run, bool Full, class Epilogue, bool Add>
  TYPENET_NOINLINE static void shared_tile(const tile_args& a, int ow0) {
    tile<S, Interior, Run, Full, Epilogue, Add, runtime_geometry>(a, ow0);
  }

 private:
  // acc[p][b] += x[p * stride + r] * w[r * B + b * V] for r in [0, len). Pixel p = j * H + k reads from
  // base j at offset k * stride: with the stride at run time, two bases and H offsets fit the general
  // registers next to w and the loop bound (S pointers did not: g++ reloaded two from the stack per step);
  // with it at compile time the offsets are immediates.
  template <int S>
  TYPENET_ALWAYS_INLINE static void accumulate(batch (&acc)[S][NB], const float* x, std::size_t stride, const float* w,
                                               int len) {
    constexpr int H = (S + 1) / 2;
    const float* xb[2] = {x, x + H * stride};
    std::size_t off[H];
    TYPENET_UNROLL
    for (int k = 0; k < H; ++k) off[k] = k * stride;
    accumulate_at<S>(acc, w, len, [&](int p, int r) { return xb[p / H][off[p % H] + r]; });
  }

  // The same with one pointer per pixel (tiles touching the padding).
  template <int S>
  TYPENET_ALWAYS_INLINE static void accumulate_ptrs(batch (&acc)[S][NB], const float* const (&x)[S], const float* w,
                                                    int len) {
    accumulate_at<S>(acc, w, len, [&](int p, int r) { return x[p][r]; });
  }

  // acc[p][b] += in(p, r) * w[r * B + b * V] for r in [0, len): the multiply-adds of a register tile.
  template <int S, class In>
  TYPENET_ALWAYS_INLINE static void accumulate_at(batch (&acc)[S][NB], const float* w, int len, In&& in) {
    for (int r = 0; r < len; ++r) {
      batch wv[NB];
      TYPENET_UNROLL
      for (int b = 0; b < NB; ++b) {
        wv[b] = batch::load_aligned(w + r * B + b * V);
        // With 16 registers g++ reloaded each weight vector in every FMA that used it (pin_register).
        if constexpr (vector_registers<Arch> == 16) pin_register(wv[b]);
      }
      TYPENET_UNROLL
      for (int p = 0; p < S; ++p) {
        const batch xv(in(p, r));
        TYPENET_UNROLL
        for (int b = 0; b < NB; ++b) acc[p][b] = xsimd::fma(xv, wv[b], acc[p][b]);
      }
    }
  }
};

/// The rows a pointwise convolution (1x1, stride 1, no padding) works in with AVX2's 16 registers: `k` output
/// rows of a short map as one row of k * OW pixels (input and output pixels are contiguous in NHWC, so the
/// tiles do not care where a row ends), k the smallest divisor of OH that makes the row at least three tiles
/// long. A 7 x 7 map is then one row of 49 pixels in 9 tiles of 5 - 6 instead of 7 rows of a 4- and a 3-pixel
/// tile (Zen 3, 960 -> 320 channels: 1.45x). Other layers and AVX-512 keep their rows (measured there with
/// them; the merge is not).
template <class Geo, class Arch>
constexpr int merged_rows() {
  const bool pointwise = Geo::kh == 1 && Geo::kw == 1 && Geo::sh == 1 && Geo::sw == 1 && Geo::ph == 0 && Geo::pw == 0 &&
                         Geo::h == Geo::oh && Geo::w == Geo::ow;
  if (vector_registers<Arch> != 16 || !pointwise) return 1;
  const int want = 3 * tile_pixels<Arch>(channel_vectors<Arch>(Geo::fg));
  for (int k = 1; k < Geo::oh; ++k)
    if (Geo::oh % k == 0 && k * Geo::ow >= want) return k;
  return Geo::oh;
}

template <class Geo, int K>
using rows_of = conv_geometry<Geo::c, Geo::h / K, Geo::w * K, Geo::f, Geo::oh / K, Geo::ow * K, Geo::kh, Geo::kw,
                              Geo::sh, Geo::sw, Geo::ph, Geo::pw, Geo::g>;

}  // namespace conv_detail

template <class Geo, class Arch>
struct conv_kernel {
  using batch = xsimd::batch<float, Arch>;
  static constexpr int V = static_cast<int>(batch::size);
  /// Output rows of the layer that one row of work covers (conv_detail::merged_rows; 1 for most layers).
  static constexpr int row_merge = conv_detail::merged_rows<Geo, Arch>();
  /// The geometry the kernel works in: the layer's, with row_merge rows as one.
  using rows_geo = conv_detail::rows_of<Geo, row_merge>;
  static constexpr int C = Geo::c, H = rows_geo::h, W = rows_geo::w, F = Geo::f, OH = rows_geo::oh, OW = rows_geo::ow;
  static constexpr int KH = Geo::kh, KW = Geo::kw, SH = Geo::sh, SW = Geo::sw, PH = Geo::ph, PW = Geo::pw;
  static constexpr int G = Geo::g, Cg = Geo::cg, Fg = Geo::fg;
  /// Rows of work per image (the layer's output rows unless row_merge > 1).
  static constexpr int rows_per_image = OH;

  /// Vectors of output channels per block, and pixels per register tile. A row of OW pixels is cut into
  /// `tiles` tiles: with AVX2, big_tiles of `tile` pixels and then tiles of small_tile = tile - 1 (as even as
  /// can be: 56 = 6 x 6 + 4 x 5, not 9 x 6 + 2, whose 4 accumulators leave the FMA pipes half idle); with
  /// AVX-512 (measured with it), tiles - 1 of `tile` pixels and a last of small_tile.
  static constexpr int NB = channel_vectors<Arch>(Fg);
  static constexpr int B = NB * V;
  static constexpr int blocks = ceil_div(Fg, B);  ///< blocks per group
  static constexpr bool full_blocks = Fg % B == 0;
  static constexpr int max_tile = tile_pixels<Arch>(NB);
  static constexpr int tiles = ceil_div(OW, max_tile);
  static constexpr int tile = ceil_div(OW, tiles);
  static constexpr bool balanced = vector_registers<Arch> == 16;
  static constexpr int big_tiles = balanced ? OW - tiles * (tile - 1) : tiles - 1;
  static constexpr int small_tile = balanced ? tile - 1 : OW - (tiles - 1) * tile;
  static_assert(big_tiles * tile + (tiles - big_tiles) * small_tile == OW);
  /// Whether this layer's tiles are compiled for its shape (strides as immediates, the reduction's length
  /// a constant) rather than shared with every layer of the same register tile: for short reductions (64
  /// floats or fewer per kernel row: a tile is a few hundred FMAs, and the call and run-time strides cost
  /// 3 - 9 % on SqueezeNet's Fire modules) and one-vector blocks (a load per FMA). ResNet-50 shares all its
  /// tiles but the stem's and layer1's (docs/compile-time.md). Only interior tiles: see tile_at. Not with
  /// AVX2 where a kernel row is 9 floats or fewer (a 3x3 stem over RGB): g++ unrolled those steps, hoisted
  /// their broadcasts and spilled them, and the shared tile ran MobileNetV2's and SqueezeNet's stems 12 -
  /// 15 % faster on Zen 3 (ResNet-50's 7x7 and AlexNet's 11x11 stems, 21 and 33 floats, 2 - 4 % slower
  /// shared, so they stay; docs/performance.md, 2026-12-07).
  static constexpr bool specialised =
      NB == 1 || ((G == 1 ? KW * C : Cg) <= 64 && !(vector_registers<Arch> == 16 && G == 1 && KW * C <= 9));

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
    conv_detail::tile_args a{};
    a.zeros = zeros;
    a.c = C, a.in_w = W, a.f = F, a.kw = KW, a.cg = Cg, a.sw = SW, a.pw = PW;
    for (std::int64_t i = begin; i < end; ++i) {
      const int gb = static_cast<int>(i / rows);
      const int r = static_cast<int>(i % rows);
      const int n = r / OH, oh = r % OH;
      const int g = gb / blocks, ob = gb % blocks;
      a.wt = packed + std::size_t(gb) * block_floats;
      a.bias = packed_bias + std::size_t(gb) * B;
      a.x = in + std::size_t(n) * H * W * C + std::size_t(g) * Cg;
      const std::size_t at = (std::size_t(n) * OH + oh) * OW * F + std::size_t(g) * Fg + std::size_t(ob) * B;
      a.y = out + at;
      a.res = Add ? residual + at : nullptr;
      a.ih0 = oh * SH - PH;
      a.kh0 = std::max(0, -a.ih0), a.kh1 = std::min(KH, H - a.ih0);
      a.valid = std::min(B, Fg - ob * B);
      for (int t = 0; t < tiles; ++t) {
        if (t < big_tiles) {
          const int ow0 = t * tile;
          if (all_interior || interior(ow0, tile))
            tile_at<tile, true, Epilogue, Add>(a, ow0);
          else if constexpr (!all_interior)
            tile_at<tile, false, Epilogue, Add>(a, ow0);
        } else if constexpr (big_tiles < tiles) {
          const int ow0 = big_tiles * tile + (t - big_tiles) * small_tile;
          if (all_interior || interior(ow0, small_tile))
            tile_at<small_tile, true, Epilogue, Add>(a, ow0);
          else if constexpr (!all_interior)
            tile_at<small_tile, false, Epilogue, Add>(a, ow0);
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

  template <int S, bool Interior, class Epilogue, bool Add>
  static void tile_at(const conv_detail::tile_args& a, int ow0) {
    using T = conv_detail::tiles<Arch, NB>;
    constexpr bool run = Interior && G == 1;  // padding tiles ignore it: one shared copy for both
    // Padding tiles (a row's first and last) always run the shared copy, out of line: compiled into run()
    // beside the interior tiles of a specialised layer, they made g++ spill the interior tiles' accumulators
    // (MobileNetV2's stem on AVX2: 0.54 -> 0.32 ms once they were out of line).
    if constexpr (specialised && Interior)
      T::template tile<S, Interior, run, full_blocks, Epilogue, Add, conv_detail::fixed_geometry<rows_geo>>(a, ow0);
    else
      T::template shared_tile<S, Interior, run, full_blocks, Epilogue, Add>(a, ow0);
  }
};

}  // namespace typenet::kernels::simd
