// typenet/kernels/reference/layer.hpp: runs one bound layer of a network with the reference kernels.
//
// Each layer kind has one overload of reference::forward(Layer, In, Out, in, out, batch, weight, bias) in the
// file named like its layers/ header; overload resolution on the layer type picks it. A layer defined
// outside typenet declares its overload in its own namespace: forward_kernel calls forward() unqualified, so
// argument-dependent lookup finds it. A layer without one is the rule diag::no_reference_kernel.
#pragma once
#include <cstdint>

#include "../../diag/rules.hpp"
#include "activation.hpp"
#include "batch_norm.hpp"
#include "conv2d.hpp"
#include "dense.hpp"
#include "dropout.hpp"
#include "flatten.hpp"
#include "norm.hpp"
#include "pool.hpp"

namespace typenet::kernels::reference {

/// Chosen only when no layer-specific overload matches.
template <class Layer, class In, class Out>
void forward(Layer, In, Out, const float*, float*, int, const float*, const float*) {
  static_assert(sizeof(diag::no_reference_kernel<Layer, In>) > 0);
}

/// Runs Layer's kernel. The call is unqualified, so the kernel of a layer defined outside typenet is found
/// in the layer's own namespace (argument-dependent lookup); policies call this, not forward() itself.
template <class Layer, class In, class Out>
void forward_kernel(const float* in, float* out, int batch, const float* weight, const float* bias) {
  forward(Layer{}, In{}, Out{}, in, out, batch, weight, bias);
}

/// Runs bound layer B on `batch` images: `in` holds batch x B::input, `out` receives batch x B::output,
/// `params` is the start of the network's parameter buffer (params<Net>::data()). A layer without a bias
/// (no_bias) gets a null bias pointer.
template <class B>
void forward_layer(const float* in, float* out, int batch, const float* params) {
  forward_kernel<typename B::layer, typename B::input, typename B::output>(
      in, out, batch, params + B::weight_offset, B::biases > 0 ? params + B::bias_offset : nullptr);
}

}  // namespace typenet::kernels::reference
