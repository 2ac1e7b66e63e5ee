// typenet/fusion/graph.hpp: the fused op list of a network with blocks (residual, concat) or the layers of
// the torchvision zoo, shared by the policies that run such networks natively (exec::simd's graph program,
// exec/simd/graph.hpp, and exec::cuda's, exec/cuda/graph.hpp).
//
// It starts from core/plan.hpp's lowered op list and fuses it at compile time (a constexpr pass, fuse()):
//   conv2d + batch_norm          the batch norm is folded into the convolution's weights and bias when
//                                the model is built (fold_conv)
//   conv2d [+ bn] + add          a residual join whose one input is a convolution read by nothing else is
//                                done in that convolution's epilogue (the op moves to the join's place, so
//                                the shortcut is ready when it runs)
//   ... + relu | relu6           an activation read-only-by-its-producer goes into the epilogue of a
//                                convolution, a join, a batch norm or (relu) a dense layer
// then places the values of the fused list in one arena by liveness (the same lifetimes/place functions
// as exec::reference's plan; the input and output edges live in the arena too). Plain host code: no
// policy's headers, so nvcc and g++ read the same pass.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <utility>
#include <vector>

#include "../core/graph.hpp"
#include "../core/params.hpp"
#include "../core/plan.hpp"
#include "../layers.hpp"

namespace typenet::fusion::graph {

/// What kernel a layer gets.
enum class leaf_kind { conv, depthwise, dense, batch_norm, relu, relu6, softmax, spatial, other };

template <class B>
consteval leaf_kind kind_of() {
  using L = typename B::layer;
  using k = layer_kind;
  constexpr k category = layer_kind_of<L>;
  if constexpr (category == k::conv) {
    constexpr int c = static_cast<int>(B::input::dims[0]), f = static_cast<int>(B::output::dims[0]);
    return (L::group_count == c && f == c && c > 1) ? leaf_kind::depthwise : leaf_kind::conv;
  } else if constexpr (category == k::dense) {
    return leaf_kind::dense;
  } else if constexpr (category == k::batch_norm) {
    return leaf_kind::batch_norm;
  } else if constexpr (category == k::relu) {
    return leaf_kind::relu;
  } else if constexpr (category == k::relu6) {
    return leaf_kind::relu6;
  } else if constexpr (category == k::softmax) {
    return leaf_kind::softmax;
  } else if constexpr (category == k::pool) {
    return B::input::rank == 3 ? leaf_kind::spatial : leaf_kind::other;
  } else if constexpr (category == k::adaptive_pool || category == k::lrn) {
    return leaf_kind::spatial;
  } else {
    return leaf_kind::other;
  }
}

/// One op of the fused list.
struct fused_op {
  op_desc::kind_t kind = op_desc::layer;
  int leaf = -1;      ///< layer ops: the layer (index into lowered_leaves_t)
  int bn = -1;        ///< a batch norm folded into this convolution
  int act = 0;        ///< epilogue: 0 none, 1 relu, 2 relu6
  int residual = -1;  ///< a value added before the epilogue (a residual join done in a convolution)
  int output = 0;
  int input_count = 0;
  std::array<int, ::typenet::detail::max_concat_branches> inputs{};
};

template <class List>
struct leaf_kinds;
template <class... B>
struct leaf_kinds<type_list<B...>> {
  static constexpr std::array<leaf_kind, sizeof...(B)> value{kind_of<B>()...};
  /// Whether the layer's input shape is flat (it may still read a value stored NHWC: after flatten).
  static constexpr std::array<bool, sizeof...(B)> flat_input{(B::input::rank != 3)...};
};

// The I-th type of a list in one overload resolution (a recursive walk would instantiate a list of every
// length for every index: quadratic in a ResNet's 200 layers).
template <std::size_t I, class T>
struct indexed {
  using type = T;
};
template <class Seq, class List>
struct indexer;
template <std::size_t... I, class... T>
struct indexer<std::index_sequence<I...>, type_list<T...>> : indexed<I, T>... {};
template <std::size_t I, class T>
indexed<I, T> pick_indexed(const indexed<I, T>&);
template <std::size_t I, class List>
struct leaf_at;
template <std::size_t I, class... T>
struct leaf_at<I, type_list<T...>> {
  using type = typename decltype(pick_indexed<I>(indexer<std::index_sequence_for<T...>, type_list<T...>>{}))::type;
};

/// The fused op list of Net and the arena its values live in.
template <class Net>
struct lowered {
  using plan = activation_plan<Net>;
  using leaves = typename typenet::detail::lowered_leaves<typename Net::layers>::type;
  template <int I>
  using leaf = typename leaf_at<static_cast<std::size_t>(I), leaves>::type;
  static constexpr auto kinds = leaf_kinds<leaves>::value;
  static constexpr auto flat_input = leaf_kinds<leaves>::flat_input;
  static constexpr int values = plan::values;
  static constexpr int output = plan::output;

  struct fused_list {
    std::array<fused_op, plan::ops.size()> ops{};
    std::size_t n = 0;
  };

