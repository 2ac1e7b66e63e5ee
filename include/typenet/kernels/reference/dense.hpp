// typenet/kernels/reference/dense.hpp: fully connected layer, out[n, u] = bias[u] + sum_i weight[u, i] * in[n, i].
// weight is [units, inputs] (PyTorch's nn.Linear layout). Sums are kept in double.
#pragma once
#include <cstdint>

#include "../../core/shape.hpp"
#include "../../layers/dense.hpp"

namespace typenet::kernels::reference {

inline void dense_plain(int inputs, int units, const float* in, float* out, int batch, const float* weight,
                        const float* bias) {
  for (int n = 0; n < batch; ++n) {
    const float* x = in + std::int64_t{n} * inputs;
    for (int u = 0; u < units; ++u) {
      const float* w = weight + std::int64_t{u} * inputs;
      double sum = bias != nullptr ? bias[u] : 0.0;
      for (int i = 0; i < inputs; ++i) sum += double{w[i]} * double{x[i]};
      out[std::int64_t{n} * units + u] = static_cast<float>(sum);
    }
  }
}

template <int Units, class... Tags, int N>
void forward(dense<Units, Tags...>, shape<N>, shape<Units>, const float* in, float* out, int batch, const float* weight,
             const float* bias) {
  dense_plain(N, Units, in, out, batch, weight, bias);
}

}  // namespace typenet::kernels::reference
