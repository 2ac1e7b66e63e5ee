// typenet/kernels/reference/batch_norm.hpp: batch normalisation in inference form, literally as PyTorch
// evaluates it (no folding):
//   out[n, c, p] = (in[n, c, p] - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c]   (in double)
// The layer's tensors are stored weight, bias, running_mean, running_var, each [C], one after another.
#pragma once
#include <cmath>
#include <cstdint>

#include "../../core/shape.hpp"
#include "../../layers/batch_norm.hpp"

namespace typenet::kernels::reference {

inline void batch_norm_plain(int channels, std::int64_t plane, const float* in, float* out, int batch,
                             const float* tensors) {
  const float *weight = tensors, *bias = tensors + channels, *mean = tensors + 2 * channels,
              *var = tensors + 3 * channels;
  for (int n = 0; n < batch; ++n)
    for (int c = 0; c < channels; ++c) {
      const double scale = double{weight[c]} / std::sqrt(double{var[c]} + batch_norm::eps);
      const std::int64_t base = (std::int64_t{n} * channels + c) * plane;
      for (std::int64_t p = 0; p < plane; ++p)
        out[base + p] = static_cast<float>((double{in[base + p]} - mean[c]) * scale + bias[c]);
    }
}

template <int C, int... Rest>
void forward(batch_norm, shape<C, Rest...>, shape<C, Rest...>, const float* in, float* out, int batch,
             const float* weight, const float*) {
  batch_norm_plain(C, (std::int64_t{1} * ... * Rest), in, out, batch, weight);
}

}  // namespace typenet::kernels::reference
