// tests/cuda/train_parity.cu (label gpu): exec::cuda's training program (train/cuda.hpp) against
// exec::reference's trainer (tests/train_compare.hpp): loss, logits, every parameter's and the input's
// gradient, batch norm's running statistics, dropout masks. Skipped (exit 77) without a GPU.
//   - networks with every layer kind and block, and lenet5: the trainer as users get it (float window sums),
//     within 2e-5 of each tensor's largest gradient, as exec::simd's trainer is held;
//   - the zoo networks through the same program with double window sums (cuda_executor<double>), which
//     repeat the reference's arithmetic, within 1e-5; AlexNet and SqueezeNet also with float sums;
//   - layers written outside typenet (tests/halve_layer.hpp), which run on the host between the kernels;
//   - several SGD steps in a row (parameters uploaded, gradients and running statistics downloaded each
//     step) against the same steps with the reference trainer.
// The same element functions and program run on the host in tests/reference/train_elementwise_test.cpp.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <typenet/cuda.hpp>
#include <typenet/train.hpp>
#include <typenet/train/cuda.hpp>
#include <typenet/zoo/alexnet.hpp>
#include <typenet/zoo/lenet.hpp>
#include <typenet/zoo/mobilenet.hpp>
#include <typenet/zoo/resnet.hpp>
#include <typenet/zoo/squeezenet.hpp>

#include "../halve_layer.hpp"
#include "../train_compare.hpp"
#include "cuda_test_util.hpp"

namespace tn = typenet;

namespace {

template <class Net>
void compare(int batch, std::uint64_t seed, int input_levels = 0) {
  train_compare::compare<Net>(
      batch, seed,
      [](tn::params<Net>& q, int max_batch, const tn::train::options& o) {
        return tn::train::trainer<Net, tn::exec::cuda>(q, max_batch, o);
      },
      2e-5, input_levels);
}

template <class Net>
void compare_double(int batch, std::uint64_t seed) {
  train_compare::compare<Net>(
      batch, seed,
      [](tn::params<Net>& q, int max_batch, const tn::train::options& o) {
        return tn::train::detail::elementwise_program<Net, tn::train::detail::cuda_executor<double>>(
            q, max_batch, o, tn::train::detail::cuda_executor<double>(tn::exec::cuda{}));
      },
      1e-5);
}

}  // namespace

TEST_CASE("cuda training matches the reference: convolutions, dense") {
  compare<train_compare::conv_net>(1, 1);
  compare<train_compare::conv_net>(3, 2);
}

TEST_CASE("cuda training matches the reference: residual, batch norm, concat, pools, lrn, dropout") {
  compare<train_compare::mixed_net>(2, 4);
  compare<train_compare::mixed_net>(5, 5);
}

TEST_CASE("cuda training matches the reference: average and adaptive pools, identity, inner softmax") {
  compare<train_compare::pool_net>(3, 7);
  compare<train_compare::pool_net>(4, 8);
}

TEST_CASE("cuda training matches the reference: max-pool ties go to the first maximum") {
  compare<train_compare::tie_net>(3, 9, 2);
}

TEST_CASE("cuda training matches the reference: lenet5") { compare<tn::zoo::lenet5>(4, 6); }

TEST_CASE("cuda training matches the reference: layers of one's own, on the host between the GPU's kernels") {
  using halved = tn::network<tn::input<8>, tn::dense<8>, mine::halve, tn::dense<3>>;
  using scaled = tn::network<tn::input<3, 6, 6>, tn::conv2d<4, tn::kernel<3>, tn::pad<1>>, mine::channel_scale,
                             mine::channel_ramp, tn::relu, tn::flatten, tn::dense<3>>;
  compare<halved>(3, 21);
  compare<scaled>(2, 22);
}

TEST_CASE("cuda training matches the reference: the zoo") {
  compare<tn::zoo::seed_alexnet>(2, 11);
  compare<tn::zoo::squeezenet1_1>(2, 14);
  compare_double<tn::zoo::seed_alexnet>(2, 11);
  compare_double<tn::zoo::resnet18>(2, 12);
  compare_double<tn::zoo::mobilenet_v2>(2, 13);
  compare_double<tn::zoo::squeezenet1_1>(2, 14);
}

TEST_CASE("cuda training: five SGD steps with momentum equal the reference's") {
  using Net = train_compare::mixed_net;
  constexpr int batch = 4;
  tn::params<Net> p;
  tn::init_he(p, 3);
  tn::params<Net> q = p;
  std::vector<float> x(static_cast<std::size_t>(batch * Net::input_shape::size));
  std::vector<std::int64_t> labels{1, 4, 0, 6};
  const tn::train::options o{.dropout = true, .seed = 9};
  tn::train::trainer<Net, tn::exec::reference_t> ref(p, batch, o);
  tn::train::trainer<Net, tn::exec::cuda> gpu(q, batch, o);
  tn::train::sgd<Net> step_ref({.lr = 0.05f}), step_gpu({.lr = 0.05f});
  for (int s = 0; s < 5; ++s) {
    tn::fill_uniform(x, 100 + static_cast<std::uint64_t>(s));
    const double l_ref = ref.forward_backward(x.data(), labels.data(), batch);
    const double l_gpu = gpu.forward_backward(x.data(), labels.data(), batch);
    INFO("step " << s);
    CHECK(l_gpu == doctest::Approx(l_ref).epsilon(1e-4));
    step_ref.step(p, ref.grads());
    step_gpu.step(q, gpu.grads());
  }
  double worst = 0, scale = 0;
  for (std::int64_t i = 0; i < tn::params<Net>::count; ++i) {
    worst = std::max(worst, double{std::abs(p.data()[i] - q.data()[i])});
    scale = std::max(scale, double{std::abs(p.data()[i])});
  }
  INFO("parameters after 5 steps: max |diff| " << worst << ", max |ref| " << scale);
  CHECK(worst <= 1e-5 * scale);
}

TEST_CASE("cuda training: bad batches and labels throw before anything runs") {
  tn::params<tn::zoo::lenet5> p;
  tn::init_he(p, 1);
  tn::train::trainer<tn::zoo::lenet5, tn::exec::cuda> t(p, 2);
  std::vector<float> x(3 * tn::zoo::lenet5::input_shape::size);
  std::vector<std::int64_t> labels{0, 1, 2};
  CHECK_THROWS_AS(t.forward_backward(x.data(), labels.data(), 3), std::invalid_argument);
  labels[1] = 10;
  CHECK_THROWS_AS(t.forward_backward(x.data(), labels.data(), 2), std::invalid_argument);
}

TYPENET_CUDA_TEST_MAIN
