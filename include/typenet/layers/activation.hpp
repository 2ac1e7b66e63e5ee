// typenet/layers/activation.hpp: element-wise ReLU and ReLU6, the identity, and the softmax over a flat
// vector.
#pragma once
#include "layer.hpp"

namespace typenet {

/// max(x, 0), element-wise, any shape. NaN stays NaN.
struct relu : layer_base {
  static constexpr layer_kind category = layer_kind::relu;
  static std::string name() { return "relu"; }
  template <int Index, class In>
  struct at : detail::no_params {
    using output = In;
  };
};

/// min(max(x, 0), 6), element-wise, any shape (PyTorch's nn.ReLU6). NaN stays NaN.
struct relu6 : layer_base {
  static constexpr layer_kind category = layer_kind::relu6;
  static std::string name() { return "relu6"; }
  template <int Index, class In>
  struct at : detail::no_params {
    using output = In;
  };
};

/// y = x (PyTorch's nn.Identity): the default shortcut of a residual block.
struct identity : layer_base {
  static constexpr layer_kind category = layer_kind::identity;
  static std::string name() { return "identity"; }
  template <int Index, class In>
  struct at : detail::no_params {
    using output = In;
  };
};

/// Softmax over a flat vector (PyTorch's nn.Softmax(dim=1) on [N, Units]); numerically stable.
struct softmax : layer_base {
  static constexpr layer_kind category = layer_kind::softmax;
  static std::string name() { return "softmax"; }
  template <int Index, class In>
  struct at : detail::no_params {
    using error = std::conditional_t<FlatShape<In>, void, diag::needs_flat_input<Index, softmax, In>>;
    using output = In;
  };
};

}  // namespace typenet
