// typenet/kernels/reference/flatten.hpp: flatten is a view (C, H, W order is already NCHW memory order);
// the reference copies the values to keep its ping-pong buffers simple.
#pragma once
#include <algorithm>
#include <cstdint>

#include "../../core/shape.hpp"
#include "../../layers/flatten.hpp"

namespace typenet::kernels::reference {

template <class In, int N>
void forward(flatten, In, shape<N>, const float* in, float* out, int batch, const float*, const float*) {
  static_assert(In::size == N);
  if (batch <= 0) return;  // callers check the batch; this tells GCC's -Wstringop-overflow so too
  std::copy(in, in + std::int64_t{batch} * N, out);
}

}  // namespace typenet::kernels::reference
