// typenet/layers/dense.hpp: fully connected layer with bias (PyTorch's nn.Linear).
// Weights: [Units, In] then bias [Units], as in PyTorch.
#pragma once
#include "layer.hpp"

namespace typenet {

template <int Units>
struct dense : layer_base {
  static constexpr int units = Units;
  static std::string name() { return "dense " + std::to_string(Units); }
  template <int Index, class In>
  struct at : detail::no_params {
    using error = diag::needs_flat_input<Index, dense, In>;
    using output = shape<Units>;
  };
  template <int Index, int N>
  struct at<Index, shape<N>> {
    using error = std::conditional_t<(Units > 0), void, diag::non_positive_parameter<Index, dense, shape<N>>>;
    using output = shape<Units>;
    static constexpr std::int64_t weights = std::int64_t{Units} * N, biases = Units, macs = weights;
  };
};

}  // namespace typenet
