// typenet/kernels/reference/pool.hpp: max, average and adaptive average pooling, as PyTorch computes them.
//
// A window of output (y, x) covers rows y*sh - ph .. y*sh - ph + kh - 1 (columns likewise).
//   max_pool: padding is -inf, so the window is clipped to the input; NaN wins over every number.
//   avg_pool: count_include_pad=True: the sum over the input part of the window is divided by the size of
//             the window clipped to the padded input [-ph, H + ph) (PyTorch's divisor, which matters for
//             ceil-rounded windows that run past the right padding).
//   adaptive_avg_pool: rows floor(i*H/OH) .. ceil((i+1)*H/OH) - 1, averaged over what they cover.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "../../core/shape.hpp"
#include "../../layers/pool.hpp"
#include "geometry.hpp"

namespace typenet::kernels::reference {

inline void max_pool_plain(const window_geometry& g, const float* in, float* out, int batch) {
  const std::int64_t planes = std::int64_t{batch} * g.in_c;
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* plane = in + p * g.in_h * g.in_w;
    float* result = out + p * g.out_h * g.out_w;
    for (int y = 0; y < g.out_h; ++y) {
      const int y0 = std::max(y * g.stride_h - g.pad_h, 0);
      const int y1 = std::min(y * g.stride_h - g.pad_h + g.kernel_h, g.in_h);
      for (int x = 0; x < g.out_w; ++x) {
        const int x0 = std::max(x * g.stride_w - g.pad_w, 0);
        const int x1 = std::min(x * g.stride_w - g.pad_w + g.kernel_w, g.in_w);
        float best = -std::numeric_limits<float>::infinity();
        for (int iy = y0; iy < y1; ++iy) {
          for (int ix = x0; ix < x1; ++ix) {
            const float v = plane[iy * g.in_w + ix];
            if (v > best || std::isnan(v)) best = v;
            if (std::isnan(best)) break;
          }
          if (std::isnan(best)) break;
        }
        result[y * g.out_w + x] = best;
      }
    }
  }
}

inline void avg_pool_plain(const window_geometry& g, const float* in, float* out, int batch) {
  const std::int64_t planes = std::int64_t{batch} * g.in_c;
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* plane = in + p * g.in_h * g.in_w;
    float* result = out + p * g.out_h * g.out_w;
    for (int y = 0; y < g.out_h; ++y) {
      const int ys = y * g.stride_h - g.pad_h;
      const int ye = std::min(ys + g.kernel_h, g.in_h + g.pad_h);  // clipped to the padded input
      for (int x = 0; x < g.out_w; ++x) {
        const int xs = x * g.stride_w - g.pad_w;
        const int xe = std::min(xs + g.kernel_w, g.in_w + g.pad_w);
        const int divisor = (ye - ys) * (xe - xs);
        double sum = 0;
        for (int iy = std::max(ys, 0); iy < std::min(ye, g.in_h); ++iy)
          for (int ix = std::max(xs, 0); ix < std::min(xe, g.in_w); ++ix) sum += plane[iy * g.in_w + ix];
        result[y * g.out_w + x] = static_cast<float>(sum / divisor);
      }
    }
  }
}

/// in: batch x channels x in_h x in_w, out: batch x channels x out_h x out_w.
inline void adaptive_avg_pool_plain(int channels, int in_h, int in_w, int out_h, int out_w, const float* in, float* out,
                                    int batch) {
  const std::int64_t planes = std::int64_t{batch} * channels;
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* plane = in + p * in_h * in_w;
    float* result = out + p * out_h * out_w;
    for (int y = 0; y < out_h; ++y) {
      const int y0 = (y * in_h) / out_h;                    // floor
      const int y1 = ((y + 1) * in_h + out_h - 1) / out_h;  // ceil
      for (int x = 0; x < out_w; ++x) {
        const int x0 = (x * in_w) / out_w;
        const int x1 = ((x + 1) * in_w + out_w - 1) / out_w;
        double sum = 0;
        for (int iy = y0; iy < y1; ++iy)
          for (int ix = x0; ix < x1; ++ix) sum += plane[iy * in_w + ix];
        result[y * out_w + x] = static_cast<float>(sum / ((y1 - y0) * (x1 - x0)));
      }
    }
  }
}

template <class... Tags, int C, int H, int W, int OH, int OW>
void forward(max_pool<Tags...>, shape<C, H, W>, shape<C, OH, OW>, const float* in, float* out, int batch, const float*,
             const float*) {
  static constexpr window_geometry g = make_window_geometry<max_pool<Tags...>, C, H, W, C, OH, OW>();
  max_pool_plain(g, in, out, batch);
}

template <class... Tags, int C, int H, int W, int OH, int OW>
void forward(avg_pool<Tags...>, shape<C, H, W>, shape<C, OH, OW>, const float* in, float* out, int batch, const float*,
             const float*) {
  static constexpr window_geometry g = make_window_geometry<avg_pool<Tags...>, C, H, W, C, OH, OW>();
  avg_pool_plain(g, in, out, batch);
}

template <int OH, int OW, int C, int H, int W>
void forward(adaptive_avg_pool<OH, OW>, shape<C, H, W>, shape<C, OH, OW>, const float* in, float* out, int batch,
             const float*, const float*) {
  adaptive_avg_pool_plain(C, H, W, OH, OW, in, out, batch);
}

}  // namespace typenet::kernels::reference
