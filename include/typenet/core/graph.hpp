// typenet/core/graph.hpp: binding a network's entries (layers and blocks) to shapes, paths, parameter keys
// and parameter offsets, and lowering the bound tree to a list of operations over numbered values.
//
// Binding walks the tree once, depth first, in declaration order:
//   - a layer becomes a bound_layer: its rule applied to its input shape, its place in the parameter
//     buffer, its index path (positions from the network's top level: "3.1.0") and its key path
//     ("layer2.0.downsample.0" when named);
//   - seq, residual and concat become bound_seq, bound_residual and bound_concat over their bound children;
//   - named<"k", X> adds the key component "k" and is otherwise X.
// The first entry that breaks a rule stops the walk, so only it reports, however deep it sits. A nested
// layer's error carries the top-level index as before and the layer as located<index_path<...>, Layer>.
//
// Lowering turns the bound tree into operations: value 0 is the network's input; every layer that computes
// something defines a new value; identity, flatten and dropout define none (they alias their input); a
// residual adds two values (op_add) and a concat joins several (op_concat). The activation plan
// (core/plan.hpp) assigns memory to the values by liveness.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "../detail/type_list.hpp"
#include "../layers/block.hpp"
#include "../layers/dropout.hpp"
#include "../layers/flatten.hpp"
#include "../layers/input.hpp"
#include "../layers/layer.hpp"
#include "shape.hpp"

