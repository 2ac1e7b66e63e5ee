// typenet/train/reference.hpp: training steps with exec::reference, the gradient oracle.
//
//   tn::params<lenet5> p;  tn::init_he(p, 1);
//   tn::train::trainer<lenet5, tn::exec::reference_t> t(p, /*max_batch=*/32);
//   double loss = t.forward_backward(images, labels, batch);  // t.grads(): d(loss)/d(every parameter)
//
// One step runs the network in training mode (train/plan.hpp: the trailing softmax folded into the loss,
// dropout active unless switched off, batch norm on the batch's statistics with its running statistics
// updated in the caller's params), then the backward pass of every layer (kernels/reference/backward.hpp)
// in reverse. The trainer reads and updates the caller's params (which must outlive it); all memory is
// allocated when it is built, so a step allocates nothing.
#pragma once
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>

#include "../core/params.hpp"
#include "../exec/reference.hpp"
#include "../kernels/reference/backward.hpp"
#include "../kernels/reference/copy.hpp"
#include "../kernels/reference/join.hpp"
#include "../kernels/reference/layer.hpp"
#include "loss.hpp"
#include "plan.hpp"

namespace typenet::train {

/// How a trainer runs the network's training-mode layers.
struct options {
  bool dropout = true;               ///< false: dropout is the identity (typenet-zoo grad: deterministic)
  std::uint64_t seed = 0;            ///< of the dropout masks, with the step counter and the layer's place
  double batch_norm_momentum = 0.1;  ///< PyTorch's default
};

/// A training program for a network and an execution policy; a policy without one is a compile error
/// (diag::no_training_program).
template <Network Net, class Policy>
class trainer {
  static_assert(typenet::detail::report<diag::no_training_program<Net, Policy>>::value);

 public:
  template <class... A>
  explicit trainer(A&&...) {}  // so that the rule above is the only error
};

namespace detail {
/// The generator state that a dropout layer's mask starts from at a step: a function of the options' seed,
/// the step and the layer's place in the network, so the same three give the same mask (each element is 0
/// with probability Percent %, else 1 / (1 - Percent %)).
inline std::uint64_t mask_stream(std::uint64_t seed, std::int64_t step, std::int64_t place) {
  return seed * 0x9e3779b97f4a7c15ull ^ static_cast<std::uint64_t>(step) * 0xd1b54a32d192ed03ull ^
         static_cast<std::uint64_t>(place) * 0x8cb92ba72f3d8dd7ull;
}

/// The operations of a training step besides the layers' own kernels, on memory the CPU reads directly
/// (the CPU policies' kernels derive from it). A policy whose values live elsewhere (exec::cuda,
/// train/elementwise.hpp) provides the same members: memory, the step's entry and exit (parameters and
/// input in, gradients and batch norm's running statistics out), the joins, dropout, batch norm, the loss.
struct host_step_ops {
  using buffer = typenet::detail::aligned_floats;
  static buffer allocate(std::int64_t floats) { return typenet::detail::make_aligned_floats(floats); }

  /// The step's input as the layers read it; the parameters and gradients as the layers read and write them.
  const float* begin_step(const float* in, int) { return in; }
  template <class P>
  static float* weights(P& p) noexcept {
    return p.data();
  }
  template <class P>
  static float* gradients(P& g) noexcept {
    return g.data();
  }
  /// Brings the gradients and batch norm's running statistics back into the caller's params: here they are
  /// there already.
  template <class P>
  void end_step(P&, P&) {}
  /// n floats of a value as the CPU reads them (slot: which copy, when a policy has to make one).
  const float* host_view(const float* p, std::int64_t, int) const { return p; }

