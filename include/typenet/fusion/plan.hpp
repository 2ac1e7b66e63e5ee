// typenet/fusion/plan.hpp: the type-level rewrite of a network's layer list into execution stages.
//
//   conv2d [, relu] [, lrn] [, max_pool | avg_pool]  -> one stage   fused<conv2d<...>, relu, max_pool<...>>
//   dense [, relu | softmax]                          -> one stage   fused<dense<4096>, relu>
//   dropout (identity at inference), flatten (a view) -> no stage
//   anything else                                     -> a stage of its own
//
// fusion::plan_t<Net> is a type_list of fused<Layer...> (layer types, for static_asserts and printing);
// fusion::stages_t<Net> is the same list with bound layers (shapes, offsets), for the policies.
#pragma once
#include <array>
#include <utility>

#include "../core/network.hpp"
#include "../layers.hpp"

namespace typenet {

/// A fused stage: the layers it runs, in order.
template <class... Layers>
struct fused {};

namespace fusion {

/// A stage with its bound layers.
template <class... Bound>
struct stage {
  using layers = type_list<Bound...>;
  using fused_type = fused<typename Bound::layer...>;
  using first = detail::at_t<0, type_list<Bound...>>;
  using last = detail::at_t<sizeof...(Bound) - 1, type_list<Bound...>>;
  using input = typename first::input;
  using output = typename last::output;
  static constexpr std::size_t size = sizeof...(Bound);
};

namespace detail {
using typenet::detail::at_t;

// The fusion rules read the layers' own classification (layer_kind_of, layers/layer.hpp). Dropout (an
// identity at inference) and flatten (a view) vanish from the plan.
constexpr bool vanishes(layer_kind k) { return k == layer_kind::dropout || k == layer_kind::flatten; }

// How many layers from the front of the list form the next stage; 0 means "the first layer vanishes".
template <class... B>
constexpr std::size_t stage_length() {
  using k = layer_kind;
  constexpr std::array<k, sizeof...(B)> r{layer_kind_of<typename B::layer>...};
  constexpr std::size_t n = sizeof...(B);
  std::size_t i = 1;
  if (vanishes(r[0])) return 0;
  if (r[0] == k::conv) {
    if (i < n && r[i] == k::relu) ++i;
    if (i < n && r[i] == k::lrn) ++i;
    if (i < n && r[i] == k::pool) ++i;
  } else if (r[0] == k::dense) {
    if (i < n && (r[i] == k::relu || r[i] == k::softmax)) ++i;
  }
  return i;
}

template <class List, std::size_t Start, class Seq>
struct slice;
template <class List, std::size_t Start, std::size_t... I>
struct slice<List, Start, std::index_sequence<I...>> {
  using type = stage<at_t<Start + I, List>...>;
};

template <class Done, class List, std::size_t Start, std::size_t Rem>
struct rewrite;
template <class Done, class List, std::size_t Start>
struct rewrite<Done, List, Start, 0> {
  using type = Done;
};
template <class List, std::size_t Start, std::size_t Rem>
struct length_from;
template <class... B, std::size_t Start, std::size_t Rem>
struct length_from<type_list<B...>, Start, Rem> {
  template <std::size_t... I>
  static constexpr std::size_t get(std::index_sequence<I...>) {
    return stage_length<at_t<Start + I, type_list<B...>>...>();
  }
  static constexpr std::size_t value = get(std::make_index_sequence<Rem>{});
};
template <class Done, class List, std::size_t Start, std::size_t Rem>
struct rewrite {
  static constexpr std::size_t n = length_from<List, Start, Rem>::value;
  using next_done = std::conditional_t<
      n == 0, Done, typenet::detail::push_back_t<Done, typename slice<List, Start, std::make_index_sequence<n>>::type>>;
  static constexpr std::size_t taken = n == 0 ? 1 : n;
  using type = typename rewrite<next_done, List, Start + taken, Rem - taken>::type;
};

template <class Stages>
struct to_plan;
template <class... S>
struct to_plan<type_list<S...>> {
  using type = type_list<typename S::fused_type...>;
};
}  // namespace detail

namespace detail {
template <class B>
constexpr bool covered() {
  if constexpr (!B::is_leaf) {
    return false;
  } else {
    using L = typename B::layer;
    using k = layer_kind;
    constexpr k r = layer_kind_of<L>;
    if constexpr (r == k::conv || r == k::dense)
      return L::has_bias;
    else
      return r == k::relu || r == k::softmax || r == k::lrn || r == k::pool || r == k::adaptive_pool || vanishes(r);
  }
}
template <class List>
inline constexpr bool all_covered = false;
template <class... B>
inline constexpr bool all_covered<type_list<B...>> = (covered<B>() && ...);
}  // namespace detail

/// Whether the fused policies (exec::simd, exec::cuda) have kernels for every stage of Net: a chain of
/// conv2d and dense with bias, relu, softmax, lrn, max/avg/adaptive pooling, flatten and dropout. Blocks,
/// batch_norm, relu6 and no_bias are not covered yet (exec::simd then runs exec::reference's program).
template <Network Net>
inline constexpr bool fused_kernels_cover = detail::all_covered<typename Net::layers>;

/// The stages of a network, with bound layers.
template <Network Net>
using stages_t = typename detail::rewrite<type_list<>, typename Net::layers, 0, Net::layers::size>::type;

/// The fusion plan as a readable type: type_list<fused<conv2d<...>, relu, max_pool<...>>, ...>.
template <Network Net>
using plan_t = typename detail::to_plan<stages_t<Net>>::type;

/// For each layer index, the stage that runs it, or -1 when the layer vanishes at inference.
template <Network Net>
constexpr std::array<int, Net::layers::size> stage_of_layers() {
  std::array<int, Net::layers::size> out{};
  for (int& x : out) x = -1;
  int s = 0;
  [&]<class... S>(type_list<S...>) {
    (([&]<class... B>(type_list<B...>) { ((out[B::index] = s), ...); }(typename S::layers{}), ++s), ...);
  }(stages_t<Net>{});
  return out;
}

}  // namespace fusion
}  // namespace typenet
