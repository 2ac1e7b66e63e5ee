// typenet/core/network.hpp: network<input<...>, Layers...>: shape propagation, counts, weight layout.
//
//   struct lenet5 : tn::network<tn::input<1, 32, 32>, tn::conv2d<6, tn::kernel<5>>, ...> {};
//
// The checks run when the network type is instantiated, i.e. at the user's declaration. The first layer
// that breaks a rule instantiates its diag:: predicate (one static_assert, "typenet: <rule>: ...");
// propagation stops there, so later layers stay silent.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "../detail/type_list.hpp"
#include "../layers/input.hpp"
#include "../layers/layer.hpp"
#include "shape.hpp"

namespace typenet {

/// A layer at its position in a network: index (0-based after input), input and output shapes, counts,
/// and the offset of its weights and bias in the network's parameter buffer (PyTorch layout).
template <int Index, class L, class In, class Out, std::int64_t Offset>
struct bound_layer {
  static constexpr int index = Index;
  using layer = L;
  using input = In;
  using output = Out;
  using rule = typename L::template at<Index, In>;
  static constexpr std::int64_t weights = rule::weights;
  static constexpr std::int64_t biases = rule::biases;
  static constexpr std::int64_t params = weights + biases;
  static constexpr std::int64_t macs = rule::macs;
  static constexpr std::int64_t weight_offset = Offset;
  static constexpr std::int64_t bias_offset = Offset + weights;
};

/// Marks a network that failed a rule; queries on it yield empty results instead of further errors.
struct invalid_shape {
  static constexpr int rank = 0;
  static constexpr std::int64_t size = 0;
  friend constexpr bool operator==(invalid_shape, invalid_shape) { return true; }
  template <int... D>
  friend constexpr bool operator==(invalid_shape, shape<D...>) {
    return false;
  }
  static std::string str() { return "(invalid)"; }
};

namespace detail {

struct network_base {};

// One step of propagation: checks that L is a layer (and not a second input), then applies its rule.
template <int I, class L, class In>
struct step {
  using rule = typename L::template at<I, In>;
  using error = typename rule::error;
  using output = typename rule::output;
};
template <int I, class L, class In>
requires(!Layer<L>) struct step<I, L, In> {
  using error = std::conditional_t<is_input<L>::value, diag::only_one_input<I, L>, diag::not_a_layer<I, L>>;
  using output = invalid_shape;
};

template <int I, class In, std::int64_t Offset, class Done, class... Rest>
struct propagate;

template <int I, class In, std::int64_t Offset, class Done>
struct propagate<I, In, Offset, Done> {
  using error = void;
  using layers = Done;
  using output = In;
};

template <bool Ok, int I, class In, std::int64_t Offset, class Done, class L, class... Rest>
struct propagate_next {  // the failing case: stop here
  using error = typename step<I, L, In>::error;
  using layers = Done;
  using output = invalid_shape;
};
// Inherits the rest of the propagation rather than naming it in three member aliases: nvcc's front end
// (cudafe++) re-instantiated the aliased chain once per alias, which took time exponential in the layer count.
template <int I, class In, std::int64_t Offset, class Done, class L, class... Rest>
struct propagate_next<true, I, In, Offset, Done, L, Rest...>
    : propagate<I + 1, typename step<I, L, In>::output,
                Offset + bound_layer<I, L, In, typename step<I, L, In>::output, Offset>::params,
                push_back_t<Done, bound_layer<I, L, In, typename step<I, L, In>::output, Offset>>, Rest...> {};

template <int I, class In, std::int64_t Offset, class Done, class L, class... Rest>
struct propagate<I, In, Offset, Done, L, Rest...>
    : propagate_next<std::is_void_v<typename step<I, L, In>::error>, I, In, Offset, Done, L, Rest...> {};

template <class... Entries>
struct analyse {  // the list does not start with an input
  using first = std::conditional_t<sizeof...(Entries) == 0, void, at_t<0, type_list<Entries..., void>>>;
  using error = diag::input_must_come_first<first>;
  using input = invalid_shape;
  using layers = type_list<>;
  using output = invalid_shape;
};
template <int... D, class... Rest>
struct analyse<input<D...>, Rest...> {
  using input_layer = typenet::input<D...>;
  using input = std::conditional_t<input_layer::valid_rank && input_layer::positive, shape<D...>, invalid_shape>;
  using run = propagate<0, shape<D...>, 0, type_list<>, Rest...>;
  using error = std::conditional_t<
      !input_layer::valid_rank, diag::input_rank<input_layer>,
      std::conditional_t<!input_layer::positive, diag::non_positive_parameter<-1, input_layer, shape<D...>>,
                         typename run::error>>;
  using layers = std::conditional_t<std::is_void_v<error>, typename run::layers, type_list<>>;
  using output = std::conditional_t<std::is_void_v<error>, typename run::output, invalid_shape>;
};

// Instantiates the error (firing its static_assert) and is always true, so nothing else fails after it.
template <class E>
struct report : std::true_type {
  static_assert(sizeof(E) > 0);
};
template <>
struct report<void> : std::true_type {};

}  // namespace detail

/// A network: the input, then the layers, numbered from 0. Derive a named type from it:
///   struct lenet5 : tn::network<...> {};
/// A network may rename its parameter tensors by declaring `static std::string param_prefix(int index)`
/// (the default is the layer's index, as in a flat nn.Sequential: "3.weight", "3.bias").
template <class... Entries>
struct network : detail::network_base {
  using entries = type_list<Entries...>;
  using analysis = detail::analyse<Entries...>;
  static_assert(detail::report<typename analysis::error>::value);
  static constexpr bool is_valid = std::is_void_v<typename analysis::error>;
  using input_shape = typename analysis::input;
  using output_shape = typename analysis::output;
  using layers = typename analysis::layers;  ///< type_list of bound_layer
  static std::string param_prefix(int index) { return std::to_string(index); }
};

template <class T>
concept Network = std::is_base_of_v<detail::network_base, T>;

namespace detail {
template <class List>
struct sums;
template <class... B>
struct sums<type_list<B...>> {
  static constexpr std::int64_t params = (std::int64_t{0} + ... + B::params);
  static constexpr std::int64_t macs = (std::int64_t{0} + ... + B::macs);
  static constexpr std::int64_t activations = (std::int64_t{0} + ... + B::output::size);
  static constexpr std::int64_t largest = std::max({std::int64_t{0}, B::output::size...});
};
}  // namespace detail

/// The bound layer at index I (0-based after input).
template <Network Net, int I>
using layer_at = detail::at_t<I, typename Net::layers>;
/// Number of layers after input.
template <Network Net>
inline constexpr int layer_count = static_cast<int>(Net::layers::size);

namespace detail {
// Stands in for layer I of a network that failed a rule, so queries on it add no errors of their own.
struct missing_layer {
  using output = invalid_shape;
  static constexpr std::int64_t params = 0, macs = 0;
};
template <class Net, int I, bool Valid = Net::is_valid>
struct layer_or_missing {
  using type = missing_layer;
};
template <class Net, int I>
struct layer_or_missing<Net, I, true> {
  using type = layer_at<Net, I>;
};
template <class Net, int I>
using layer_or_missing_t = typename layer_or_missing<Net, I>::type;
}  // namespace detail

template <Network Net>
inline constexpr auto input_shape = typename Net::input_shape{};
template <Network Net>
inline constexpr auto output_shape = typename Net::output_shape{};
/// The output shape of layer I; invalid_shape{} (no further error) when the network failed a rule.
template <Network Net, int I>
inline constexpr auto shape_after = typename detail::layer_or_missing_t<Net, I>::output{};

/// Parameters (weights and biases) of the whole network, or of layer I.
template <Network Net>
inline constexpr std::int64_t param_count = detail::sums<typename Net::layers>::params;
template <Network Net, int I>
inline constexpr std::int64_t layer_param_count = detail::layer_or_missing_t<Net, I>::params;
/// Multiply-adds of the conv2d and dense layers per image (padding taps included), whole network or layer I.
template <Network Net>
inline constexpr std::int64_t mac_count = detail::sums<typename Net::layers>::macs;
template <Network Net, int I>
inline constexpr std::int64_t layer_mac_count = detail::layer_or_missing_t<Net, I>::macs;

/// Bytes of all activations one image produces (input included), if every layer's output were kept.
template <Network Net>
inline constexpr std::int64_t activation_bytes = 4 * (Net::input_shape::size +
                                                      detail::sums<typename Net::layers>::activations);

/// The memory a forward pass needs: two ping-pong activation buffers, each as large as the largest
/// activation (input included), per image. bytes(N) is the total for a batch of N.
template <Network Net>
struct memory_plan {
  static constexpr std::int64_t buffer_floats_per_image =
      std::max(Net::input_shape::size, detail::sums<typename Net::layers>::largest);
  static constexpr std::int64_t buffers = 2;
  static constexpr std::int64_t bytes_per_image = buffers * 4 * buffer_floats_per_image;
  static constexpr std::int64_t bytes(std::int64_t batch) { return batch * bytes_per_image; }
  static constexpr std::int64_t param_bytes = 4 * param_count<Net>;
};

}  // namespace typenet
