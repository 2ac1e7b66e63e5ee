// typenet/layers/input.hpp: the first entry of every network, the shape of one input image.
#pragma once
#include "layer.hpp"

namespace typenet {

/// input<C, H, W> (an image, NCHW at run time with a run-time batch) or input<N> (a flat vector).
template <int... Dims>
struct input {
  using shape_type = shape<Dims...>;
  static constexpr bool valid_rank = sizeof...(Dims) == 1 || sizeof...(Dims) == 3;
  static constexpr bool positive = ((Dims > 0) && ...);
  static std::string name() { return "input " + shape_type::str(); }
};

namespace detail {
template <class T>
struct is_input : std::false_type {};
template <int... D>
struct is_input<input<D...>> : std::true_type {};
}  // namespace detail

}  // namespace typenet
