// exec::simd's training program (train/simd.hpp) against exec::reference's (the oracle): loss, logits,
// every parameter's gradient, the input's gradient and batch norm's running statistics, on networks of
// every layer kind and block, at 1, 2 and 3 threads and batches that do not divide among them; and the
// matrix product underneath (kernels/simd/gemm.hpp) against a double-precision loop on random shapes,
// transposed operands and accumulation.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <typenet/train.hpp>
#include <typenet/train/simd.hpp>
#include <typenet/zoo/lenet.hpp>

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

// clang-format off
struct conv_net : tn::network<tn::input<3, 9, 8>,
    tn::conv2d<4, tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::floor_mode>, tn::relu,
    tn::conv2d<6, tn::kernel<3, 2>, tn::groups<2>, tn::no_bias>, tn::conv2d<5, tn::kernel<1>>, tn::relu6,
    tn::conv2d<4, tn::kernel<1>, tn::stride<2>, tn::floor_mode>, tn::flatten, tn::dense<5>> {};
struct mixed_net : tn::network<tn::input<4, 8, 8>,
    tn::residual<tn::seq<tn::conv2d<4, tn::kernel<3>, tn::pad<1>, tn::no_bias>, tn::batch_norm, tn::relu,
                         tn::conv2d<4, tn::kernel<1>, tn::no_bias>, tn::batch_norm>>,
    tn::concat<tn::conv2d<3, tn::kernel<1>>, tn::seq<tn::conv2d<5, tn::kernel<3>, tn::pad<1>, tn::groups<1>>,
                                                     tn::relu>>,
    tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>, tn::lrn<3>, tn::flatten, tn::dropout<25>,
    tn::dense<20>, tn::relu, tn::dense<7>, tn::softmax> {};
// clang-format on

template <class Net>
void compare(int batch, int threads, std::uint64_t seed) {
  tn::params<Net> p;
  tn::init_he(p, seed);
  tn::params<Net> q = p;
  std::vector<float> x(static_cast<std::size_t>(batch * Net::input_shape::size));
  tn::fill_uniform(x, seed + 1);
  constexpr int classes = tn::train::trainer<Net, tn::exec::reference_t>::classes;
  std::vector<std::int64_t> labels(static_cast<std::size_t>(batch));
  for (int n = 0; n < batch; ++n) labels[static_cast<std::size_t>(n)] = (3 * n + 1) % classes;

  const tn::train::options o{.dropout = true, .seed = seed};
  tn::train::trainer<Net, tn::exec::reference_t> ref(p, batch, o);
  tn::exec::simd<> policy;
  policy.threads = threads;
  tn::train::trainer<Net, tn::exec::simd<>> fast(q, batch, o, policy);
  const double l_ref = ref.forward_backward(x.data(), labels.data(), batch);
  const double l_fast = fast.forward_backward(x.data(), labels.data(), batch);
  INFO("batch " << batch << ", threads " << threads);
  CHECK(l_fast == doctest::Approx(l_ref).epsilon(1e-5));

  // Every tensor, relative to its largest gradient (the same bound everywhere: float against double sums).
  std::vector<tn::param_tensor> want = const_cast<tn::params<Net>&>(ref.grads()).tensors();
  std::vector<tn::param_tensor> got = const_cast<tn::params<Net>&>(fast.grads()).tensors();
  for (std::size_t t = 0; t < want.size(); ++t) {
    double scale = 0, worst = 0;
    for (float v : want[t].data) scale = std::max(scale, double{std::abs(v)});
    for (std::size_t i = 0; i < want[t].data.size(); ++i)
      worst = std::max(worst, double{std::abs(got[t].data[i] - want[t].data[i])});
    INFO(want[t].name << ": max |diff| " << worst << ", max |ref| " << scale);
    CHECK(worst <= 2e-5 * scale + 1e-7);
  }
  const auto dx_ref = ref.input_gradient(batch), dx_fast = fast.input_gradient(batch);
  double scale = 0, worst = 0;
  for (std::size_t i = 0; i < dx_ref.size(); ++i) {
    scale = std::max(scale, double{std::abs(dx_ref[i])});
    worst = std::max(worst, double{std::abs(dx_fast[i] - dx_ref[i])});
  }
  CHECK(worst <= 2e-5 * scale + 1e-7);
  // Running statistics: the same batch statistics.
  for (std::int64_t i = 0; i < tn::params<Net>::count; ++i)
    if (p.data()[i] != q.data()[i]) CHECK(q.data()[i] == doctest::Approx(p.data()[i]).epsilon(1e-5));
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

TEST_CASE("simd training matches the reference: lenet5") { compare<tn::zoo::lenet5>(7, 2, 6); }
