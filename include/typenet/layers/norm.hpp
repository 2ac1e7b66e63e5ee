// typenet/layers/norm.hpp: local response normalisation across channels (PyTorch's nn.LocalResponseNorm).
//
//   lrn<Size, Alpha = std::ratio<1, 10000>, Beta = std::ratio<3, 4>, K = std::ratio<1>>
//   b_c = a_c / (K + Alpha / Size * sum_{c' in window(c)} a_{c'}^2) ^ Beta,
//   window(c) = [c - Size/2, c + (Size-1)/2] clipped to the channels, as PyTorch computes it.
// The real-valued parameters are std::ratio types, because clang 14 has no floating-point template arguments.
// The AlexNet paper's values are lrn<5, std::ratio<1, 10000>, std::ratio<3, 4>, std::ratio<2>>.
#pragma once
#include <ratio>

#include "layer.hpp"

namespace typenet {

template <int Size, class Alpha = std::ratio<1, 10000>, class Beta = std::ratio<3, 4>, class K = std::ratio<1>>
struct lrn : layer_base {
  static constexpr layer_kind category = layer_kind::lrn;
  static constexpr int size = Size;
  static constexpr double alpha = double(Alpha::num) / double(Alpha::den);
  static constexpr double beta = double(Beta::num) / double(Beta::den);
  static constexpr double k = double(K::num) / double(K::den);
  static std::string name() {
    auto ratio = [](auto r) {
      using R = decltype(r);
      return R::den == 1 ? std::to_string(R::num) : std::to_string(R::num) + "/" + std::to_string(R::den);
    };
    return "lrn " + std::to_string(Size) + ", alpha " + ratio(typename Alpha::type{}) + ", beta " +
           ratio(typename Beta::type{}) + ", k " + ratio(typename K::type{});
  }
  template <int Index, class In>
  struct at : detail::no_params {
    using error = diag::needs_spatial_input<Index, lrn, In>;
    using output = In;
  };
  template <int Index, int C, int H, int W>
  struct at<Index, shape<C, H, W>> : detail::no_params {
    using error = std::conditional_t<(Size > 0 && alpha >= 0 && k >= 0), void,
                                     diag::non_positive_parameter<Index, lrn, shape<C, H, W>>>;
    using output = shape<C, H, W>;
  };
};

}  // namespace typenet
