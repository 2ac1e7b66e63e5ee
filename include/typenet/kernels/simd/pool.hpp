// typenet/kernels/simd/pool.hpp: max, average and adaptive average pooling on NHWC activations.
//
// Each item is one output row (image, oh); channels are vectorised (V floats at a time, a scalar loop for
// the tail). Window rules are PyTorch's: max pooling ignores padding; average pooling counts padding as
// zeros (count_include_pad) and divides by the window clipped to the padded input (ceil mode); adaptive
// pooling uses start = floor(i * H / OH), end = ceil((i + 1) * H / OH). Max pooling propagates NaN.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "../../core/geometry.hpp"
#include "../../layers/tags.hpp"
#include "common.hpp"
#include "dense.hpp"  // elem_io

namespace typenet::kernels::simd {

enum class pool_op { max, average };

/// The compile-time geometry of a pooling window over C x H x W -> C x OH x OW.
template <int C, int H, int W, int OH, int OW, int KH, int KW, int SH, int SW, int PH, int PW>
struct pool_geometry {
  static constexpr int c = C, h = H, w = W, oh = OH, ow = OW, kh = KH, kw = KW, sh = SH, sw = SW, ph = PH, pw = PW;
};
/// The geometry of a bound max_pool or avg_pool layer, from its window_of.
template <class B>
struct pool_geometry_from {
  static constexpr window_geometry g = window_of<B>;
  using type = pool_geometry<g.in_c, g.in_h, g.in_w, g.out_h, g.out_w, g.kernel_h, g.kernel_w, g.stride_h, g.stride_w,
                             g.pad_h, g.pad_w>;
};
template <class B>
using pool_geometry_of = typename pool_geometry_from<B>::type;

/// Elem: the stored type of the activations (float; bf16_t from bf16.hpp: loaded and widened exactly, the
/// window reduced in fp32, the result rounded once, which for a max is exact).
template <class Geo, pool_op Op, class Arch, class Elem = float>
struct pool_kernel {
  using batch = xsimd::batch<float, Arch>;
  using io = elem_io<Elem>;
  static constexpr int V = static_cast<int>(batch::size);
  static constexpr int C = Geo::c, H = Geo::h, W = Geo::w, OH = Geo::oh, OW = Geo::ow;

  static constexpr std::int64_t items(int batch_size) { return std::int64_t{batch_size} * OH; }

  /// Output rows [begin, end) of the batch; in [N][H][W][C] -> out [N][OH][OW][C].
  static void run(const Elem* in, Elem* out, std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      const int n = static_cast<int>(i / OH), oh = static_cast<int>(i % OH);
      const Elem* x = in + std::size_t(n) * H * W * C;
      const int hs0 = oh * Geo::sh - Geo::ph;
      const int he0 = std::min(hs0 + Geo::kh, H + Geo::ph);
      const int hs = std::max(hs0, 0), he = std::min(he0, H);
      for (int ow = 0; ow < OW; ++ow) {
        const int ws0 = ow * Geo::sw - Geo::pw;
        const int we0 = std::min(ws0 + Geo::kw, W + Geo::pw);
        const int ws = std::max(ws0, 0), we = std::min(we0, W);
        const float scale = 1.f / static_cast<float>((he0 - hs0) * (we0 - ws0));
        Elem* y = out + ((std::size_t(n) * OH + oh) * OW + ow) * C;
        window(x, y, hs, he, ws, we, scale);
      }
    }
  }

 private:
  static void window(const Elem* x, Elem* y, int hs, int he, int ws, int we, float scale) {
    // Channels [c, c + n) in one vector (n <= V; past n, lanes read 0 and are not stored).
    const auto vector = [&](int c, int n) TYPENET_INLINE_LAMBDA {
      batch acc = Op == pool_op::max ? batch(-std::numeric_limits<float>::infinity()) : batch(0.f);
      for (int ih = hs; ih < he; ++ih)
        for (int iw = ws; iw < we; ++iw) {
          const Elem* p = x + (std::size_t(ih) * W + iw) * C + c;
          const batch v = n == V ? io::template load<batch>(p) : io::template load_first<batch>(p, n);
          if constexpr (Op == pool_op::max)
            acc = xsimd::select((v > acc) | is_nan(v), v, acc);  // NaN wins
          else
            acc += v;
        }
      if constexpr (Op == pool_op::average) acc *= batch(scale);
      if (n == V)
        io::store(acc, y + c);
      else
        io::store_first(acc, y + c, n);
    };
    int c = 0;
    for (; c + V <= C; c += V) vector(c, V);
    if constexpr (!std::is_same_v<Elem, float>) {  // a masked vector for the tail
      if (c < C) vector(c, C - c);
    } else {
      for (; c < C; ++c) {
        float acc = Op == pool_op::max ? -std::numeric_limits<float>::infinity() : 0.f;
        for (int ih = hs; ih < he; ++ih)
          for (int iw = ws; iw < we; ++iw) {
            const float v = x[(std::size_t(ih) * W + iw) * C + c];
            if constexpr (Op == pool_op::max) {
              if (v > acc || std::isnan(v)) acc = v;
            } else {
              acc += v;
            }
          }
        y[c] = Op == pool_op::average ? acc * scale : acc;
      }
    }
  }
};

/// Adaptive average pooling C x H x W -> C x OH x OW on NHWC.
template <int C, int H, int W, int OH, int OW, class Arch>
struct adaptive_avg_pool_kernel {
  using batch = xsimd::batch<float, Arch>;
  static constexpr int V = static_cast<int>(batch::size);
  static constexpr std::int64_t items(int batch_size) { return std::int64_t{batch_size} * OH; }

  static void run(const float* in, float* out, std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      const int n = static_cast<int>(i / OH), oh = static_cast<int>(i % OH);
      const float* x = in + std::size_t(n) * H * W * C;
      const int hs = oh * H / OH, he = ((oh + 1) * H + OH - 1) / OH;
      for (int ow = 0; ow < OW; ++ow) {
        const int ws = ow * W / OW, we = ((ow + 1) * W + OW - 1) / OW;
        const float scale = 1.f / static_cast<float>((he - hs) * (we - ws));
        float* y = out + ((std::size_t(n) * OH + oh) * OW + ow) * C;
        int c = 0;
        for (; c + V <= C; c += V) {
          batch acc(0.f);
          for (int ih = hs; ih < he; ++ih)
            for (int iw = ws; iw < we; ++iw) acc += batch::load_unaligned(x + (std::size_t(ih) * W + iw) * C + c);
          (acc * batch(scale)).store_unaligned(y + c);
        }
        for (; c < C; ++c) {
          float acc = 0.f;
          for (int ih = hs; ih < he; ++ih)
            for (int iw = ws; iw < we; ++iw) acc += x[(std::size_t(ih) * W + iw) * C + c];
          y[c] = acc * scale;
        }
      }
    }
  }
};

}  // namespace typenet::kernels::simd