namespace typenet {

/// Where a nested layer sits: its position at each level from the network's top level. A residual's body,
/// shortcut and after are positions 0, 1, 2; a concat's branches 0, 1, ...; named adds no level.
template <int... I>
struct index_path {
  static constexpr std::size_t size = sizeof...(I);
  static std::string str() {
    std::string s;
    // Two appends, not "." + std::to_string(I): g++ 12 at -O3 warns (-Wrestrict, a false positive) about
    // the operator+ of a C string and a temporary string.
    ((s += s.empty() ? "" : ".", s += std::to_string(I)), ...);
    return s;
  }
};

/// A layer (or block) inside a block, as diagnostics show it: located<index_path<3, 1, 0>, conv2d<...>>.
template <class Where, class Layer>
struct located {};

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

// ---- key paths --------------------------------------------------------------------------------------

template <class Named>  // the key of a named<"k", X> entry: key_string<"k"> (a type: nvcc's front end does
struct key_name {};     // not deduce string template arguments in partial specializations)
template <int I>
struct key_index {};
template <class... C>
struct key_path {};

template <class Path, class C>
struct key_push;
template <class... P, class C>
struct key_push<key_path<P...>, C> {
  using type = key_path<P..., C>;
};

template <class Path, int I>
struct path_push;
template <int... P, int I>
struct path_push<index_path<P...>, I> {
  using type = index_path<P..., I>;
};
template <class Path, int I>
using path_push_t = typename path_push<Path, I>::type;

template <class E>
inline constexpr bool is_named = requires {
  E::is_named_entry;
};

// The key component of entry K of a seq: a named entry brings its own, others get their position.
template <class Key, int K, class X>
struct child_key : std::conditional_t<is_named<X>, std::type_identity<Key>, key_push<Key, key_index<K>>> {};

// The key as a compile-time string, e.g. "layer1.0.conv1" (positions in decimal).
template <class C>
struct component_text;
template <class Named>
struct component_text<key_name<Named>> {
  static constexpr std::string_view view() { return Named::key; }
};
template <int I>
struct component_text<key_index<I>> {
  static constexpr auto chars = []() consteval {
    std::array<char, 12> out{};
    int v = I, n = 0;
    char rev[12]{};
    do {
      rev[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v > 0);
    for (int i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = rev[n - 1 - i];
    return std::pair{out, n};
  }
  ();
  static constexpr std::string_view view() { return {chars.first.data(), static_cast<std::size_t>(chars.second)}; }
};
template <class Path>
struct key_text;
template <class... C>
struct key_text<key_path<C...>> {
  static constexpr std::size_t length = []() consteval {
    std::size_t n = 0;
    ((n += component_text<C>::view().size() + 1), ...);
    return n == 0 ? 0 : n - 1;
  }
  ();
  static constexpr std::array<char, length + 1> chars = []() consteval {
    std::array<char, length + 1> out{};
    std::size_t at = 0;
    auto put = [&](std::string_view s) {
      if (at != 0) out[at++] = '.';
      for (char ch : s) out[at++] = ch;
    };
    (put(component_text<C>::view()), ...);
    return out;
  }
  ();
  static constexpr std::string_view view() { return {chars.data(), length}; }
};

// ---- errors of nested entries ------------------------------------------------------------------------

// A rule broken inside a block keeps the top-level index and shows the entry as located<Path, Entry>.
template <class E, class Path>
struct relocate {
  using type = E;
};
template <template <int, class> class R, int I, class L, int P0, int P1, int... Ps>
struct relocate<R<I, L>, index_path<P0, P1, Ps...>> {
  using type = R<I, located<index_path<P0, P1, Ps...>, L>>;
};
template <template <int, class, class> class R, int I, class L, class A, int P0, int P1, int... Ps>
struct relocate<R<I, L, A>, index_path<P0, P1, Ps...>> {
  using type = R<I, located<index_path<P0, P1, Ps...>, L>, A>;
};
template <template <int, class, class, class> class R, int I, class L, class A, class B, int P0, int P1, int... Ps>
struct relocate<R<I, L, A, B>, index_path<P0, P1, Ps...>> {
  using type = R<I, located<index_path<P0, P1, Ps...>, L>, A, B>;
};
template <class E, class Path>
using relocate_t = typename relocate<E, Path>::type;

}  // namespace detail

// ---- bound nodes -------------------------------------------------------------------------------------

/// A layer at its place in a network: index (of its top-level entry, 0-based after input), index path,
/// key path, input and output shapes, counts, and the offset of its tensors in the network's parameter
/// buffer (stored one after another in the order the layer declares them; PyTorch layouts).
template <int Index, class L, class In, class Out, std::int64_t Offset, class Path = index_path<Index>,
          class Key = detail::key_path<detail::key_index<Index>>>
struct bound_layer {
  static constexpr bool is_leaf = true;
  static constexpr int index = Index;
  using layer = L;
  using input = In;
  using output = Out;
  using path = Path;
  using key = Key;
  using rule = typename L::template at<Index, In>;
  static constexpr auto tensors = rule::tensors;
  static constexpr std::int64_t weights = rule::weights;
  static constexpr std::int64_t biases = rule::biases;
  static constexpr std::int64_t storage = []() consteval {
    std::int64_t n = 0;
    for (const auto& t : tensors) n += t.size();
    return n;
  }
  ();
  static constexpr std::int64_t params = []() consteval {  // what PyTorch's parameters() counts: buffers excluded
    std::int64_t n = 0;
    for (const auto& t : tensors) n += t.buffer ? 0 : t.size();
    return n;
  }
  ();
  static constexpr std::int64_t macs = rule::macs;
  static constexpr std::int64_t offset = Offset;
  static constexpr std::int64_t weight_offset = Offset;
  static constexpr std::int64_t bias_offset = Offset + weights;
  /// Offset of tensor i (in declaration order) in the parameter buffer.
  static constexpr std::int64_t tensor_offset(std::size_t i) {
    std::int64_t o = Offset;
    for (std::size_t j = 0; j < i; ++j) o += tensors[j].size();
    return o;
  }
};

namespace detail {
template <class... N>
struct node_sums {
  static constexpr std::int64_t storage = (std::int64_t{0} + ... + N::storage);
  static constexpr std::int64_t params = (std::int64_t{0} + ... + N::params);
  static constexpr std::int64_t macs = (std::int64_t{0} + ... + N::macs);
};
}  // namespace detail

/// A bound seq<...>: its children in order.
template <class Path, class In, class Out, class... Children>
struct bound_seq : detail::node_sums<Children...> {
  static constexpr bool is_leaf = false;
  using path = Path;
  using input = In;
  using output = Out;
  using children = type_list<Children...>;
  static std::string name() { return "seq"; }
};

/// A bound residual<Body, Shortcut, After>.
template <class Path, class In, class Out, class Body, class Shortcut, class After>
struct bound_residual : detail::node_sums<Body, Shortcut, After> {
  static constexpr bool is_leaf = false;
  using path = Path;
  using input = In;
  using output = Out;
  using body = Body;
  using shortcut = Shortcut;
  using after = After;
  using children = type_list<Body, Shortcut, After>;
  static std::string name() { return "residual"; }
};

/// A bound concat<Branch...>.
template <class Path, class In, class Out, class... Branches>
struct bound_concat : detail::node_sums<Branches...> {
  static constexpr bool is_leaf = false;
  using path = Path;
  using input = In;
  using output = Out;
  using children = type_list<Branches...>;
  static std::string name() { return "concat"; }
};

namespace detail {

// ---- binding -----------------------------------------------------------------------------------------
// bind<E, Top, Path, Key, In, Offset>: entry E applied to shape In. Top is the index of the top-level entry
// it belongs to, Path its index path, Key its key path, Offset where its tensors start. Results: error
// (void or the first broken rule, not instantiated), output, node (the bound node; meaningful when error
// is void), storage (floats of parameter storage it takes).

template <class E, int Top, class Path, class Key, class In, std::int64_t Offset>
struct bind_other {  // neither a layer nor a block
  using error =
      relocate_t<std::conditional_t<is_input<E>::value, diag::only_one_input<Top, E>, diag::not_a_layer<Top, E>>, Path>;
  using output = invalid_shape;
  using node = void;
  static constexpr std::int64_t storage = 0;
};

template <class L, int Top, class Path, class Key, class In, std::int64_t Offset>
struct bind_layer {
  using rule = typename L::template at<Top, In>;
  using error = relocate_t<typename rule::error, Path>;
  using output = std::conditional_t<std::is_void_v<error>, typename rule::output, invalid_shape>;
  using node = bound_layer<Top, L, In, typename rule::output, Offset, Path, Key>;
  static constexpr std::int64_t storage = std::is_void_v<error> ? node::storage : 0;
};

// named<"", X> adds no key level: X's tensors are keyed where the named entry stands (e.g. the concat of
// torchvision's Fire module, whose branches are attributes of the module itself).
template <class E, int Top, class Path, class Key, class In, std::int64_t Offset>
struct bind;
template <class E, int Top, class Path, class Key, class In, std::int64_t Offset>
struct bind_named
    : bind<typename E::type, Top, Path,
           std::conditional_t<E::key.empty(), Key, typename key_push<Key, key_name<typename E::key_type>>::type>, In,
           Offset> {};

// Layers, named entries and anything else here; seq, residual and concat are the partial specializations
// below. (A dispatch rather than constrained partial specializations or a match on named<"k", X>: nvcc's
// front end picked neither.)
template <class E, int Top, class Path, class Key, class In, std::int64_t Offset>
struct bind : std::conditional_t<Layer<E>, bind_layer<E, Top, Path, Key, In, Offset>,
                                 std::conditional_t<is_named<E>, bind_named<E, Top, Path, Key, In, Offset>,
                                                    bind_other<E, Top, Path, Key, In, Offset>>> {};

// A list of entries applied one after another (a seq, or the network's top level when TopLevel: then
// each entry is its own top-level index).
template <bool TopLevel, int Top, class Path, class Key, class In, std::int64_t Offset, int K, class Done,
          class... Rest>
struct bind_list {
  using error = void;
  using output = In;
  using nodes = Done;
  static constexpr std::int64_t end = Offset;
};

template <bool TopLevel, int Top, class Path, class Key, class In, std::int64_t Offset, int K, class X>
using bind_child = bind<X, TopLevel ? K : Top, std::conditional_t<TopLevel, index_path<K>, path_push_t<Path, K>>,
                        typename child_key<Key, K, X>::type, In, Offset>;

template <bool Ok, bool TopLevel, int Top, class Path, class Key, class In, std::int64_t Offset, int K, class Done,
          class X, class... Rest>
struct bind_list_next {  // entry K failed: stop here
  using error = typename bind_child<TopLevel, Top, Path, Key, In, Offset, K, X>::error;
  using output = invalid_shape;
  using nodes = Done;
  static constexpr std::int64_t end = Offset;
};
// Inherits the rest of the walk rather than naming it in member aliases (nvcc's front end re-instantiated
// aliased chains once per alias, exponential in the layer count).
template <bool TopLevel, int Top, class Path, class Key, class In, std::int64_t Offset, int K, class Done, class X,
          class... Rest>
struct bind_list_next<true, TopLevel, Top, Path, Key, In, Offset, K, Done, X, Rest...>
    : bind_list<TopLevel, Top, Path, Key, typename bind_child<TopLevel, Top, Path, Key, In, Offset, K, X>::output,
                Offset + bind_child<TopLevel, Top, Path, Key, In, Offset, K, X>::storage, K + 1,
                push_back_t<Done, typename bind_child<TopLevel, Top, Path, Key, In, Offset, K, X>::node>, Rest...> {};

template <bool TopLevel, int Top, class Path, class Key, class In, std::int64_t Offset, int K, class Done, class X,
          class... Rest>
struct bind_list<TopLevel, Top, Path, Key, In, Offset, K, Done, X, Rest...>
    : bind_list_next<std::is_void_v<typename bind_child<TopLevel, Top, Path, Key, In, Offset, K, X>::error>, TopLevel,
                     Top, Path, Key, In, Offset, K, Done, X, Rest...> {};

template <class Path, class In, class List>
struct make_seq_node;
template <class Path, class In, class... N>
struct make_seq_node<Path, In, type_list<N...>> {
  template <class Out>
  using type = bound_seq<Path, In, Out, N...>;
};

template <class... X, int Top, class Path, class Key, class In, std::int64_t Offset>
struct bind<seq<X...>, Top, Path, Key, In, Offset> {
  using run = bind_list<false, Top, Path, Key, In, Offset, 0, type_list<>, X...>;
  using error = typename run::error;
  using output = typename run::output;
  using node = typename make_seq_node<Path, In, typename run::nodes>::template type<output>;
  static constexpr std::int64_t storage = run::end - Offset;
};

// residual: body, then shortcut (if the body is fine), then the shape check, then after.
template <class B, class S, class A, int Top, class Path, class Key, class In, std::int64_t Offset, bool BodyOk,
          bool ShortOk>
struct bind_residual_steps {
  using body = bind<B, Top, path_push_t<Path, 0>, Key, In, Offset>;
  using error = typename body::error;  // the body failed
};
template <class B, class S, class A, int Top, class Path, class Key, class In, std::int64_t Offset>
struct bind_residual_steps<B, S, A, Top, Path, Key, In, Offset, true, false> {
  using body = bind<B, Top, path_push_t<Path, 0>, Key, In, Offset>;
  using error = typename bind<S, Top, path_push_t<Path, 1>, Key, In, Offset + body::storage>::error;
};
template <class B, class S, class A, int Top, class Path, class Key, class In, std::int64_t Offset>
struct bind_residual_steps<B, S, A, Top, Path, Key, In, Offset, true, true> {
  using body = bind<B, Top, path_push_t<Path, 0>, Key, In, Offset>;
  using shortcut = bind<S, Top, path_push_t<Path, 1>, Key, In, Offset + body::storage>;
  static constexpr bool same = std::is_same_v<typename body::output, typename shortcut::output>;
  using after = bind<A, Top, path_push_t<Path, 2>, Key, std::conditional_t<same, typename body::output, In>,
                     Offset + body::storage + shortcut::storage>;
  using error =
      std::conditional_t<same, typename after::error,
                         relocate_t<diag::residual_shape_mismatch<Top, residual<B, S, A>, typename body::output,
                                                                  typename shortcut::output>,
                                    Path>>;
};

template <class B, class S, class A, int Top, class Path, class Key, class In, std::int64_t Offset>
struct bind<residual<B, S, A>, Top, Path, Key, In, Offset> {
  using body = bind<B, Top, path_push_t<Path, 0>, Key, In, Offset>;
  static constexpr bool body_ok = std::is_void_v<typename body::error>;
  using shortcut = bind<S, Top, path_push_t<Path, 1>, Key, In, Offset + body::storage>;
  static constexpr bool short_ok = body_ok && std::is_void_v<typename shortcut::error>;
  using steps = bind_residual_steps<B, S, A, Top, Path, Key, In, Offset, body_ok, short_ok>;
  using error = typename steps::error;
  using after =
      bind<A, Top, path_push_t<Path, 2>, Key, typename body::output, Offset + body::storage + shortcut::storage>;
  using output = std::conditional_t<std::is_void_v<error>, typename after::output, invalid_shape>;
  using node = bound_residual<Path, In, output, typename body::node, typename shortcut::node, typename after::node>;
  static constexpr std::int64_t storage =
      std::is_void_v<error> ? body::storage + shortcut::storage + after::storage : 0;
};

// concat: the branches one after another (each from the block's input), then the size check.
template <class S>
struct concat_shape;  // how a branch's output joins: channels and spatial size, or a flat length
template <int C, int H, int W>
struct concat_shape<shape<C, H, W>> {
  static constexpr int rank = 3, channels = C, h = H, w = W;
};
template <int N>
struct concat_shape<shape<N>> {
  static constexpr int rank = 1, channels = N, h = 1, w = 1;
};

template <class First, class S>
constexpr bool joins() {
  if constexpr (requires { concat_shape<First>::rank, concat_shape<S>::rank; })
    return concat_shape<First>::rank == concat_shape<S>::rank && concat_shape<First>::h == concat_shape<S>::h &&
           concat_shape<First>::w == concat_shape<S>::w;
  else
    return false;
}

template <int Top, class Path, class Key, class In, std::int64_t Offset, int K, class Done, class... Rest>
struct bind_branches {
  using error = void;
  using nodes = Done;
  static constexpr std::int64_t end = Offset;
};
template <bool Ok, int Top, class Path, class Key, class In, std::int64_t Offset, int K, class Done, class X,
          class... Rest>
struct bind_branches_next {  // branch X broke a rule: its error, and stand-ins so that nothing else reports
  using error = typename bind<X, Top, path_push_t<Path, K>, Key, In, Offset>::error;
  using output = invalid_shape;
  using nodes = Done;
  static constexpr std::int64_t end = Offset;
};
template <int Top, class Path, class Key, class In, std::int64_t Offset, int K, class Done, class X, class... Rest>
struct bind_branches_next<true, Top, Path, Key, In, Offset, K, Done, X, Rest...>
    : bind_branches<Top, Path, Key, In, Offset + bind<X, Top, path_push_t<Path, K>, Key, In, Offset>::storage, K + 1,
                    push_back_t<Done, typename bind<X, Top, path_push_t<Path, K>, Key, In, Offset>::node>, Rest...> {};
template <int Top, class Path, class Key, class In, std::int64_t Offset, int K, class Done, class X, class... Rest>
struct bind_branches<Top, Path, Key, In, Offset, K, Done, X, Rest...>
    : bind_branches_next<std::is_void_v<typename bind<X, Top, path_push_t<Path, K>, Key, In, Offset>::error>, Top, Path,
                         Key, In, Offset, K, Done, X, Rest...> {};

template <class First, class... S>
struct first_mismatch {
  using type = void;
};
template <class First, class S, class... Rest>
struct first_mismatch<First, S, Rest...>
    : std::conditional_t<joins<First, S>(), first_mismatch<First, Rest...>, std::type_identity<S>> {};

/// The most branches one concat joins (the lowered ops' fixed input lists: op_desc, fused_op, the concat
/// executors). diag::too_many_concat_branches states the number in its message.
inline constexpr int max_concat_branches = 8;
static_assert(max_concat_branches == 8, "typenet: update diag::too_many_concat_branches's message too");

template <class Block, int Top, class Path, class Nodes>
struct concat_check;
template <class Block, int Top, class Path, class First, class... N>
struct concat_check<Block, Top, Path, type_list<First, N...>> {
  using first = typename First::output;
  // The first branch whose output does not join the first branch's, or void.
  using bad = typename first_mismatch<first, typename N::output...>::type;
  using error =
      std::conditional_t<(sizeof...(N) + 1 > max_concat_branches),
                         relocate_t<diag::too_many_concat_branches<Top, Block>, Path>,
                         std::conditional_t<std::is_void_v<bad>, void,
                                            relocate_t<diag::concat_size_mismatch<Top, Block, first, bad>, Path>>>;
  static constexpr int channels = (0 + ... + concat_shape<typename N::output>::channels);
  template <class F = first>
  static auto joined() {
    if constexpr (concat_shape<F>::rank == 3)
      return shape<concat_shape<F>::channels + channels, concat_shape<F>::h, concat_shape<F>::w>{};
    else
      return shape<concat_shape<F>::channels + channels>{};
  }
  using output = std::conditional_t<std::is_void_v<error>, decltype(joined()), invalid_shape>;
};
template <class Block, int Top, class Path>
struct concat_check<Block, Top, Path, type_list<>> {  // concat<> joins nothing
  using error = relocate_t<diag::concat_size_mismatch<Top, Block, void, void>, Path>;
  using output = invalid_shape;
};

template <class Path, class In, class Out, class List>
struct make_concat_node;
template <class Path, class In, class Out, class... N>
struct make_concat_node<Path, In, Out, type_list<N...>> {
  using type = bound_concat<Path, In, Out, N...>;
};

template <class... X, int Top, class Path, class Key, class In, std::int64_t Offset>
struct bind<concat<X...>, Top, Path, Key, In, Offset> {
  using run = bind_branches<Top, Path, Key, In, Offset, 0, type_list<>, X...>;
  static constexpr bool branches_ok = std::is_void_v<typename run::error>;
  template <bool Ok = branches_ok>
  static auto check() {
    if constexpr (Ok)
      return concat_check<concat<X...>, Top, Path, typename run::nodes>{};
    else
      return run{};
  }
  using checked = decltype(check());
  using error = typename checked::error;
  using output = std::conditional_t<std::is_void_v<error>, typename checked::output, invalid_shape>;
  using node = typename make_concat_node<Path, In, output, typename run::nodes>::type;
  static constexpr std::int64_t storage = std::is_void_v<error> ? run::end - Offset : 0;
};

}  // namespace detail

// ---- walking the bound tree ----------------------------------------------------------------------------

/// Calls f.template operator()<Leaf>() for every bound layer under Node, in declaration order.
template <class Node, class F>
constexpr void for_each_leaf(F&& f) {
  if constexpr (Node::is_leaf)
    f.template operator()<Node>();
  else
    [&]<class... C>(type_list<C...>) { (for_each_leaf<C>(f), ...); }(typename Node::children{});
}
template <class... Nodes, class F>
constexpr void for_each_leaf(type_list<Nodes...>, F&& f) {
  (for_each_leaf<Nodes>(f), ...);
}

/// True when every node of the list is a layer (the network is a chain of layers, no blocks).
template <class List>
inline constexpr bool all_leaves = false;
template <class... N>
inline constexpr bool all_leaves<type_list<N...>> = (N::is_leaf && ...);

}  // namespace typenet
