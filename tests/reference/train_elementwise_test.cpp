// The element-wise training program (train/elementwise.hpp), the one exec::cuda runs on a GPU, here on the
// host executor (each element one call of kernels/train_ops.hpp, its own copies of parameters and input as
// if on a device), against exec::reference's trainer (tests/train_compare.hpp): loss, logits, every
// parameter's and the input's gradient, batch norm's running statistics, dropout masks.
//   - networks with every layer kind and block, batches of 1 to 5, with float window sums (the GPU's
//     arithmetic; within 2e-5 of each tensor's largest gradient, as exec::simd's trainer is held) and with
//     double ones;
//   - the zoo networks (label slow) with double window sums, which repeat the reference's arithmetic term
//     for term, so they are held to 1e-5 even where float32 programs are 1e-3 to 1e-2 away (deep networks
//     with batch norm, where a float32 forward pass rounds some ReLU or max-pool decision the other way).
#include <doctest/doctest.h>

#include <typenet/train/elementwise.hpp>
#include <typenet/zoo/alexnet.hpp>
#include <typenet/zoo/lenet.hpp>
#include <typenet/zoo/mobilenet.hpp>
#include <typenet/zoo/resnet.hpp>
#include <typenet/zoo/squeezenet.hpp>

#include "../train_compare.hpp"

namespace tn = typenet;

namespace {

template <class Net, class Acc = float>
void compare(int batch, std::uint64_t seed, double bound = 2e-5) {
  INFO("window sums in " << (sizeof(Acc) == 4 ? "float" : "double"));
  train_compare::compare<Net>(
      batch, seed,
      [](tn::params<Net>& q, int max_batch, const tn::train::options& o) {
        return tn::train::detail::elementwise_program<Net, tn::train::detail::host_executor<Acc>>(q, max_batch, o);
      },
      bound);
}

template <class Net>
void compare_both(int batch, std::uint64_t seed) {
  compare<Net, float>(batch, seed);
  compare<Net, double>(batch, seed, 1e-6);
}

}  // namespace

TEST_CASE("element-wise training matches the reference: convolutions (stride, padding, groups, 1x1), dense") {
  compare_both<train_compare::conv_net>(1, 1);
  compare_both<train_compare::conv_net>(3, 2);
}

TEST_CASE("element-wise training matches the reference: residual, batch norm, concat, pools, lrn, dropout") {
  compare_both<train_compare::mixed_net>(2, 4);
  compare_both<train_compare::mixed_net>(5, 5);
}

TEST_CASE("element-wise training matches the reference: average and adaptive pools, identity, inner softmax") {
  compare_both<train_compare::pool_net>(3, 7);
  compare_both<train_compare::pool_net>(4, 8);
}

TEST_CASE("element-wise training matches the reference: lenet5") { compare_both<tn::zoo::lenet5>(4, 6); }

TEST_CASE("element-wise training matches the reference: the zoo, double window sums" * doctest::test_suite("zoo")) {
  compare<tn::zoo::seed_alexnet, double>(2, 11, 1e-5);
  compare<tn::zoo::resnet18, double>(2, 12, 1e-5);
  compare<tn::zoo::mobilenet_v2, double>(2, 13, 1e-5);
  compare<tn::zoo::squeezenet1_1, double>(2, 14, 1e-5);
}