  static void zero(float* p, std::int64_t n) { std::fill(p, p + n, 0.f); }
  static void copy(const float* x, float* y, std::int64_t n) { std::copy(x, x + n, y); }
  static void add(std::int64_t n, const float* a, const float* b, float* out) {
    kernels::reference::add_plain(n, a, b, out);
  }
  /// `floats` per image of `in` into place `at` of a joined value of `joined` floats per image, and back.
  static void concat_part(const float* in, std::int64_t floats, float* joined_out, std::int64_t at, std::int64_t joined,
                          int batch) {
    kernels::reference::concat_part(in, floats, joined_out, at, joined, batch);
  }
  static void concat_slice(const float* joined_in, std::int64_t joined, std::int64_t at, std::int64_t floats,
                           float* out, int batch) {
    for (int n = 0; n < batch; ++n)
      std::copy(joined_in + n * joined + at, joined_in + n * joined + at + floats, out + n * floats);
  }
  /// y = x * mask with a fresh mask from generator state `stream` (detail::mask_stream), or the identity
  /// with a mask of ones when dropout is off.
  static void dropout_forward(const float* x, float* y, float* mask, std::int64_t count, int percent,
                              std::uint64_t stream, bool active) {
    if (!active) {
      std::fill(mask, mask + count, 1.f);
      std::copy(x, x + count, y);
      return;
    }
    typenet::detail::splitmix64 g{stream};
    const double p = percent / 100.0;
    const float keep = static_cast<float>(1.0 / (1.0 - p));
    for (std::int64_t i = 0; i < count; ++i) {
      const double u = static_cast<double>(g.next() >> 11) * 0x1.0p-53;
      mask[i] = u < p ? 0.f : keep;
      y[i] = x[i] * mask[i];
    }
  }
  static void dropout_backward(const float* dy, const float* mask, float* dx, std::int64_t count) {
    for (std::int64_t i = 0; i < count; ++i) dx[i] = dy[i] * mask[i];
  }
  static void batch_norm_forward(int channels, std::int64_t plane, const float* x, float* y, int batch, float* tensors,
                                 double momentum, float* stats) {
    kernels::reference::batch_norm_train_forward(channels, plane, x, y, batch, tensors, momentum, stats);
  }
  static void batch_norm_backward(int channels, std::int64_t plane, const float* stats, const float* tensors,
                                  const kernels::reference::backward_args& a, float* dtensors) {
    kernels::reference::batch_norm_train_backward(channels, plane, stats, tensors, a, dtensors);
  }
  static double loss(const float* logits, const std::int64_t* labels, int batch, int classes, float* dlogits) {
    return softmax_cross_entropy(logits, labels, batch, classes, dlogits);
  }
};

/// The kernels of exec::reference's training program: its loop nests, forward and backward.
struct reference_kernels : host_step_ops {
  static constexpr const char* name = "reference";
  template <class L>
  void forward(const float* x, float* y, int batch, const float* params) {
    kernels::reference::forward_layer<L>(x, y, batch, params);
  }
  template <class L>
  void backward(const kernels::reference::backward_args& a) {
    kernels::reference::backward_layer<L>(a);
  }
};

/// A training step over the network's tree (train/plan.hpp's memory): batch norm, dropout, identity and
/// flatten, the blocks and the loss here; every other layer through Kernels::forward<L> and
/// Kernels::backward<L>, which is what distinguishes the policies. Memory, the joins, dropout, batch norm
/// and the loss are Kernels' members too (host_step_ops on the CPU), so the same walk runs where the
/// values are not in the CPU's memory.
template <Network Net, class Kernels>
class training_program {
  using nodes = trained_nodes<Net>;
  static_assert(typenet::detail::report<training_error<Net>>::value);
  // Stand-ins once a rule has fired (the network's own or training's), so that nothing else reports.
  static constexpr bool runs = std::is_void_v<training_error<Net>>;
  using logits = trained_logits<Net>;

 public:
  static constexpr int classes = static_cast<int>(logits::size);
  Kernels& kernels() noexcept { return kernels_; }

  training_program(params<Net>& p, int max_batch, options o, Kernels kernels)
      : params_(&p),
        max_batch_(checked(p, max_batch)),
        options_(o),
        kernels_(std::move(kernels)),
        arena_(kernels_.allocate(floats_per_image<Net> * max_batch_)) {}

