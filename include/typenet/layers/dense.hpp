// typenet/layers/dense.hpp: fully connected layer (PyTorch's nn.Linear).
//
//   dense<Units>            weight [Units, In] then bias [Units], as in PyTorch
//   dense<Units, no_bias>   weight only (bias=False)
#pragma once
#include "layer.hpp"

namespace typenet {

namespace detail {
struct dense_tags {
  template <class T>
  static constexpr bool accepts() {
    return std::is_same_v<T, no_bias>;
  }
};
}  // namespace detail

template <int Units, class... Tags>
struct dense : layer_base {
  static constexpr layer_kind category = layer_kind::dense;
  static constexpr int units = Units;
  static constexpr bool has_bias = !(std::is_same_v<Tags, no_bias> || ...);
  static std::string name() { return "dense " + std::to_string(Units) + (has_bias ? "" : ", no bias"); }
  template <int Index, class In>
  struct at : detail::no_params {
    using error = diag::needs_flat_input<Index, dense, In>;
    using output = shape<Units>;
  };
  template <int Index, int N>
  struct at<Index, shape<N>> {
    using unaccepted = typename detail::first_unaccepted<detail::dense_tags, Tags...>::type;
    using error =
        detail::first_error_t<detail::when<!detail::is_void<unaccepted>>, diag::unknown_tag<Index, dense, unaccepted>,
                              detail::when<!detail::is_void<typename detail::first_repeated<Tags...>::type>>,
                              diag::repeated_tag<Index, dense, typename detail::first_repeated<Tags...>::type>,
                              detail::when<(Units <= 0)>, diag::non_positive_parameter<Index, dense, shape<N>>>;
    using output = shape<Units>;
    static constexpr std::int64_t weights = std::int64_t{Units} * N, biases = has_bias ? Units : 0, macs = weights;
    static constexpr auto tensors = detail::weight_and_bias<has_bias>(Units, {Units, N, 0, 0}, 2);
  };
};

}  // namespace typenet
