// Shared by the training-program tests (tests/simd/train_test.cpp, tests/reference/train_elementwise_test.cpp,
// tests/cuda/train_parity.cu): a training program against exec::reference's (the oracle) on one batch:
// loss, every parameter's gradient, the input's gradient and batch norm's running statistics; and small
// networks that hold every layer kind and block between them.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <typenet/train.hpp>

namespace train_compare {

namespace tn = typenet;

// clang-format off
/// Convolutions with stride, padding, groups, 1x1 and a strided 1x1, ReLU and ReLU6, dense.
struct conv_net : tn::network<tn::input<3, 9, 8>,
    tn::conv2d<4, tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::floor_mode>, tn::relu,
    tn::conv2d<6, tn::kernel<3, 2>, tn::groups<2>, tn::no_bias>, tn::conv2d<5, tn::kernel<1>>, tn::relu6,
    tn::conv2d<4, tn::kernel<1>, tn::stride<2>, tn::floor_mode>, tn::flatten, tn::dense<5>> {};
/// A residual block with batch norm, a concat, ceil-mode max pooling, LRN, dropout, a trailing softmax.
struct mixed_net : tn::network<tn::input<4, 8, 8>,
    tn::residual<tn::seq<tn::conv2d<4, tn::kernel<3>, tn::pad<1>, tn::no_bias>, tn::batch_norm, tn::relu,
                         tn::conv2d<4, tn::kernel<1>, tn::no_bias>, tn::batch_norm>>,
    tn::concat<tn::conv2d<3, tn::kernel<1>>, tn::seq<tn::conv2d<5, tn::kernel<3>, tn::pad<1>, tn::groups<1>>,
                                                     tn::relu>>,
    tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>, tn::lrn<3>, tn::flatten, tn::dropout<25>,
    tn::dense<20>, tn::relu, tn::dense<7>, tn::softmax> {};
/// Average pooling (padded, ceil mode), adaptive average pooling, identity, a softmax inside the network, a
/// residual block with a projection shortcut and a flat batch norm (batches of at least 3: with two values
/// per channel, batch norm passes no gradient back, and what the reference computes there is rounding; for
/// the same reason no bias reaches it through linear layers only).
struct pool_net : tn::network<tn::input<3, 11, 10>,
    tn::conv2d<4, tn::kernel<3>, tn::pad<1>>, tn::relu6,
    tn::avg_pool<tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::ceil_mode>, tn::identity,
    tn::residual<tn::seq<tn::conv2d<6, tn::kernel<3>, tn::pad<1>>, tn::relu>, tn::conv2d<6, tn::kernel<1>, tn::no_bias>>,
    tn::adaptive_avg_pool<3, 2>, tn::flatten, tn::dense<8, tn::no_bias>, tn::batch_norm, tn::softmax, tn::dense<5>> {};
/// Max pooling straight on the input (with input_levels, windows hold ties: the input gradient shows where
/// each window's gradient went), overlapping windows, ceil mode.
struct tie_net : tn::network<tn::input<2, 7, 7>, tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>,
                             tn::flatten, tn::dense<4>> {};
// clang-format on

inline double worst_difference(std::span<const float> got, std::span<const float> want, double& scale) {
  double worst = 0;
  scale = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, double{std::abs(want[i])});
    worst = std::max(worst, double{std::abs(got[i] - want[i])});
  }
  return worst;
}

/// What one training step left behind.
template <class Net>
struct step_result {
  double loss;
  tn::params<Net> params, grads;  // params: after the step (batch norm's running statistics moved)
  std::vector<float> input_gradient, logits;
};

/// He weights, and biases and batch-norm scales drawn away from 0 and 1, so that their gradients matter.
template <class Net>
void randomise(tn::params<Net>& p, std::uint64_t seed) {
  tn::init_he(p, seed);
  for (tn::param_tensor& t : p.tensors()) {
    if (t.buffer || t.shape.size() != 1) continue;
    const bool scale = t.name.ends_with(".weight");  // batch norm's
    tn::fill_uniform(t.data, seed + 99, scale ? 0.5f : -0.2f, scale ? 1.5f : 0.2f);
  }
}

/// One step of `make(params, batch, options)`'s trainer on random parameters (nonzero biases, batch-norm
/// scales away from 1), input and labels drawn from `seed`, dropout on. With input_levels > 0 the input is
/// rounded to multiples of 1 / input_levels, so that pooling windows hold ties.
template <class Net, class Make>
step_result<Net> step(int batch, std::uint64_t seed, Make make, int input_levels = 0) {
  tn::params<Net> p;
  randomise(p, seed);
  std::vector<float> x(static_cast<std::size_t>(batch * Net::input_shape::size));
  tn::fill_uniform(x, seed + 1);
  if (input_levels > 0)
    for (float& v : x) v = std::round(v * static_cast<float>(input_levels)) / static_cast<float>(input_levels);
  constexpr int classes = tn::train::trainer<Net, tn::exec::reference_t>::classes;
  std::vector<std::int64_t> labels(static_cast<std::size_t>(batch));
  for (int n = 0; n < batch; ++n) labels[static_cast<std::size_t>(n)] = (3 * n + 1) % classes;
  auto t = make(p, batch, tn::train::options{.dropout = true, .seed = seed});
  const double loss = t.forward_backward(x.data(), labels.data(), batch);
  const auto dx = t.input_gradient(batch);
  const auto z = t.logits_of_last_step(batch);
  return {loss, p, t.grads(), {dx.begin(), dx.end()}, {z.begin(), z.end()}};
}

template <class Net>
auto reference_trainer() {
  return [](tn::params<Net>& p, int max_batch, const tn::train::options& o) {
    return tn::train::trainer<Net, tn::exec::reference_t>(p, max_batch, o);
  };
}

/// `make`'s trainer against the reference trainer on one step (see step()): the loss, every gradient
/// tensor, the input gradient and the logits within `bound` x the tensor's largest element (+ 1e-7), the
/// running statistics within 1e-5.
template <class Net, class Make>
void compare(int batch, std::uint64_t seed, Make make, double bound = 2e-5, int input_levels = 0) {
  const step_result<Net> want = step<Net>(batch, seed, reference_trainer<Net>(), input_levels);
  const step_result<Net> got = step<Net>(batch, seed, make, input_levels);
  INFO("batch " << batch << ", seed " << seed);
  CHECK(got.loss == doctest::Approx(want.loss).epsilon(1e-5));

  auto check = [&](const std::string& name, std::span<const float> g, std::span<const float> w) {
    double scale = 0;
    const double worst = worst_difference(g, w, scale);
    INFO(name << ": max |diff| " << worst << ", max |ref| " << scale);
    CHECK(worst <= bound * scale + 1e-7);
  };
  auto& want_grads = const_cast<tn::params<Net>&>(want.grads);
  auto& got_grads = const_cast<tn::params<Net>&>(got.grads);
  std::vector<tn::param_tensor> w = want_grads.tensors(), g = got_grads.tensors();
  for (std::size_t t = 0; t < w.size(); ++t) check(w[t].name, g[t].data, w[t].data);
  check("input gradient", got.input_gradient, want.input_gradient);
  check("logits", got.logits, want.logits);
  // Running statistics: the same batch statistics.
  for (std::int64_t i = 0; i < tn::params<Net>::count; ++i)
    if (want.params.data()[i] != got.params.data()[i])
      CHECK(got.params.data()[i] == doctest::Approx(want.params.data()[i]).epsilon(1e-5));
}

}  // namespace train_compare
