// typenet/layers/dropout.hpp: dropout with a rate in percent; the identity at inference.
#pragma once
#include "layer.hpp"

namespace typenet {

template <int Percent = 50>
struct dropout : layer_base {
  static constexpr layer_kind category = layer_kind::dropout;
  static constexpr int percent = Percent;
  static std::string name() { return "dropout " + std::to_string(Percent) + "%"; }
  template <int Index, class In>
  struct at : detail::no_params {
    using error =
        std::conditional_t<(Percent >= 0 && Percent < 100), void, diag::non_positive_parameter<Index, dropout, In>>;
    using output = In;
  };
};

}  // namespace typenet
