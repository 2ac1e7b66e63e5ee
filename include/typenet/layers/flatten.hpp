// typenet/layers/flatten.hpp: C x H x W -> C*H*W in C, H, W order (PyTorch's nn.Flatten); a view, no copy.
#pragma once
#include "layer.hpp"

namespace typenet {

struct flatten : layer_base {
  static constexpr layer_kind category = layer_kind::flatten;
  static std::string name() { return "flatten"; }
  template <int Index, class In>
  struct at : detail::no_params {
    using output = shape<static_cast<int>(In::size)>;
  };
};

}  // namespace typenet
