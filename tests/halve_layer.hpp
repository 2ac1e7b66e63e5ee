// A layer written outside the library, as docs/contributing.md describes: its semantics, its exec::reference
// kernel and its backward pass, all in its own namespace and found by argument-dependent lookup. It
// multiplies by one half and keeps the shape. Used by the compile-fail tests of the rules about missing
// kernels (which leave a part out with HALVE_WITHOUT_FORWARD / HALVE_WITHOUT_BACKWARD) and by
// tests/reference/custom_layer_test.cpp, which runs and trains it.
#pragma once
#include <cstdint>
#include <string>

#include <typenet/train.hpp>
#include <typenet/typenet.hpp>

namespace mine {

struct halve : typenet::layer_base {
  static std::string name() { return "halve"; }
  template <int Index, class In>
  struct at : typenet::detail::no_params {
    using output = In;
  };
};

#ifndef HALVE_WITHOUT_FORWARD
template <class S>
void forward(halve, S, S, const float* in, float* out, int batch, const float*, const float*) {
  for (std::int64_t i = 0; i < std::int64_t{batch} * S::size; ++i) out[i] = 0.5f * in[i];
}
#endif

#ifndef HALVE_WITHOUT_BACKWARD
template <class S>
void backward(halve, S, S, const typenet::kernels::reference::backward_args& a) {
  for (std::int64_t i = 0; i < std::int64_t{a.batch} * S::size; ++i) a.dx[i] = 0.5f * a.dy[i];
}
#endif

}  // namespace mine
