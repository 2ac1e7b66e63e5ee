// Layers written outside the library, as docs/contributing.md describes: their semantics, exec::reference
// kernels and backward passes, all in their own namespace and found by argument-dependent lookup.
// `halve` multiplies by one half and keeps the shape; the compile-fail tests of the rules about missing
// kernels leave a part of it out (HALVE_WITHOUT_FORWARD / HALVE_WITHOUT_BACKWARD). `channel_ramp` multiplies
// channel c of a C x H x W map by c + 1, so a policy that hands it a map in another layout (exec::simd keeps
// NHWC) gets a wrong result unless it converts. `channel_scale` has parameters: a scale and a shift per
// channel. tests/reference/custom_layer_test.cpp runs and trains all three.
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

struct channel_ramp : typenet::layer_base {
  static std::string name() { return "channel_ramp"; }
  template <int Index, class In>
  struct at : typenet::detail::no_params {
    using output = In;
  };
};

template <int C, int H, int W>
void forward(channel_ramp, typenet::shape<C, H, W>, typenet::shape<C, H, W>, const float* in, float* out, int batch,
             const float*, const float*) {
  for (std::int64_t i = 0; i < std::int64_t{batch} * C * H * W; ++i)
    out[i] = static_cast<float>(i / (H * W) % C + 1) * in[i];
}

template <int C, int H, int W>
void backward(channel_ramp, typenet::shape<C, H, W>, typenet::shape<C, H, W>,
              const typenet::kernels::reference::backward_args& a) {
  for (std::int64_t i = 0; i < std::int64_t{a.batch} * C * H * W; ++i)
    a.dx[i] = static_cast<float>(i / (H * W) % C + 1) * a.dy[i];
}

/// y = weight[c] * x + bias[c] on channel c of a C x H x W map: a layer with parameters of its own (tensors
/// "weight" [C] and "bias" [C]).
struct channel_scale : typenet::layer_base {
  static std::string name() { return "channel_scale"; }
  template <int Index, class In>
  struct at;
  template <int Index, int C, int H, int W>
  struct at<Index, typenet::shape<C, H, W>> {
    using error = void;
    using output = typenet::shape<C, H, W>;
    static constexpr std::int64_t weights = C, biases = C, macs = std::int64_t{C} * H * W;
    static constexpr auto tensors = typenet::detail::weight_and_bias<true>(C, {C, 0, 0, 0}, 1);
  };
};

template <int C, int H, int W>
void forward(channel_scale, typenet::shape<C, H, W>, typenet::shape<C, H, W>, const float* in, float* out, int batch,
             const float* weight, const float* bias) {
  for (std::int64_t i = 0; i < std::int64_t{batch} * C * H * W; ++i) {
    const std::int64_t c = i / (H * W) % C;
    out[i] = weight[c] * in[i] + bias[c];
  }
}

template <int C, int H, int W>
void backward(channel_scale, typenet::shape<C, H, W>, typenet::shape<C, H, W>,
              const typenet::kernels::reference::backward_args& a) {
  for (std::int64_t i = 0; i < std::int64_t{a.batch} * C * H * W; ++i) {
    const std::int64_t c = i / (H * W) % C;
    a.dx[i] = a.weight[c] * a.dy[i];
    a.dweight[c] += a.dy[i] * a.x[i];
    a.dbias[c] += a.dy[i];
  }
}

}  // namespace mine
