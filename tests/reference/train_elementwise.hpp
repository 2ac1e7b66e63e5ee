// Shared by the host tests of the element-wise training program (train_elementwise_test.cpp,
// train_elementwise_zoo_test.cpp): one step of it on the host executor against the reference trainer
// (tests/train_compare.hpp), with float or double window sums.
#pragma once
#include <typenet/train/elementwise.hpp>

#include "../train_compare.hpp"

namespace train_elementwise {

namespace tn = typenet;

template <class Net, class Acc = float, int Parts = 1>
void compare(int batch, std::uint64_t seed, double bound = 2e-5, int input_levels = 0) {
  INFO("window sums in " << (sizeof(Acc) == 4 ? "float" : "double") << ", " << Parts << " batch-norm slices");
  train_compare::compare<Net>(
      batch, seed,
      [](tn::params<Net>& q, int max_batch, const tn::train::options& o) {
        return tn::train::detail::elementwise_program<Net, tn::train::detail::host_executor<Acc, Parts>>(q, max_batch,
                                                                                                         o);
      },
      bound, input_levels);
}

/// Float window sums (the GPU's, but for its fused multiply-adds) and double ones; batch norm's sums in one
/// slice per channel, in the CUDA executor's 64 and in 7 (flat batch norms then have empty slices).
template <class Net>
void compare_both(int batch, std::uint64_t seed) {
  compare<Net, float>(batch, seed);
  compare<Net, double>(batch, seed, 1e-6);
  compare<Net, float, 64>(batch, seed);
  compare<Net, double, 7>(batch, seed, 1e-6);
}

}  // namespace train_elementwise
