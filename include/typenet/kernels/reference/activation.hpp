// typenet/kernels/reference/activation.hpp: ReLU, ReLU6 and softmax.
//   relu: x < 0 ? 0 : x, so NaN stays NaN (as torch.relu).
//   relu6: x < 0 ? 0 : (x > 6 ? 6 : x), so NaN stays NaN (as torch.nn.functional.relu6).
//   softmax: per image, exp(x - max) / sum exp(x - max), in double. Subtracting the row's maximum keeps
//   exp from overflowing: logits in the thousands give an exact one-hot, not NaN. A NaN in a row makes
//   the whole row NaN, as in PyTorch.
#pragma once
#include <cmath>
#include <cstdint>

#include "../../core/shape.hpp"
#include "../../layers/activation.hpp"

namespace typenet::kernels::reference {

inline void relu_plain(std::int64_t count, const float* in, float* out) {
  for (std::int64_t i = 0; i < count; ++i) out[i] = in[i] < 0.f ? 0.f : in[i];
}

inline void softmax_plain(int units, const float* in, float* out, int batch) {
  for (int n = 0; n < batch; ++n) {
    const float* row = in + std::int64_t{n} * units;
    float* result = out + std::int64_t{n} * units;
    double top = row[0];
    bool has_nan = false;
    for (int i = 0; i < units; ++i) {
      if (std::isnan(row[i])) has_nan = true;
      if (row[i] > top) top = row[i];
    }
    double sum = 0;
    for (int i = 0; i < units; ++i) sum += std::exp(double{row[i]} - top);
    for (int i = 0; i < units; ++i)
      result[i] = has_nan ? std::nanf("") : static_cast<float>(std::exp(double{row[i]} - top) / sum);
  }
}

template <int... D>
void forward(relu, shape<D...>, shape<D...>, const float* in, float* out, int batch, const float*, const float*) {
  relu_plain(std::int64_t{batch} * shape<D...>::size, in, out);
}

template <int... D>
void forward(relu6, shape<D...>, shape<D...>, const float* in, float* out, int batch, const float*, const float*) {
  const std::int64_t count = std::int64_t{batch} * shape<D...>::size;
  for (std::int64_t i = 0; i < count; ++i) out[i] = in[i] < 0.f ? 0.f : (in[i] > 6.f ? 6.f : in[i]);
}

template <int N>
void forward(softmax, shape<N>, shape<N>, const float* in, float* out, int batch, const float*, const float*) {
  softmax_plain(N, in, out, batch);
}

}  // namespace typenet::kernels::reference
