// typenet/core/plan.hpp: a network lowered to operations over numbered values, and the activation memory
// plan: every value gets a place in one arena, assigned at compile time from the values' lifetimes.
//
//   value 0              the network's input (the caller's buffer)
//   layer op             a layer reads one value and defines a new one
//   add op               a residual block's join: the sum of two values
//   concat op            a concat block's join: values joined along channels
// identity, flatten and dropout define no value: they alias their input. The network's output value is
// the caller's buffer. Every other value lives from the op that defines it to the last op that reads it;
// two values whose lifetimes overlap never share memory. Placement is greedy in definition order: the
// lowest offset that overlaps no already placed value alive at the same time.
//
// A policy that fuses ops (exec::simd) rewrites this op list and places the values of its own list with the
// same lifetimes/place functions.
//
// Numbering is a walk of the bound tree in declaration order, done by constexpr functions per node type
// (value_count, output_value, record): no list of operations is built as a type, which keeps the compile
// time linear in the network's size.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "graph.hpp"
#include "network.hpp"

namespace typenet {

/// One operation of the lowered network.
struct op_desc {
  enum kind_t { layer, add, concat } kind = layer;
  int output = 0;
  int input_count = 0;
  std::array<int, detail::max_concat_branches> inputs{};  ///< a concat's branches
  int leaf = -1;  ///< a layer op: its index in lowered_leaves_t (the layers that define a value)
};

/// The shape of a value as C x H x W when it has three dimensions (c == 0 otherwise).
struct value_dims {
  int c = 0, h = 0, w = 0;
  template <class S>
  static constexpr value_dims of() {
    if constexpr (S::rank == 3)
      return {static_cast<int>(S::dims[0]), static_cast<int>(S::dims[1]), static_cast<int>(S::dims[2])};
    else
      return {};
  }
};

namespace detail {

template <class L>
inline constexpr bool is_alias = false;  // a layer that defines no value of its own
template <>
inline constexpr bool is_alias<identity> = true;
template <>
inline constexpr bool is_alias<flatten> = true;
template <int P>
inline constexpr bool is_alias<dropout<P>> = true;

// lowering<Node>: a bound layer here; the blocks are the partial specializations below.
template <class B>
struct lowering {
  static constexpr bool alias = is_alias<typename B::layer>;
  static constexpr int values = alias ? 0 : 1;
  /// The value holding the node's output, when it reads `in` and numbers its own values from `first`.
  static constexpr int output(int in, int first) { return alias ? in : first; }
  template <class Rec>
  static constexpr void record(Rec& r, int in, int first) {
    if constexpr (!alias) r.template layer<B>(in, first);
  }
};

/// Values defined under Node (joins included).
template <class Node>
inline constexpr int value_count = lowering<Node>::values;

template <class Path, class I, class O, class... C>
struct lowering<bound_seq<Path, I, O, C...>> {
  static constexpr int values = (0 + ... + value_count<C>);
  static constexpr int output(int in, int first) {
    ((in = lowering<C>::output(in, first), first += value_count<C>), ...);
    return in;
  }
  template <class Rec>
  static constexpr void record(Rec& r, int in, int first) {
    ((lowering<C>::record(r, in, first), in = lowering<C>::output(in, first), first += value_count<C>), ...);
  }
};

template <class Path, class I, class O, class Body, class Short, class After>
struct lowering<bound_residual<Path, I, O, Body, Short, After>> {
  static constexpr int body_first(int first) { return first; }
  static constexpr int short_first(int first) { return first + value_count<Body>; }
  static constexpr int sum(int first) { return first + value_count<Body> + value_count<Short>; }
  static constexpr int values = value_count<Body> + value_count<Short> + 1 + value_count<After>;
  static constexpr int output(int, int first) { return lowering<After>::output(sum(first), sum(first) + 1); }
  template <class Rec>
  static constexpr void record(Rec& r, int in, int first) {
    lowering<Body>::record(r, in, first);
    lowering<Short>::record(r, in, short_first(first));
    r.join(op_desc::add, sum(first),
           std::array<int, 2>{lowering<Body>::output(in, first), lowering<Short>::output(in, short_first(first))},
           typename Body::output{});
    lowering<After>::record(r, sum(first), sum(first) + 1);
  }
};

template <class Path, class I, class O, class... C>
struct lowering<bound_concat<Path, I, O, C...>> {
  static_assert(sizeof...(C) <= max_concat_branches);  // diag::too_many_concat_branches stops it earlier
  static constexpr int values = (0 + ... + value_count<C>)+1;
  static constexpr int output(int, int first) { return first + values - 1; }
  template <class Rec>
  static constexpr void record(Rec& r, int in, int first) {
    std::array<int, sizeof...(C)> outs{};
    std::size_t k = 0;
    ((lowering<C>::record(r, in, first), outs[k++] = lowering<C>::output(in, first), first += value_count<C>), ...);
    r.join(op_desc::concat, first, outs, O{});
  }
};

template <class... N>
struct lowering<type_list<N...>> : lowering<bound_seq<void, void, void, N...>> {};

// The bound layers that define a value (aliases left out), in the order lowering records them
// (join_lists: core/network.hpp).
template <class Node>
struct lowered_leaves {
  using type = std::conditional_t<is_alias<typename Node::layer>, type_list<>, type_list<Node>>;
};
template <class Path, class I, class O, class... C>
struct lowered_leaves<bound_seq<Path, I, O, C...>> : join_lists<typename lowered_leaves<C>::type...> {};
template <class Path, class I, class O, class... C>
struct lowered_leaves<bound_concat<Path, I, O, C...>> : join_lists<typename lowered_leaves<C>::type...> {};
template <class Path, class I, class O, class Body, class Short, class After>
struct lowered_leaves<bound_residual<Path, I, O, Body, Short, After>>
    : join_lists<typename lowered_leaves<Body>::type, typename lowered_leaves<Short>::type,
                 typename lowered_leaves<After>::type> {};
template <class... N>
struct lowered_leaves<type_list<N...>> : join_lists<typename lowered_leaves<N>::type...> {};

// Fills the arrays of activation_plan: every op in order, every value's size.
template <std::size_t Ops, std::size_t Values>
struct recorder {
  std::array<op_desc, Ops> ops{};
  std::array<std::int64_t, Values> size{};
  std::array<value_dims, Values> dims{};
  std::size_t n = 0;
  int leaves = 0;
  template <class B>
  constexpr void layer(int in, int out) {
    ops[n++] = op_desc{op_desc::layer, out, 1, {in}, leaves++};
    size[static_cast<std::size_t>(out)] = B::output::size;
    dims[static_cast<std::size_t>(out)] = value_dims::of<typename B::output>();
  }
  template <std::size_t K, class S>
  constexpr void join(op_desc::kind_t kind, int out, const std::array<int, K>& in, S) {
    op_desc d{kind, out, static_cast<int>(K), {}};
    for (std::size_t i = 0; i < K; ++i) d.inputs[i] = in[i];
    ops[n++] = d;
    size[static_cast<std::size_t>(out)] = S::size;
    dims[static_cast<std::size_t>(out)] = value_dims::of<S>();
  }
};

// Ops under a node: one per value it defines (each value is defined by exactly one op).
template <class Net>
consteval auto record_network() {
  using low = lowering<typename Net::layers>;
  constexpr std::size_t values = static_cast<std::size_t>(low::values) + 1;
  recorder<values - 1, values> r;
  r.size[0] = Net::input_shape::size;
  r.dims[0] = value_dims::of<typename Net::input_shape>();
  low::record(r, 0, 1);
  return r;
}

/// Lifetimes of the values of an op list: defined[v] is the op that defines v (-1: before the first op,
/// -2: no op does and v is not the input), last_use[v] the last op that reads it (-1: none). With
/// keep_output, the output value stays alive past the last op (a policy that copies it out at the end).
template <std::size_t Values>
struct lifetimes {
  std::array<int, Values> defined{}, last_use{};
  template <std::size_t Ops>
  constexpr lifetimes(const std::array<op_desc, Ops>& ops, std::size_t op_count, int output, bool keep_output) {
    for (auto& d : defined) d = -2;
    for (auto& l : last_use) l = -1;
    defined[0] = -1;
    for (std::size_t i = 0; i < op_count; ++i) {
      const op_desc& o = ops[i];
      defined[static_cast<std::size_t>(o.output)] = static_cast<int>(i);
      for (int k = 0; k < o.input_count; ++k)
        last_use[static_cast<std::size_t>(o.inputs[static_cast<std::size_t>(k)])] = static_cast<int>(i);
    }
    if (keep_output) last_use[static_cast<std::size_t>(output)] = static_cast<int>(op_count);
  }
  /// Whether values a and b are alive during a common op (an op's inputs and output are all alive in it).
  constexpr bool overlap(int a, int b) const {
    const int a0 = defined[static_cast<std::size_t>(a)], b0 = defined[static_cast<std::size_t>(b)];
    const int a1 = std::max(a0, last_use[static_cast<std::size_t>(a)]);
    const int b1 = std::max(b0, last_use[static_cast<std::size_t>(b)]);
    return a0 <= b1 && b0 <= a1;
  }
  /// Offsets (floats per image) of the values for which placed(v) holds, -1 for the others: greedy in
  /// value order (values are numbered in definition order), each at the lowest offset that overlaps no
  /// already placed value alive at the same time. alias(v), when it names a placed value u (else -1), puts v
  /// at u's offset instead: the caller's promise that u dies in the op that defines v, which writes each
  /// element of v only after reading u's element at the same place (a residual join done in place). Every
  /// other value alive with u was kept out of u's range, and later ones are kept out of v's.
  ///
  /// Evaluated by the compiler for every network (twice for exec::simd: the plain and the fused list), so it
  /// is written for g++'s constant evaluator: built-in arrays rather than std::array's operator[] (a call per
  /// access there), and only the placed values that can still overlap a later one are scanned (a value whose
  /// life ends before every later value is defined is dropped from that list), instead of all earlier values.
  template <class Placed, class Alias = int (*)(int)>
  constexpr std::array<std::int64_t, Values> place(
      const std::array<std::int64_t, Values>& size, Placed placed, Alias alias = [](int) { return -1; }) const {
    constexpr int n = static_cast<int>(Values);
    std::int64_t off[Values] = {}, len[Values] = {};
    int first[Values] = {}, last[Values] = {}, later[Values + 1] = {};
    bool take[Values] = {};
    for (int v = 0; v < n; ++v) {
      const auto i = static_cast<std::size_t>(v);
      off[i] = -1;
      len[i] = size[i];
      first[i] = defined[i];
      last[i] = std::max(defined[i], last_use[i]);
      take[i] = placed(v);
    }
    // later[v]: the earliest definition among the placed values from v on.
    later[Values] = std::numeric_limits<int>::max();
    for (int v = n - 1; v >= 0; --v) {
      const auto i = static_cast<std::size_t>(v);
      later[i] = take[i] ? std::min(later[i + 1], first[i]) : later[i + 1];
    }
    int live[Values] = {};                              // placed values that may overlap value v or a later one
    std::int64_t begin[Values] = {}, end[Values] = {};  // busy ranges, sorted
    int live_count = 0;
    for (int v = 0; v < n; ++v) {
      const auto i = static_cast<std::size_t>(v);
      if (!take[i]) continue;
      int kept = 0, busy = 0;
      for (int j = 0; j < live_count; ++j) {
        const int u = live[j];
        const auto k = static_cast<std::size_t>(u);
        if (last[k] < later[i]) continue;  // overlaps no value from v on
        live[kept++] = u;
        if (first[k] <= last[i] && first[i] <= last[k]) {  // overlap(u, v)
          // Insertion into the sorted busy ranges (ordered by begin, then end).
          int at = busy++;
          for (; at > 0 && (begin[at - 1] > off[k] || (begin[at - 1] == off[k] && end[at - 1] > off[k] + len[k]));
               --at) {
            begin[at] = begin[at - 1];
            end[at] = end[at - 1];
          }
          begin[at] = off[k];
          end[at] = off[k] + len[k];
        }
      }
      live_count = kept;
      // The lowest gap between the busy ranges that holds the value.
      std::int64_t at = 0;
      for (int b = 0; b < busy && begin[b] < at + len[i]; ++b) at = std::max(at, end[b]);
      if (const int u = alias(v); u >= 0 && off[static_cast<std::size_t>(u)] >= 0)
        at = off[static_cast<std::size_t>(u)];
      off[i] = at;
      live[live_count++] = v;
    }
    std::array<std::int64_t, Values> out{};
    for (std::size_t v = 0; v < Values; ++v) out[v] = off[v];
    return out;
  }
};

/// The arena's size: the end of the highest placed value.
template <std::size_t Values>
constexpr std::int64_t arena_floats(const std::array<std::int64_t, Values>& offset,
                                    const std::array<std::int64_t, Values>& size) {
  std::int64_t n = 0;
  for (std::size_t v = 0; v < Values; ++v)
    if (offset[v] >= 0) n = std::max(n, offset[v] + size[v]);
  return n;
}

}  // namespace detail

/// Where every value of the lowered network lives. offset[v] is in floats per image (a batch of N keeps
/// value v at arena + offset[v] * N); the input (value 0) and the output are the caller's buffers, so they
/// have no place in the arena (offset -1). floats_per_image is the arena's size.
template <Network Net>
struct activation_plan {
  static constexpr auto recorded = detail::record_network<Net>();
  static constexpr int values = static_cast<int>(recorded.size.size());
  static constexpr int op_count = static_cast<int>(recorded.ops.size());
  /// The value holding the network's output.
  static constexpr int output = detail::lowering<typename Net::layers>::output(0, 1);
  static constexpr std::array<op_desc, recorded.ops.size()> ops = recorded.ops;
  static constexpr std::array<std::int64_t, recorded.size.size()> size = recorded.size;
  static constexpr std::array<value_dims, recorded.size.size()> dims = recorded.dims;
  static constexpr detail::lifetimes<recorded.size.size()> life{ops, ops.size(), output, false};
  /// The op that defines value v (-1 for the input).
  static constexpr std::array<int, values> defined = life.defined;
  /// The last op that reads value v (-1 when none does).
  static constexpr std::array<int, values> last_use = life.last_use;
  /// Whether value v lives in the arena.
  static constexpr bool internal(int v) { return v != 0 && v != output; }
  static constexpr std::array<std::int64_t, values> offset =
      life.place(size, [](int v) { return v != 0 && v != output; });
  static constexpr std::int64_t floats_per_image = detail::arena_floats(offset, size);
};

/// Bytes of activation memory one image needs in a forward pass of exec::reference: the arena of
/// activation_plan, from the values' lifetimes (the input and output are the caller's buffers).
template <Network Net>
inline constexpr std::int64_t peak_activation_bytes = 4 * activation_plan<Net>::floats_per_image;

}  // namespace typenet
