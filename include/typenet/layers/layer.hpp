// typenet/layers/layer.hpp: what every layer type provides, and helpers for writing layer rules.
//
// A layer is a type deriving from typenet::layer_base with
//   static std::string name();                  // e.g. "conv2d 96, kernel 11x11, stride 4"
//   template <int Index, class In> struct at;   // the layer applied to input shape In, with
//       using error = void;                     //   or the first diag:: rule it breaks (not instantiated)
//       using output = shape<...>;              //   output shape (meaningful when error is void)
//       static constexpr std::int64_t weights, biases, macs;
//       static constexpr std::array<tensor_spec, N> tensors;  // its parameter tensors, PyTorch names
//                                                             // and shapes, stored in this order
//   static constexpr layer_kind category;        // what it is, for the planner and the policies
//                                                // (omitted: layer_kind::other, reference kernels only)
// Layers say what they are; kernels live under kernels/<policy>/.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "../core/shape.hpp"
#include "../diag/rules.hpp"
#include "tags.hpp"

namespace typenet {

struct layer_base {};

/// What a layer is: the one classification that the fusion planner and every policy read (through
/// layer_kind_of), declared by each layer type as `static constexpr layer_kind category`. A layer that
/// declares none is `other`: the policies run it with its reference kernel, and describe<Net, Policy>()
/// says so.
enum class layer_kind {
  conv,
  dense,
  relu,
  relu6,
  softmax,
  lrn,
  pool,
  adaptive_pool,
  batch_norm,
  identity,
  dropout,
  flatten,
  other
};

template <class L>
consteval layer_kind category_of() {
  if constexpr (requires { L::category; })
    return L::category;
  else
    return layer_kind::other;
}
template <class L>
inline constexpr layer_kind layer_kind_of = category_of<L>();

/// One parameter tensor of a layer, as PyTorch's state_dict names and shapes it. A buffer (batch norm's
/// running statistics) is stored and loaded like a parameter but is not counted by param_count.
struct tensor_spec {
  std::string_view name;  ///< e.g. "weight", "running_mean"
  bool buffer = false;
  int rank = 0;
  std::array<std::int64_t, 4> dims{};
  constexpr std::int64_t size() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[static_cast<std::size_t>(i)];
    return n;
  }
};

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
  static constexpr std::array<tensor_spec, 0> tensors{};
};

// The tensors of conv2d and dense: "weight" of the given shape, then "bias" [Out] unless HasBias is false.
template <bool HasBias>
constexpr auto weight_and_bias(std::int64_t out, std::array<std::int64_t, 4> weight_dims, int weight_rank) {
  if constexpr (HasBias)
    return std::array<tensor_spec, 2>{tensor_spec{"weight", false, weight_rank, weight_dims},
                                      tensor_spec{"bias", false, 1, {out, 0, 0, 0}}};
  else
    return std::array<tensor_spec, 1>{tensor_spec{"weight", false, weight_rank, weight_dims}};
}

template <class T>
constexpr bool is_void = std::is_void_v<T>;

}  // namespace detail
}  // namespace typenet