  /// One forward and backward pass of `batch` images (NCHW floats) with integer labels: returns the mean
  /// cross-entropy and leaves d(loss)/d(parameter) in grads() (zero for batch norm's running statistics,
  /// which the pass updates in the params instead). Throws std::invalid_argument for a batch outside
  /// 1..max_batch or a label outside 0..classes-1, before anything is changed.
  double forward_backward(const float* in, const std::int64_t* labels, int batch) {
    if (batch < 1 || batch > max_batch_)
      throw std::invalid_argument("typenet: training: batch " + std::to_string(batch) + " is outside 1.." +
                                  std::to_string(max_batch_) + " (the trainer's max_batch)");
    check_labels(labels, batch, classes);
    check_batch_norm(batch);
    if constexpr (!runs) {
      return 0.0;  // a rule has fired: the program does not compile
    } else {
      const float* x = kernels_.begin_step(in, batch);
      weights_ = kernels_.weights(*params_);
      dgrads_ = kernels_.gradients(grads_);
      kernels_.zero(dgrads_, params<Net>::count);
      place_ = 0;
      const float* z = forward_list(nodes{}, 0, x, batch);
      float* dz = gradient(last_value(), classes);
      const double loss = kernels_.loss(z, labels, batch, classes, dz);
      backward_list(nodes{}, 0, x, dz, value(input_gradient_at), batch);
      kernels_.end_step(*params_, grads_);
      ++steps_;
      return loss;
    }
  }

  /// The gradients of the last step, in the layout of params<Net> (keyed like the weights).
  const params<Net>& grads() const noexcept { return grads_; }
  /// The logits of the last step: batch x classes floats.
  std::span<const float> logits_of_last_step(int batch) const {
    const std::int64_t n = std::int64_t{batch} * classes;
    return {kernels_.host_view(value(last_value()), n, 0), static_cast<std::size_t>(n)};
  }
  /// d(loss)/d(input) of the last step: batch x input floats.
  std::span<const float> input_gradient(int batch) const {
    const std::int64_t n = std::int64_t{batch} * Net::input_shape::size;
    return {kernels_.host_view(value(input_gradient_at), n, 1), static_cast<std::size_t>(n)};
  }
  /// Steps taken: each draws new dropout masks. A resumed run sets it back to where it stopped.
  std::int64_t steps() const noexcept { return steps_; }
  void set_steps(std::int64_t s) noexcept { steps_ = s; }
  int max_batch() const noexcept { return max_batch_; }
  const options& training_options() const noexcept { return options_; }

 private:
  static constexpr std::int64_t input_gradient_at = list_plan<nodes>::floats;

  static int checked(const params<Net>& p, int max_batch) {
    if (p.empty()) throw std::logic_error("typenet: training: the params were moved from (they hold no buffer)");
    if (max_batch < 1)
      throw std::invalid_argument("typenet: training: max_batch must be at least 1, got " + std::to_string(max_batch));
    return max_batch;
  }

  // Batch statistics need more than one value per channel (PyTorch raises the same error).
  void check_batch_norm(int batch) const {
    for_each_leaf(nodes{}, [&]<class L>() {
      if constexpr (layer_kind_of<typename L::layer> == layer_kind::batch_norm) {
        if (batch * (L::output::size / L::output::dims[0]) < 2)
          throw std::invalid_argument("typenet: training: batch norm at " + L::path::str() +
                                      " needs more than one value per channel; batch " + std::to_string(batch) +
                                      " gives one");
      }
    });
  }

  // Where the logits are: the last trained node's value.
  static constexpr std::int64_t last_value() {
    if constexpr (nodes::size == 0) {
      return 0;  // a rule has fired (nothing_to_train, or the network's own)
    } else {
      using last = typenet::detail::at_t<nodes::size - 1, nodes>;
      return node_plan<last>::value(list_plan<nodes>::floats - node_plan<last>::floats);
    }
  }

  // The arena: a node's per-image offset times max_batch. A value's gradient follows the value.
  float* value(std::int64_t at) const { return arena_.get() + at * max_batch_; }
  float* gradient(std::int64_t value_at, std::int64_t size) const { return value(value_at + size); }

  // ---- forward ----