  static constexpr bool kind_is(const fused_op& o, leaf_kind k) {
    return o.kind == op_desc::layer && kinds[static_cast<std::size_t>(o.leaf)] == k;
  }
  static constexpr bool is_conv(const fused_op& o) {
    return kind_is(o, leaf_kind::conv) || kind_is(o, leaf_kind::depthwise);
  }
  // A layer with a flat input shape that reads a value stored NHWC (the spatial value a flatten aliases)
  // sees its elements in (H, W, C) order, not PyTorch's (C, H, W): dense permutes its weights for that;
  // any other such layer runs the reference kernel on an NCHW copy.
  static constexpr bool reads_permuted(const fused_op& o) {
    return o.kind == op_desc::layer && plan::dims[static_cast<std::size_t>(o.inputs[0])].c > 0 &&
           flat_input[static_cast<std::size_t>(o.leaf)] && !kind_is(o, leaf_kind::dense);
  }

  static constexpr fused_list fuse() {  // constexpr, not consteval: clang 14 rejects the latter here
    // Built-in arrays and pointers in the loops: g++ evaluates every std::array::operator[] as a constexpr
    // function call, and this pass walks a ResNet-50's 170 ops many times (docs/compile-time.md).
    constexpr std::size_t N = plan::ops.size();
    fused_op ops[N + 1] = {};
    bool dead[N + 1] = {};
    for (std::size_t k = 0; k < N; ++k) {
      const op_desc& d = plan::ops[k];
      ops[k] = fused_op{d.kind, d.leaf, -1, 0, -1, d.output, d.input_count, d.inputs};
    }
    // How many ops read each value (the network's output counts as read). The fusions below keep these
    // counts: an absorbed op's output is read by nothing else, and a convolution that takes over a join
    // reads the join's other input in its place.
    int readers[values + 1] = {};
    for (std::size_t k = 0; k < N; ++k) {
      const int* in = ops[k].inputs.data();
      for (int i = 0; i < ops[k].input_count; ++i) ++readers[in[i]];
    }
    ++readers[output];
    // The first live op after `from` that reads v.
    auto reader = [&](std::size_t from, int v) {
      for (std::size_t k = from; k < N; ++k) {
        if (dead[k]) continue;
        const fused_op& o = ops[k];
        if (o.residual == v) return k;
        const int* in = o.inputs.data();
        for (int i = 0; i < o.input_count; ++i)
          if (in[i] == v) return k;
      }
      return N;
    };
    // One pass: op i absorbs its only reader as long as it can; an op that moves to a join's place is
    // met again there.
    for (std::size_t i = 0; i < N;) {
      if (dead[i]) {
        ++i;
        continue;
      }
      fused_op o = ops[i];
      if (o.kind == op_desc::concat || reads_permuted(o) || readers[o.output] != 1 || o.output == output) {
        ++i;
        continue;
      }
      const std::size_t j = reader(i + 1, o.output);
      const fused_op r = ops[j];
      if (reads_permuted(r)) {  // its output is flat in (C, H, W) order: it cannot be o's epilogue
        ++i;
        continue;
      }
      const bool plain = o.act == 0 && o.residual < 0;
      if (is_conv(o) && plain && o.bn < 0 && kind_is(r, leaf_kind::batch_norm)) {
        o.bn = r.leaf, o.output = r.output;
        ops[i] = o, dead[j] = true;
      } else if (o.act == 0 && (kind_is(r, leaf_kind::relu) || kind_is(r, leaf_kind::relu6)) &&
                 (is_conv(o) || kind_is(o, leaf_kind::batch_norm) || o.kind == op_desc::add ||
                  (kind_is(o, leaf_kind::dense) && kind_is(r, leaf_kind::relu)))) {
        o.act = kind_is(r, leaf_kind::relu) ? 1 : 2, o.output = r.output;
        ops[i] = o, dead[j] = true;
      } else if (is_conv(o) && plain && r.kind == op_desc::add && r.inputs[0] != r.inputs[1]) {
        o.residual = r.inputs[0] == o.output ? r.inputs[1] : r.inputs[0];
        o.act = r.act, o.output = r.output;
        ops[j] = o, dead[i] = true;  // the convolution runs where the join was
        ++i;
      } else {
        ++i;
      }
    }
    fused_list l;
    for (std::size_t k = 0; k < N; ++k)
      if (!dead[k]) l.ops[l.n++] = ops[k];
    return l;
  }
  static constexpr fused_list fused = fuse();
  static constexpr std::size_t op_count = fused.n;
  static constexpr std::array<fused_op, op_count> ops = [] {
    std::array<fused_op, op_count> a{};
    for (std::size_t i = 0; i < op_count; ++i) a[i] = fused.ops[i];
    return a;
  }();
  /// Floats per image from which exec::simd runs a convolution and the depthwise layer that reads its output
  /// as a pair in row bands (exec/simd/graph.hpp's band_pair_exec): more than one core's L2 keeps (1 MB).
  static constexpr std::int64_t band_min_floats = std::int64_t{1} << 18;
  /// Whether ops i and i + 1 may run as such a pair: op i a convolution that is not depthwise, op i + 1 a
  /// depthwise convolution without a residual that reads op i's output, which nothing else reads and which
  /// holds at least band_min_floats per image. In a pair both ops run at once, so the lifetimes below keep
  /// op i's inputs alive through op i + 1: the depthwise layer's output never shares memory with them.
  static constexpr bool band_candidate(std::size_t i) {
    if (i + 1 >= op_count) return false;
    const fused_op &p = ops[i], &d = ops[i + 1];
    if (!kind_is(p, leaf_kind::conv) || !kind_is(d, leaf_kind::depthwise) || d.residual >= 0 ||
        d.inputs[0] != p.output || p.output == output ||
        plan::size[static_cast<std::size_t>(p.output)] < band_min_floats)
      return false;
    for (std::size_t k = 0; k < op_count; ++k) {
      if (k == i + 1) continue;
      if (ops[k].residual == p.output) return false;
      for (int j = 0; j < ops[k].input_count; ++j)
        if (ops[k].inputs[static_cast<std::size_t>(j)] == p.output) return false;
    }
    return true;
  }
  // Inputs for the lifetimes: the residual counts as an input, and the second op of a band pair reads the
  // first one's inputs too.
  static constexpr std::array<op_desc, op_count> deps = [] {
    std::array<op_desc, op_count> a{};
    for (std::size_t i = 0; i < op_count; ++i) {
      const fused_op& o = ops[i];
      a[i] = op_desc{o.kind, o.output, o.input_count, o.inputs, o.leaf};
      if (o.residual >= 0) a[i].inputs[static_cast<std::size_t>(a[i].input_count++)] = o.residual;
      if (i > 0 && band_candidate(i - 1)) {
        const fused_op& p = ops[i - 1];
        for (int k = 0; k < p.input_count; ++k)
          a[i].inputs[static_cast<std::size_t>(a[i].input_count++)] = p.inputs[static_cast<std::size_t>(k)];
        if (p.residual >= 0) a[i].inputs[static_cast<std::size_t>(a[i].input_count++)] = p.residual;
      }
    }
    return a;
  }();
  static constexpr typenet::detail::lifetimes<plan::size.size()> life{deps, op_count, output, true};
  static constexpr std::array<std::int64_t, plan::size.size()> offset =
      life.place(plan::size, [](int v) { return life.defined[static_cast<std::size_t>(v)] != -2; });
  static constexpr std::int64_t floats_per_image = typenet::detail::arena_floats(offset, plan::size);
};

/// PyTorch conv weights w [F][per_filter] and bias b [F] (b null: zero) with a batch norm folded in when bn is
/// not null (its four tensors weight, bias, running_mean, running_var of F floats each, one after another):
///   w' = w * s, b' = (b - mean) * s + beta, s = gamma / sqrt(var + eps).
/// Not a template: one copy serves every convolution.
inline void fold_conv(const float* w, const float* b, const float* bn, int filters, std::size_t per_filter,
                      std::vector<float>& w_out, std::vector<float>& b_out) {
  w_out.assign(w, w + per_filter * std::size_t(filters));
  b_out.assign(std::size_t(filters), 0.f);
  if (b != nullptr) std::copy(b, b + filters, b_out.begin());
  if (bn == nullptr) return;
  const float *gamma = bn, *beta = bn + filters, *mean = bn + 2 * filters, *var = bn + 3 * filters;
  for (int f = 0; f < filters; ++f) {
    const double s = double{gamma[f]} / std::sqrt(double{var[f]} + batch_norm::eps);
    for (std::size_t k = 0; k < per_filter; ++k)
      w_out[std::size_t(f) * per_filter + k] = static_cast<float>(w_out[std::size_t(f) * per_filter + k] * s);
    b_out[std::size_t(f)] = static_cast<float>((double{b_out[std::size_t(f)]} - mean[f]) * s + beta[f]);
  }
}

/// What executor an op of the fused list needs. Every policy's exec_for picks its executor by this role, from
/// a list of its executors in this order; a new kind of op adds its role here and one executor per policy.
enum class op_role { add, concat, conv, dense, batch_norm, activation, softmax, spatial, other };

template <class Low>
constexpr op_role role_of(const fused_op& op) {
  if (op.kind == op_desc::add) return op_role::add;
  if (op.kind == op_desc::concat) return op_role::concat;
  switch (Low::kinds[static_cast<std::size_t>(op.leaf)]) {
    case leaf_kind::conv:
    case leaf_kind::depthwise:
      return op_role::conv;
    case leaf_kind::dense:
      return op_role::dense;
    case leaf_kind::batch_norm:
      return op_role::batch_norm;
    case leaf_kind::relu:
    case leaf_kind::relu6:
      return op_role::activation;
    case leaf_kind::softmax:
      return op_role::softmax;
    case leaf_kind::spatial:
      return op_role::spatial;
    default:
      return op_role::other;
  }
}

/// Executors[role_of(op)]: Executors lists one executor per op_role, in op_role's order (naming a class
/// template specialisation here does not instantiate it).
template <op_role R, class... Executors>
using executor_for = std::tuple_element_t<static_cast<std::size_t>(R), std::tuple<Executors...>>;

}  // namespace typenet::fusion::graph
