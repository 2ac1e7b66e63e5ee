// typenet/exec/reference/policy.hpp: exec::reference, the oracle policy.
//
//   tn::model<lenet5, tn::exec::reference_t> m(p, /*max_batch=*/8);
//   m.forward(in, out, batch);
//
// Plain loops, one operation of the lowered network at a time (core/plan.hpp), in the canonical NCHW
// layout and PyTorch's weight layout, with double accumulators; batch norm is evaluated literally. Every
// other policy is tested against it. It copies the parameters (or, with `.borrow = true`, reads the
// caller's) and allocates the activation arena (activation_plan<Net>, values placed by liveness) for
// max_batch images when the program is built; run() allocates nothing.
//
//   tn::model<Net, tn::exec::reference_t> view(p, 8, {.borrow = true});  // no copy: p must outlive view
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "../../core/model.hpp"
#include "../../core/network.hpp"
#include "../../core/params.hpp"
#include "../../core/plan.hpp"
#include "../../kernels/reference/copy.hpp"
#include "../../kernels/reference/join.hpp"
#include "../../kernels/reference/layer.hpp"

namespace typenet::exec {

struct reference_t {
  /// false (default): the program keeps a copy of the parameters. true: it reads the caller's params<Net>
  /// instead (no second copy of the weights): they must outlive the model, and a change to them is seen by
  /// the next forward pass.
  bool borrow = false;

  template <Network Net>
  class program {
   public:
    // Two constructors rather than a default argument `= {}`: clang 14 cannot use reference_t's default
    // member initializer inside its own definition.
    program(const params<Net>& p, int max_batch) : program(p, max_batch, reference_t{}) {}
    program(const params<Net>& p, int max_batch, const reference_t& policy)
        : own_(policy.borrow ? nullptr : std::make_unique<params<Net>>(p)),
          weights_(policy.borrow ? p.data() : own_->data()),
          max_batch_(checked(max_batch)),
          arena_(typenet::detail::make_aligned_floats(plan::floats_per_image * max_batch_)) {}

    /// in: batch x input_shape floats (NCHW); out: batch x output_shape floats. 1 <= batch <= max_batch.
    void run(const float* in, float* out, int batch) {
      if (batch < 1 || batch > max_batch_)
        throw std::invalid_argument("typenet: exec::reference: batch " + std::to_string(batch) + " is outside 1.." +
                                    std::to_string(max_batch_));
      if constexpr (plan::output == 0) {  // nothing but identities
        kernels::reference::copy_images(in, out, batch, Net::input_shape::size);
      } else {
        exec_list(typename Net::layers{}, 0, 1, in, out, batch);
      }
    }

    int max_batch() const noexcept { return max_batch_; }
    /// The weights the program reads: its own copy, or the caller's params when borrowing.
    const float* weights() const noexcept { return weights_; }
    bool borrows() const noexcept { return own_ == nullptr; }

   private:
    using plan = activation_plan<Net>;

    static int checked(int max_batch) {
      if (max_batch < 1)
        throw std::invalid_argument("typenet: exec::reference: max_batch must be at least 1, got " +
                                    std::to_string(max_batch));
      return max_batch;
    }

    // Where value v lives: the caller's input, the caller's output, or its place in the arena.
    const float* source(int v, const float* in, float* out) const { return v == 0 ? in : target(v, out); }
    float* target(int v, float* out) const {
      return v == plan::output ? out : arena_.get() + plan::offset[static_cast<std::size_t>(v)] * max_batch_;
    }

    // Runs Node reading value `v`, numbering its values from `first` (core/plan.hpp's lowering).
    template <class Node>
    void exec(int v, int first, const float* in, float* out, int batch) {
      using low = typenet::detail::lowering<Node>;
      if constexpr (Node::is_leaf) {
        if constexpr (!low::alias)
          kernels::reference::forward_layer<Node>(source(v, in, out), target(first, out), batch, weights_);
      } else {
        exec_block(static_cast<Node*>(nullptr), v, first, in, out, batch);
      }
    }
    template <class Path, class I, class O, class... C>
    void exec_block(bound_seq<Path, I, O, C...>*, int v, int first, const float* in, float* out, int batch) {
      exec_list(type_list<C...>{}, v, first, in, out, batch);
    }
    template <class... C>
    void exec_list(type_list<C...>, int v, int first, const float* in, float* out, int batch) {
      ((exec<C>(v, first, in, out, batch), v = typenet::detail::lowering<C>::output(v, first),
        first += typenet::detail::value_count<C>),
       ...);
    }
    template <class Path, class I, class O, class Body, class Short, class After>
    void exec_block(bound_residual<Path, I, O, Body, Short, After>*, int v, int first, const float* in, float* out,
                    int batch) {
      using low = typenet::detail::lowering<bound_residual<Path, I, O, Body, Short, After>>;
      exec<Body>(v, first, in, out, batch);
      exec<Short>(v, low::short_first(first), in, out, batch);
      const int a = typenet::detail::lowering<Body>::output(v, first);
      const int b = typenet::detail::lowering<Short>::output(v, low::short_first(first));
      kernels::reference::add_plain(std::int64_t{batch} * O::size, source(a, in, out), source(b, in, out),
                                    target(low::sum(first), out));
      exec<After>(low::sum(first), low::sum(first) + 1, in, out, batch);
    }
    template <class Path, class I, class O, class... C>
    void exec_block(bound_concat<Path, I, O, C...>*, int v, int first, const float* in, float* out, int batch) {
      const int joined = typenet::detail::lowering<bound_concat<Path, I, O, C...>>::output(v, first);
      // Every branch first: the joined value is defined by the join, so the plan may place it over memory
      // a later branch still uses.
      int f = first;
      ((exec<C>(v, f, in, out, batch), f += typenet::detail::value_count<C>), ...);
      std::int64_t at = 0;
      // NCHW: per image the branches' C x H x W blocks follow one another, which is a join along channels.
      ((kernels::reference::concat_part(source(typenet::detail::lowering<C>::output(v, first), in, out),
                                        C::output::size, target(joined, out), at, O::size, batch),
        at += C::output::size, first += typenet::detail::value_count<C>),
       ...);
    }

    std::unique_ptr<params<Net>> own_;  // null when borrowing; a move keeps the buffer, so weights_ stays valid
    const float* weights_;
    int max_batch_;
    typenet::detail::aligned_floats arena_;
  };
};

/// The reference policy object: tn::model<Net, tn::exec::reference_t> m(p, n, tn::exec::reference).
inline constexpr reference_t reference{};

}  // namespace typenet::exec