  template <class... N>
  const float* forward_list(typenet::type_list<N...>, std::int64_t at, const float* x, int batch) {
    ((x = forward<N>(at, x, batch), at += node_plan<N>::floats), ...);
    return x;
  }

  template <class Node>
  const float* forward(std::int64_t at, const float* x, int batch) {
    if constexpr (Node::is_leaf)
      return forward_leaf<Node>(at, x, batch);
    else
      return forward_block(static_cast<Node*>(nullptr), at, x, batch);
  }

  template <class L>
  const float* forward_leaf(std::int64_t at, const float* x, int batch) {
    using layer = typename L::layer;
    constexpr layer_kind kind = layer_kind_of<layer>;
    float* y = value(at);
    const std::int64_t count = std::int64_t{batch} * L::output::size;
    const std::int64_t place = place_++;
    if constexpr (kind == layer_kind::dropout) {
      kernels_.dropout_forward(x, y, value(at + 2 * L::output::size), count, layer::percent,
                               detail::mask_stream(options_.seed, steps_, place), options_.dropout);
    } else if constexpr (kind == layer_kind::batch_norm) {
      constexpr int c = L::output::dims[0];
      kernels_.batch_norm_forward(c, L::output::size / c, x, y, batch, weights_ + L::weight_offset,
                                  options_.batch_norm_momentum, value(at + 2 * L::output::size));
    } else if constexpr (kind == layer_kind::identity || kind == layer_kind::flatten) {
      kernels_.copy(x, y, count);
    } else {
      kernels_.template forward<L>(x, y, batch, weights_);
    }
    return y;
  }

  template <class Path, class I, class O, class... C>
  const float* forward_block(bound_seq<Path, I, O, C...>*, std::int64_t at, const float* x, int batch) {
    return forward_list(typenet::type_list<C...>{}, at, x, batch);
  }
  template <class Path, class I, class O, class Body, class Short, class After>
  const float* forward_block(bound_residual<Path, I, O, Body, Short, After>*, std::int64_t at, const float* x,
                             int batch) {
    using plan = node_plan<bound_residual<Path, I, O, Body, Short, After>>;
    const float* a = forward<Body>(at, x, batch);
    const float* b = forward<Short>(at + node_plan<Body>::floats, x, batch);
    float* sum = value(plan::sum_at(at));
    kernels_.add(std::int64_t{batch} * Body::output::size, a, b, sum);
    return forward<After>(at + plan::children, sum, batch);
  }
  template <class Path, class I, class O, class... C>
  const float* forward_block(bound_concat<Path, I, O, C...>*, std::int64_t at, const float* x, int batch) {
    using plan = node_plan<bound_concat<Path, I, O, C...>>;
    float* joined = value(plan::value(at));
    std::int64_t within = 0, place = at;
    ((kernels_.concat_part(forward<C>(place, x, batch), C::output::size, joined, within, O::size, batch),
      within += C::output::size, place += node_plan<C>::floats),
     ...);
    return joined;
  }

  // ---- backward ----
  // backward<Node>(at, x, dy, dx): the node started at `at` and read x; dy is the gradient of its output;
  // dx receives the gradient of x (overwritten). Parameter gradients are added to dgrads_.

  template <class N0, class... N>
  void backward_list(typenet::type_list<N0, N...>, std::int64_t at, const float* x, const float* dy, float* dx,
                     int batch) {
    if constexpr (sizeof...(N) == 0) {
      backward<N0>(at, x, dy, dx, batch);
    } else {
      // The rest first (it gives the gradient of N0's output, in N0's gradient slot), then N0.
      const std::int64_t y = node_plan<N0>::value(at);
      float* dy0 = gradient(y, N0::output::size);
      backward_list(typenet::type_list<N...>{}, at + node_plan<N0>::floats, value(y), dy, dy0, batch);
      backward<N0>(at, x, dy0, dx, batch);
    }
  }

  template <class Node>
  void backward(std::int64_t at, const float* x, const float* dy, float* dx, int batch) {
    if constexpr (Node::is_leaf)
      backward_leaf<Node>(at, x, dy, dx, batch);
    else
      backward_block(static_cast<Node*>(nullptr), at, x, dy, dx, batch);
  }

