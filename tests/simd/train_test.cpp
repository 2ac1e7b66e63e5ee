// exec::simd's training program (train/simd.hpp) against exec::reference's (the oracle): loss, logits,
// every parameter's gradient, the input's gradient and batch norm's running statistics, on networks of
// every layer kind and block (tests/train_compare.hpp), at 1, 2 and 3 threads and batches that do not divide among
// them; and the matrix product underneath (kernels/simd/gemm.hpp) against a double-precision loop on random shapes,
// transposed operands and accumulation.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <typenet/train.hpp>
#include <typenet/train/simd.hpp>
#include <typenet/zoo/lenet.hpp>

#include "../train_compare.hpp"

namespace tn = typenet;

TEST_CASE("simd gemm: random shapes, transposed operands, accumulate, against a double loop") {
  namespace ks = tn::kernels::simd;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  ks::gemm_workspace<> ws;
  using S = ks::gemm_shape<>;
  int bad = 0, cases = 0;
  // Sizes around the tile and block edges (mr, nr, kc, mc) and random ones.
  const std::vector<int> ms{1, S::mr - 1, S::mr, S::mr + 1, S::mc + 3, 37}, ns{1, S::nr - 1, S::nr + 1, 3 * S::nr, 50},
      ks_{1, 7, S::kc, S::kc + 5, 300};
  for (int m : ms)
    for (int n : ns)
      for (int k : ks_)
        for (int variant = 0; variant < 8; ++variant) {
          const bool ta = variant & 1, tb = variant & 2, acc = variant & 4;
          const int ldc = n + 3;
          std::vector<float> a(static_cast<std::size_t>(m * k)), b(static_cast<std::size_t>(k * n)),
              c(static_cast<std::size_t>(m * ldc));
          for (float& x : a) x = u(rng);
          for (float& x : b) x = u(rng);
          for (float& x : c) x = u(rng);
          const std::vector<float> before = c;
          const ks::matrix_view av = ta ? ks::matrix_view{a.data(), 1, m} : ks::matrix_view{a.data(), k, 1};
          const ks::matrix_view bv = tb ? ks::matrix_view{b.data(), 1, k} : ks::matrix_view{b.data(), n, 1};
          ks::gemm(m, n, k, av, bv, c.data(), ldc, acc, ws);
          ++cases;
          for (int i = 0; i < m; ++i)
            for (int j = 0; j < ldc; ++j) {
              double want = before[static_cast<std::size_t>(i * ldc + j)];  // past n: untouched
              if (j < n) {
                double sum = 0, size = 0;
                for (int p = 0; p < k; ++p) {
                  sum += double{av.at(i, p)} * bv.at(p, j);
                  size += std::abs(double{av.at(i, p)} * bv.at(p, j));
                }
                want = (acc ? want : 0) + sum;
                if (std::abs(c[static_cast<std::size_t>(i * ldc + j)] - want) > 1e-6 * (size + 1)) ++bad;
              } else if (c[static_cast<std::size_t>(i * ldc + j)] != want) {
                ++bad;
              }
            }
        }
  INFO(cases << " products");
  CHECK(bad == 0);
}

namespace {

using train_compare::conv_net;
using train_compare::mixed_net;
using train_compare::pool_net;

// The simd trainer at `threads` threads, against the reference (tests/train_compare.hpp).
template <class Net>
void compare(int batch, int threads, std::uint64_t seed) {
  INFO("threads " << threads);
  train_compare::compare<Net>(batch, seed, [&](tn::params<Net>& q, int max_batch, const tn::train::options& o) {
    tn::exec::simd<> policy;
    policy.threads = threads;
    return tn::train::trainer<Net, tn::exec::simd<>>(q, max_batch, o, policy);
  });
}

}  // namespace

TEST_CASE("simd training matches the reference: convolutions (stride, padding, groups, 1x1), dense") {
  compare<conv_net>(1, 1, 1);
  compare<conv_net>(3, 2, 2);
  compare<conv_net>(5, 3, 3);
}

TEST_CASE("simd training matches the reference: residual, batch norm, concat, pools, lrn, dropout") {
  compare<mixed_net>(2, 1, 4);
  compare<mixed_net>(5, 2, 5);
}

TEST_CASE("simd training matches the reference: average and adaptive pools, identity, inner softmax") {
  compare<pool_net>(3, 2, 7);
}

TEST_CASE("simd training matches the reference: lenet5") { compare<tn::zoo::lenet5>(7, 2, 6); }
