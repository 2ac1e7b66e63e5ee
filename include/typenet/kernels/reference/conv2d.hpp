// typenet/kernels/reference/conv2d.hpp: direct 2-D convolution with bias (or none), stride, zero padding, groups.
//
// out[n, f, y, x] = bias[f] + sum over c in f's group, ky, kx of
//                   weight[f, c - group_start, ky, kx] * in[n, c, y*sh - ph + ky, x*sw - pw + kx]
// where taps outside the input read zero (they are skipped). Sums are kept in double.
#pragma once
#include <cstdint>

#include "../../core/shape.hpp"
#include "../../layers/conv2d.hpp"
#include "geometry.hpp"

namespace typenet::kernels::reference {

/// The plain loop nest; weight is [out_c, in_c / groups, kernel_h, kernel_w], bias is [out_c].
inline void conv2d_plain(const window_geometry& g, const float* in, float* out, int batch, const float* weight,
                         const float* bias) {
  const int in_per_group = g.in_c / g.groups;
  const int out_per_group = g.out_c / g.groups;
  const std::int64_t in_image = std::int64_t{g.in_c} * g.in_h * g.in_w;
  const std::int64_t out_image = std::int64_t{g.out_c} * g.out_h * g.out_w;
  for (int n = 0; n < batch; ++n) {
    const float* image = in + n * in_image;
    float* result = out + n * out_image;
    for (int f = 0; f < g.out_c; ++f) {
      const int first_channel = (f / out_per_group) * in_per_group;
      const float* filter = weight + std::int64_t{f} * in_per_group * g.kernel_h * g.kernel_w;
      for (int y = 0; y < g.out_h; ++y) {
        for (int x = 0; x < g.out_w; ++x) {
          double sum = bias != nullptr ? bias[f] : 0.0;
          for (int c = 0; c < in_per_group; ++c) {
            const float* plane = image + std::int64_t{first_channel + c} * g.in_h * g.in_w;
            const float* taps = filter + std::int64_t{c} * g.kernel_h * g.kernel_w;
            for (int ky = 0; ky < g.kernel_h; ++ky) {
              const int iy = y * g.stride_h - g.pad_h + ky;
              if (iy < 0 || iy >= g.in_h) continue;
              for (int kx = 0; kx < g.kernel_w; ++kx) {
                const int ix = x * g.stride_w - g.pad_w + kx;
                if (ix < 0 || ix >= g.in_w) continue;
                sum += double{taps[ky * g.kernel_w + kx]} * double{plane[std::int64_t{iy} * g.in_w + ix]};
              }
            }
          }
          result[(std::int64_t{f} * g.out_h + y) * g.out_w + x] = static_cast<float>(sum);
        }
      }
    }
  }
}

template <int F, class... Tags, int C, int H, int W, int OH, int OW>
void forward(conv2d<F, Tags...>, shape<C, H, W>, shape<F, OH, OW>, const float* in, float* out, int batch,
             const float* weight, const float* bias) {
  static constexpr window_geometry g = make_window_geometry<conv2d<F, Tags...>, C, H, W, F, OH, OW>();
  conv2d_plain(g, in, out, batch, weight, bias);
}

}  // namespace typenet::kernels::reference