  template <class L>
  void backward_leaf(std::int64_t at, const float* x, const float* dy, float* dx, int batch) {
    using layer = typename L::layer;
    constexpr layer_kind kind = layer_kind_of<layer>;
    const std::int64_t count = std::int64_t{batch} * L::output::size;
    float* grads = dgrads_;
    const float* weights = weights_;
    if constexpr (kind == layer_kind::dropout) {
      kernels_.dropout_backward(dy, value(at + 2 * L::output::size), dx, count);
    } else if constexpr (kind == layer_kind::batch_norm) {
      constexpr int c = L::output::dims[0];
      kernels_.batch_norm_backward(c, L::output::size / c, value(at + 2 * L::output::size), weights + L::weight_offset,
                                   {x, value(at), dy, dx, batch, nullptr, nullptr, nullptr}, grads + L::weight_offset);
    } else {
      kernels_.template backward<L>({x, value(at), dy, dx, batch, weights + L::weight_offset,
                                     L::weights > 0 ? grads + L::weight_offset : nullptr,
                                     L::biases > 0 ? grads + L::bias_offset : nullptr});
    }
  }

  template <class Path, class I, class O, class... C>
  void backward_block(bound_seq<Path, I, O, C...>*, std::int64_t at, const float* x, const float* dy, float* dx,
                      int batch) {
    backward_list(typenet::type_list<C...>{}, at, x, dy, dx, batch);
  }
  template <class Path, class I, class O, class Body, class Short, class After>
  void backward_block(bound_residual<Path, I, O, Body, Short, After>*, std::int64_t at, const float* x, const float* dy,
                      float* dx, int batch) {
    using plan = node_plan<bound_residual<Path, I, O, Body, Short, After>>;
    const float* sum = value(plan::sum_at(at));
    float* dsum = gradient(plan::sum_at(at), Body::output::size);
    float* scratch = value(plan::scratch_at(at));
    backward<After>(at + plan::children, sum, dy, dsum, batch);
    backward<Body>(at, x, dsum, dx, batch);
    backward<Short>(at + node_plan<Body>::floats, x, dsum, scratch, batch);
    kernels_.add(std::int64_t{batch} * I::size, dx, scratch, dx);
  }
  template <class Path, class I, class O, class... C>
  void backward_block(bound_concat<Path, I, O, C...>*, std::int64_t at, const float* x, const float* dy, float* dx,
                      int batch) {
    using plan = node_plan<bound_concat<Path, I, O, C...>>;
    float* scratch = value(plan::scratch_at(at));
    std::int64_t within = 0, place = at;
    bool first = true;
    // Each branch's share of dy goes to its output's gradient slot, then through the branch; the input
    // gradients of the branches add up.
    (
        [&] {
          float* branch_dy = gradient(node_plan<C>::value(place), C::output::size);
          kernels_.concat_slice(dy, O::size, within, C::output::size, branch_dy, batch);
          backward<C>(place, x, branch_dy, first ? dx : scratch, batch);
          if (!first) kernels_.add(std::int64_t{batch} * I::size, dx, scratch, dx);
          first = false;
          within += C::output::size;
          place += node_plan<C>::floats;
        }(),
        ...);
  }

  params<Net>* params_;
  int max_batch_;
  options options_;
  Kernels kernels_;
  typename Kernels::buffer arena_;
  params<Net> grads_;
  float* weights_ = nullptr;  // the parameters and their gradients as the kernels address them, this step
  float* dgrads_ = nullptr;
  std::int64_t steps_ = 0;
  std::int64_t place_ = 0;  // the running number of the layer being run, for its dropout mask
};

}  // namespace detail

/// exec::reference's training program: plain loops with double sums, the gradient oracle.
template <Network Net>
class trainer<Net, exec::reference_t> : public detail::training_program<Net, detail::reference_kernels> {
 public:
  trainer(params<Net>& p, int max_batch, options o = {})
      : detail::training_program<Net, detail::reference_kernels>(p, max_batch, o, {}) {}
};

}  // namespace typenet::train
