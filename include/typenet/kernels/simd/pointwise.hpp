// typenet/kernels/simd/pointwise.hpp: 1x1 convolution with stride 1 and one group on NHWC activations, as
// one packed matrix product over every pixel of the batch.
//
//   out[p][f] = Epilogue(bias[f] + sum_c in[p][c] * w[f][c] [+ residual[p][f]])
//
// NHWC stores the pixels of a batch as one row-major matrix [N*H*W][C], so a 1x1 convolution is the GEMM
// [P][C] x [C][F] whatever H and W are. The register tile is S pixels x NB vectors of output channels, as in
// conv2d.hpp's direct kernel, but the pixels are counted along the flattened matrix instead of along one
// output row: on 7, 14 and 28 pixel wide maps (ResNet-50's and MobileNetV2's later stages) the direct
// kernel's tiles hold 7 pixels where the register file has room for 8 (NB = 3) or 12 (NB = 2).
//
// Shapes are run-time values here: only NB (from F), the epilogue, the residual flag and the height of an
// image's last tile are template arguments, so the 1x1 layers of a network share a few tile functions
// (ResNet-50: 3 epilogues x 2 heights, all NB = 2) where the direct kernel compiles them per layer
// geometry. Being FMA-bound, the product is not faster than the direct kernel's 7-pixel tiles
// (measured: docs/performance.md); what it saves is compile time and code.
//
// Layouts: packed weights [block][C][B], B = NB * V output channels (zero past F) - conv2d.hpp's packing
// with a 1x1 window; packed bias [block][B]. Work items: (block, run of item_pixels pixels), block-major,
// so that a thread's consecutive items reuse one block of weights (C * B floats) from cache.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common.hpp"
#include "conv2d.hpp"  // pack_direct_conv, channel_vectors, tile_pixels
#include "dense.hpp"   // epilogues, detail::load_first

namespace typenet::kernels::simd {

template <int NB, class Arch>
struct pointwise_kernel {
  using vec = xsimd::batch<float, Arch>;
  static constexpr int V = static_cast<int>(vec::size);
  static constexpr int B = NB * V;
  static constexpr int S = tile_pixels<Arch>(NB);
  /// Pixels per work item: a few tiles, so that items are many enough to balance threads at batch 1 and
  /// few enough that claiming them costs nothing. A run never crosses an image, so only an image's last
  /// tile can be short, and its height (pixels per image mod S) is a template argument of run().
  static constexpr int item_pixels = 4 * S;
  static constexpr int blocks(int f) { return ceil_div(f, B); }
  static constexpr std::size_t packed_floats(int c, int f) { return std::size_t(blocks(f)) * c * B; }
  static constexpr std::size_t packed_bias_floats(int f) { return std::size_t(blocks(f)) * B; }
  static constexpr std::int64_t runs(std::int64_t image_pixels) {
    return (image_pixels + item_pixels - 1) / item_pixels;
  }
  /// Work items: (block, image, run of item_pixels pixels), block-major.
  static constexpr std::int64_t items(std::int64_t image_pixels, int images, int f) {
    return std::int64_t{blocks(f)} * images * runs(image_pixels);
  }

  /// Packs PyTorch weights [F][C][1][1] and bias [F] (not null).
  static void pack(const float* w, const float* bias, float* packed, float* packed_bias, int c, int f) {
    pack_direct_conv(w, bias, packed, packed_bias, {1, blocks(f), B, 1, 1, c, f});
  }

  /// Computes items [begin, end) of the product over `images` images of `image_pixels` pixels each, C
  /// channels into F. Tail must be image_pixels % S (the height of an image's last tile). With Add,
  /// residual (out's layout, [pixels][F]) is added before the epilogue.
  template <class Epilogue, bool Add, int Tail>
  static void run(const float* packed, const float* packed_bias, const float* in, float* out, int c, int f,
                  std::int64_t image_pixels, int images, std::int64_t begin, std::int64_t end,
                  const float* residual = nullptr) {
    static_assert(Tail >= 0 && Tail < S, "typenet: pointwise_kernel: Tail is image pixels mod S");
    const std::int64_t per_image = runs(image_pixels), per_block = per_image * images;
    for (std::int64_t i = begin; i < end; ++i) {
      const int ob = static_cast<int>(i / per_block);
      const std::int64_t n = (i % per_block) / per_image, run = i % per_image;
      const std::int64_t image_end = (n + 1) * image_pixels;
      const std::int64_t p0 = n * image_pixels + run * item_pixels, p1 = std::min(image_end, p0 + item_pixels);
      const float* w = packed + std::size_t(ob) * c * B;
      const float* bias = packed_bias + std::size_t(ob) * B;
      const int valid = std::min(B, f - ob * B);
      std::int64_t p = p0;
      for (; p + S <= p1; p += S) tile<S, Epilogue, Add>(w, bias, in, out, residual, p, ob, c, f, valid);
      if constexpr (Tail > 0)
        if (p < p1) tile<Tail, Epilogue, Add>(w, bias, in, out, residual, p, ob, c, f, valid);
    }
  }

 private:
  // Pixels [p, p + H) times the block's weights [c][B]. The input rows are addressed in groups of 4 from
  // one pointer each plus c, 2c, 3c: 4 address registers, not one per row, for the 12 rows of NB = 2.
  template <int H, class Epilogue, bool Add>
  static void tile(const float* w, const float* bias, const float* in, float* out, const float* residual,
                   std::int64_t p, int ob, int c, int f, int valid) {
    const float* x = in + std::size_t(p) * c;
    float* y = out + std::size_t(p) * f + std::size_t(ob) * B;
    const float* res = Add ? residual + std::size_t(p) * f + std::size_t(ob) * B : nullptr;
    vec acc[H][NB];
    static_for<NB>([&](auto b) {
      const vec bv = vec::load_aligned(bias + b * V);
      static_for<H>([&](auto p) { acc[p][b] = bv; });
    });
    constexpr int groups = ceil_div(H, 4);
    const float* xg[groups];
    static_for<groups>([&](auto g) { xg[g] = x + std::size_t(4 * g) * c; });
    const std::size_t stride[4] = {0, std::size_t(c), 2 * std::size_t(c), 3 * std::size_t(c)};
    for (int k = 0; k < c; ++k) {
      vec wv[NB];
      static_for<NB>([&](auto b) { wv[b] = vec::load_aligned(w + std::size_t(k) * B + b * V); });
      static_for<H>([&](auto p) {
        const vec xv(xg[p / 4][stride[p % 4] + std::size_t(k)]);
        static_for<NB>([&](auto b) { acc[p][b] = xsimd::fma(xv, wv[b], acc[p][b]); });
      });
    }
    static_for<H>([&](auto p) {
      float* yp = y + std::size_t(p) * f;
      if constexpr (Add) {
        const float* rp = res + std::size_t(p) * f;
        static_for<NB>([&](auto b) {
          const int n = std::clamp(valid - int(b) * V, 0, V);
          if (n > 0) acc[p][b] = acc[p][b] + detail::load_first<vec>(rp + b * V, n);
        });
      }
      static_for<NB>([&](auto b) { acc[p][b] = detail::apply_epilogue<Epilogue>(acc[p][b]); });
      if (valid == B) {
        static_for<NB>([&](auto b) { acc[p][b].store_unaligned(yp + b * V); });
      } else {
        alignas(64) float tmp[B];
        static_for<NB>([&](auto b) { acc[p][b].store_aligned(tmp + b * V); });
        std::memcpy(yp, tmp, sizeof(float) * std::size_t(std::clamp(valid, 0, B)));
      }
    });
  }
};

}  // namespace typenet::kernels::simd
