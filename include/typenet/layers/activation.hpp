// typenet/layers/activation.hpp: element-wise ReLU and the softmax over a flat vector.
#pragma once
#include "layer.hpp"

namespace typenet {

/// max(x, 0), element-wise, any shape. NaN stays NaN.
struct relu : layer_base {
  static std::string name() { return "relu"; }
  template <int Index, class In>
  struct at : detail::no_params {
    using output = In;
  };
};

/// Softmax over a flat vector (PyTorch's nn.Softmax(dim=1) on [N, Units]); numerically stable.
struct softmax : layer_base {
  static std::string name() { return "softmax"; }
  template <int Index, class In>
  struct at : detail::no_params {
    using error = std::conditional_t<FlatShape<In>, void, diag::needs_flat_input<Index, softmax, In>>;
    using output = In;
  };
};

}  // namespace typenet
