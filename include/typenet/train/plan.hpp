// typenet/train/plan.hpp: what a training step of a network computes and the memory it keeps, at compile
// time.
//
// Loss (DESIGN.md §8): the mean over the batch of the cross-entropy between the logits and integer labels.
// The logits are the network's output with a trailing softmax removed: train::trained_nodes<Net> is the
// network's top-level list without it, and train::classes<Net> the length of the logits.
//
// Memory of one training step, per image, in floats (train::floats_per_image<Net>):
//   - every layer keeps its output (the backward pass reads it) and a gradient of that output;
//   - dropout also keeps its mask, batch norm its batch mean and 1/std per channel;
//   - a residual block keeps the sum and its gradient, and a scratch of its input's size (the shortcut's
//     share of the input gradient); a concat keeps the joined value, its gradient and such a scratch;
//   - one gradient of the network's input.
// A node's floats are laid out depth first in declaration order, starting at its offset; the program
// multiplies offsets by max_batch (the values of one node for the whole batch are contiguous).
// train::training_bytes<Net> is that total in bytes per image, a constant; the parameter gradients
// (param_storage<Net> floats) come on top, once.
#pragma once
#include <cstdint>
#include <type_traits>
#include <utility>

#include "../core/graph.hpp"
#include "../core/network.hpp"
#include "../detail/type_list.hpp"
#include "../diag/rules.hpp"
#include "../layers/layer.hpp"

namespace typenet::train {

namespace detail {
using typenet::type_list;

template <class List>
struct drop_trailing_softmax {  // no layers
  using type = List;
  static constexpr bool drop = false;
};
template <class N0, class... N>
struct drop_trailing_softmax<type_list<N0, N...>> {
  using list = type_list<N0, N...>;
  using last = typenet::detail::at_t<sizeof...(N), list>;
  template <std::size_t... I>
  static auto front(std::index_sequence<I...>) -> type_list<typenet::detail::at_t<I, list>...>;
  static constexpr bool drop = [] {
    if constexpr (last::is_leaf)
      return layer_kind_of<typename last::layer> == layer_kind::softmax;
    else
      return false;
  }();
  using type = std::conditional_t<drop, decltype(front(std::make_index_sequence<sizeof...(N)>{})), list>;
};

template <class List>
struct last_output {
  using type = void;
};
template <class N0, class... N>
struct last_output<type_list<N0, N...>> {
  using type = typename typenet::detail::at_t<sizeof...(N), type_list<N0, N...>>::output;
};
}  // namespace detail

/// The top-level nodes a training step runs: the network's, without a trailing softmax.
template <Network Net>
using trained_nodes = typename detail::drop_trailing_softmax<typename Net::layers>::type;

/// The shape of the logits (the output of the last trained node; void when there is none).
template <Network Net>
using logits_shape = typename detail::last_output<trained_nodes<Net>>::type;

namespace detail {
template <class S>
inline constexpr bool is_flat = false;
template <int N>
inline constexpr bool is_flat<shape<N>> = true;
}  // namespace detail

namespace detail {
/// Stands for a network that broke one of its own rules: that rule has reported already (the network type
/// fires it), so training adds no error of its own, but still runs on stand-ins.
struct network_rule_reported {};
}  // namespace detail

/// The first training rule the network breaks (diag::nothing_to_train, diag::logits_not_flat), or void;
/// detail::network_rule_reported when the network itself is invalid.
template <Network Net>
using training_error =
    std::conditional_t<!Net::is_valid, detail::network_rule_reported,
                       std::conditional_t<trained_nodes<Net>::size == 0, diag::nothing_to_train<Net>,
                                          std::conditional_t<detail::is_flat<logits_shape<Net>>, void,
                                                             diag::logits_not_flat<Net, logits_shape<Net>>>>>;

/// The logits' shape, with a stand-in (shape<1>) once a rule has fired, so that the training programs
/// compile on without adding errors of their own.
template <Network Net>
using trained_logits = std::conditional_t<std::is_void_v<training_error<Net>>, logits_shape<Net>, shape<1>>;

/// True when the network's last layer is a softmax (training folds it into the loss).
template <Network Net>
inline constexpr bool drops_softmax = detail::drop_trailing_softmax<typename Net::layers>::drop;

// ---- sizes -----------------------------------------------------------------------------------------------

template <class Node>
struct node_plan;

template <class List>
struct list_plan;
template <class... N>
struct list_plan<typenet::type_list<N...>> {
  static constexpr std::int64_t floats = (std::int64_t{0} + ... + node_plan<N>::floats);
};

/// Floats of the leaf's own state beyond its output and output gradient.
template <class Leaf>
constexpr std::int64_t leaf_state() {
  constexpr layer_kind kind = layer_kind_of<typename Leaf::layer>;
  if constexpr (kind == layer_kind::dropout)
    return Leaf::output::size;  // the mask
  else if constexpr (kind == layer_kind::batch_norm)
    return 2 * Leaf::output::dims[0];  // mean and 1/std per channel
  else
    return 0;
}

template <class Node>
struct node_plan {  // a layer
  static constexpr std::int64_t floats = 2 * Node::output::size + leaf_state<Node>();
  /// Offset of the node's output value when the node starts at `at` (its gradient follows the value).
  static constexpr std::int64_t value(std::int64_t at) { return at; }
};
template <class Path, class I, class O, class... C>
struct node_plan<bound_seq<Path, I, O, C...>> {
  using children = typenet::type_list<C...>;
  static constexpr std::int64_t floats = list_plan<children>::floats;
  static constexpr std::int64_t value(std::int64_t at) {
    using last = typenet::detail::at_t<sizeof...(C) - 1, children>;
    return node_plan<last>::value(at + floats - node_plan<last>::floats);
  }
};
template <class Path, class I, class O, class Body, class Short, class After>
struct node_plan<bound_residual<Path, I, O, Body, Short, After>> {
  static constexpr std::int64_t children = node_plan<Body>::floats + node_plan<Short>::floats;
  static constexpr std::int64_t sum_at(std::int64_t at) { return at + children + node_plan<After>::floats; }
  static constexpr std::int64_t scratch_at(std::int64_t at) { return sum_at(at) + 2 * Body::output::size; }
  static constexpr std::int64_t floats = children + node_plan<After>::floats + 2 * Body::output::size + I::size;
  static constexpr std::int64_t value(std::int64_t at) { return node_plan<After>::value(at + children); }
};
template <class Path, class I, class O, class... C>
struct node_plan<bound_concat<Path, I, O, C...>> {
  static constexpr std::int64_t children = list_plan<typenet::type_list<C...>>::floats;
  static constexpr std::int64_t floats = children + 2 * O::size + I::size;
  static constexpr std::int64_t value(std::int64_t at) { return at + children; }
  static constexpr std::int64_t scratch_at(std::int64_t at) { return at + children + 2 * O::size; }
};

/// Floats per image that a training step keeps (see the file comment): the trained nodes, then the
/// gradient of the network's input.
template <Network Net>
inline constexpr std::int64_t floats_per_image = list_plan<trained_nodes<Net>>::floats + Net::input_shape::size;

/// Bytes per image of activations, their gradients and the layers' saved state in one training step.
template <Network Net>
inline constexpr std::int64_t training_bytes = 4 * floats_per_image<Net>;

}  // namespace typenet::train
