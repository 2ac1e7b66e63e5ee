// The element-wise training program (train/elementwise.hpp), the one exec::cuda runs on a GPU, here on the
// host executor (each element one call of kernels/train_ops.hpp, its own copies of parameters and input as
// if on a device), against exec::reference's trainer (tests/train_compare.hpp): loss, logits, every
// parameter's and the input's gradient, batch norm's running statistics, dropout masks.
//   - networks with every layer kind and block, batches of 1 to 5, with float window sums (the GPU's
//     arithmetic; within 2e-5 of each tensor's largest gradient, as exec::simd's trainer is held) and with
//     double ones;
// The zoo networks: train_elementwise_zoo_test.cpp.
#include <doctest/doctest.h>

#include <typenet/zoo/lenet.hpp>

#include "train_elementwise.hpp"

namespace tn = typenet;

using train_elementwise::compare;
using train_elementwise::compare_both;

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

TEST_CASE("element-wise training matches the reference: max-pool ties go to the first maximum") {
  compare<train_compare::tie_net>(3, 9, 2e-5, 2);  // inputs in steps of 1/2: most windows hold ties
}

TEST_CASE("element-wise training matches the reference: lenet5") { compare_both<tn::zoo::lenet5>(4, 6); }
