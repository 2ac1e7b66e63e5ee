// typenet/layers/layer.hpp: what every layer type provides, and helpers for writing layer rules.
//
// A layer is a type deriving from typenet::layer_base with
//   static std::string name();                  // e.g. "conv2d 96, kernel 11x11, stride 4"
//   template <int Index, class In> struct at;   // the layer applied to input shape In, with
//       using error = void;                     //   or the first diag:: rule it breaks (not instantiated)
//       using output = shape<...>;              //   output shape (meaningful when error is void)
//       static constexpr std::int64_t weights, biases, macs;
// Layers say what they are; kernels live under kernels/<policy>/.
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>

#include "../core/shape.hpp"
#include "../diag/rules.hpp"
#include "tags.hpp"

namespace typenet {

struct layer_base {};

/// A type is a layer when it derives from layer_base.
template <class T>
concept Layer = std::is_base_of_v<layer_base, T>;

namespace detail {

// Picks the first error whose condition holds: first_error_t<c1, E1, c2, E2, ...>; void when none holds.
template <class... Pairs>
struct first_error {
  using type = void;
};
template <class Cond, class E, class... Rest>
struct first_error<Cond, E, Rest...> : std::conditional_t<Cond::value, std::type_identity<E>, first_error<Rest...>> {};
template <class... Pairs>
using first_error_t = typename first_error<Pairs...>::type;
template <bool B>
using when = std::bool_constant<B>;

// Default parts of a layer rule: no parameters, no multiply-adds, no error.
struct no_params {
  using error = void;
  static constexpr std::int64_t weights = 0, biases = 0, macs = 0;
};

template <class T>
constexpr bool is_void = std::is_void_v<T>;

}  // namespace detail
}  // namespace typenet
