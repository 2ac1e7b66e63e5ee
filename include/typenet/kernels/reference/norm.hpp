// typenet/kernels/reference/norm.hpp: local response normalisation across channels, as
// torch.nn.LocalResponseNorm computes it:
//   out[c] = in[c] / (k + alpha / size * sum_{c' = c - size/2 .. c + (size-1)/2, inside 0..C-1} in[c']^2) ^ beta
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../../core/shape.hpp"
#include "../../layers/norm.hpp"

namespace typenet::kernels::reference {

inline void lrn_plain(int size, double alpha, double beta, double k, int channels, int height, int width,
                      const float* in, float* out, int batch) {
  const std::int64_t plane = std::int64_t{height} * width;
  for (int n = 0; n < batch; ++n) {
    const float* image = in + n * channels * plane;
    float* result = out + n * channels * plane;
    for (int c = 0; c < channels; ++c) {
      const int c0 = std::max(c - size / 2, 0);
      const int c1 = std::min(c + (size - 1) / 2, channels - 1);
      for (std::int64_t i = 0; i < plane; ++i) {
        double squares = 0;
        for (int j = c0; j <= c1; ++j) {
          const double v = image[j * plane + i];
          squares += v * v;
        }
        const double scale = std::pow(k + alpha / size * squares, beta);
        result[c * plane + i] = static_cast<float>(image[c * plane + i] / scale);
      }
    }
  }
}

template <int Size, class Alpha, class Beta, class K, int C, int H, int W>
void forward(lrn<Size, Alpha, Beta, K>, shape<C, H, W>, shape<C, H, W>, const float* in, float* out, int batch,
             const float*, const float*) {
  using L = lrn<Size, Alpha, Beta, K>;
  lrn_plain(Size, L::alpha, L::beta, L::k, C, H, W, in, out, batch);
}

}  // namespace typenet::kernels::reference
