// Non-finite values through exec::simd, layer by layer, against exec::reference (DESIGN.md 4: NaN and
// infinities are data and propagate as IEEE arithmetic says; the reference states each layer's rule:
// max pooling lets NaN win over every number, relu(NaN) = NaN, a softmax row holding a NaN or +inf is
// all NaN, sums take NaN from a NaN and from +inf meeting -inf).
//
// Every network runs the patterns of nonfinite_util.hpp (one NaN in a vector lane, one NaN in the channel
// tail, +inf and -inf apart and side by side, scattered values, an image of -inf) at batch 3 with 1 and 2
// threads, and each output must have the reference's class (finite, NaN, +inf, -inf); finite outputs are
// held to the simd tolerance (simd_util.hpp). Channel counts are 20 (vectors and a tail of 4 with AVX2 and
// AVX-512) and 16 (no tail). The one exception is Winograd (3x3, stride 1, pad 1): its input transform
// adds and subtracts neighbouring inputs before the products, so an infinite input can reach an output
// as inf - inf: a +-inf of the reference may be NaN there (F(2,3) keeps every output's support, so the
// finite/non-finite split itself is exact).
// After each non-finite batch the same model runs a finite batch, which must match the reference (no
// NaN left behind in scratch buffers, workspaces or padding).
// Whole networks: nonfinite_zoo_test.cpp.
#include <cmath>
#include <limits>
#include <ratio>

#include <typenet/kernels/winograd_transforms.hpp>

#include "nonfinite_util.hpp"
#include "simd_util.hpp"

namespace tn = typenet;
namespace nf = typenet::test::nonfinite;
using namespace typenet::test;

namespace {

template <class Net>
std::vector<float> forward(tn::model<Net, tn::exec::simd<>>& m, const std::vector<float>& in, int batch) {
  std::vector<float> out(static_cast<std::size_t>(batch * Net::output_shape::size));
  m.forward(in.data(), out.data(), batch);
  return out;
}

/// Every pattern (or the given ones) through Net, simd with 1 and 2 threads against the reference.
template <class Net>
void check_layer(const char* name, std::uint64_t seed, nf::class_rules rules = {}, int batch = 3) {
  tn::params<Net> p;
  tn::init_he(p, seed);
  constexpr auto e = nf::extents_of<typename Net::input_shape>();
  std::vector<float> clean(static_cast<std::size_t>(batch * Net::input_shape::size));
  tn::fill_uniform(clean, seed + 1);
  const auto clean_want = run_policy<Net, tn::exec::reference_t>(p, clean, batch);
  for (int threads : {1, 2}) {
    tn::exec::simd<> policy;
    policy.threads = threads;
    tn::model<Net, tn::exec::simd<>> m(p, batch, policy);
    for (nf::pattern pat : nf::all_patterns) {
      std::vector<float> in = clean;
      nf::plant(pat, in, e, batch);
      const auto want = run_policy<Net, tn::exec::reference_t>(p, in, batch);
      const auto got = forward(m, in, batch);
      const nf::report r = nf::compare(got, want, typenet::test::atol, typenet::test::rtol, rules);
      INFO(std::string(name) << ", " << std::string(nf::pattern_name(pat)) << ", " << threads
                             << " thread(s): " << r.describe());
      CHECK(r.ok(rules));
      if (nf::plants_nan(pat)) CHECK(r.reference_nonfinite > 0);  // the test reached the outputs
      // The same model on finite data afterwards.
      const nf::report after =
          nf::compare(forward(m, clean, batch), clean_want, typenet::test::atol, typenet::test::rtol);
      INFO("finite batch after it: " << after.describe());
      CHECK(after.ok({}));
      CHECK(after.reference_nonfinite == 0);
    }
  }
}

// 20 channels: vectors and a tail; 16: whole vectors only.
using pool_max_ceil =
    tn::network<tn::input<20, 9, 11>, tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::ceil_mode>>;
using pool_max_whole = tn::network<tn::input<16, 8, 8>, tn::max_pool<tn::kernel<2>, tn::stride<2>>>;
using pool_avg_ceil =
    tn::network<tn::input<20, 9, 11>, tn::avg_pool<tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::ceil_mode>>;
using pool_adaptive = tn::network<tn::input<20, 7, 9>, tn::adaptive_avg_pool<3, 4>>;
using relu_spatial = tn::network<tn::input<20, 5, 7>, tn::relu>;
using relu_flat = tn::network<tn::input<37>, tn::relu>;
using lrn_even = tn::network<tn::input<20, 5, 6>, tn::lrn<4, std::ratio<1>, std::ratio<3, 4>, std::ratio<1>>>;
using lrn_odd_half = tn::network<tn::input<20, 5, 6>, tn::lrn<3, std::ratio<2>, std::ratio<1, 2>, std::ratio<1>>>;
using softmax_flat = tn::network<tn::input<37>, tn::softmax>;
using softmax_flattened = tn::network<tn::input<20, 2, 3>, tn::flatten, tn::softmax>;
// conv + relu + max pool in one stage (direct kernel: stride 2).
using conv_relu_max = tn::network<tn::input<5, 13, 13>, tn::conv2d<20, tn::kernel<3>, tn::stride<2>, tn::pad<1>>,
                                  tn::relu, tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>>;
// conv + relu + lrn + avg pool in one stage; then a conv without relu to a spatial output.
using conv_lrn_avg = tn::network<tn::input<6, 9, 9>, tn::conv2d<20, tn::kernel<2>>, tn::relu, tn::lrn<5>,
                                 tn::avg_pool<tn::kernel<2>, tn::stride<2>>, tn::conv2d<16, tn::kernel<2>, tn::pad<1>>>;
// Winograd F(2,3): 3x3, stride 1, pad 1, with and without relu.
using winograd_relu = tn::network<tn::input<20, 9, 11>, tn::conv2d<24, tn::kernel<3>, tn::pad<1>>, tn::relu,
                                  tn::conv2d<20, tn::kernel<3>, tn::pad<1>>>;
static_assert(tn::exec::simd_detail::build<tn::exec::simd_detail::nhwc_layout<20, 9, 11>,
                                           tn::fusion::stages_t<winograd_relu>, xsimd::default_arch>::exec::winograd);
// dense + relu, dense alone, dense + softmax, through flatten and dropout.
using dense_relu =
    tn::network<tn::input<4, 3, 3>, tn::flatten, tn::dropout<50>, tn::dense<19>, tn::relu, tn::dense<23>>;
using dense_softmax = tn::network<tn::input<37>, tn::dense<23>, tn::softmax>;

const nf::class_rules winograd_rules{.inf_may_become_nan = true, .extra_nonfinite_allowed = 0};

}  // namespace

TEST_CASE("simd non-finite: max pool (ceil, padding, channel tail; whole vectors)") {
  check_layer<pool_max_ceil>("max_pool ceil", 31);
  check_layer<pool_max_whole>("max_pool whole vectors", 32);
}
TEST_CASE("simd non-finite: average and adaptive average pooling") {
  check_layer<pool_avg_ceil>("avg_pool ceil", 33);
  check_layer<pool_adaptive>("adaptive_avg_pool", 34);
}
TEST_CASE("simd non-finite: relu") {
  check_layer<relu_spatial>("relu spatial", 35);
  check_layer<relu_flat>("relu flat", 36);
}
TEST_CASE("simd non-finite: lrn") {
  check_layer<lrn_even>("lrn 4", 37);
  check_layer<lrn_odd_half>("lrn 3 beta 1/2", 38);
}
TEST_CASE("simd non-finite: softmax") {
  check_layer<softmax_flat>("softmax", 39);
  check_layer<softmax_flattened>("flatten softmax", 40);
}
TEST_CASE("simd non-finite: direct convolution stages") {
  check_layer<conv_relu_max>("conv relu max_pool", 41);
  check_layer<conv_lrn_avg>("conv relu lrn avg_pool conv", 42);
}
TEST_CASE("simd non-finite: winograd convolution") { check_layer<winograd_relu>("winograd", 43, winograd_rules); }
TEST_CASE("simd non-finite: dense") {
  check_layer<dense_relu>("flatten dropout dense relu dense", 44);
  check_layer<dense_softmax>("dense softmax", 45);
}

// exec::cuda's Winograd output transform (kernels/winograd_transforms.hpp) is host and device code; its
// bias + ReLU epilogue is checked here, on the host, so that CPU-only CI sees it too.
TEST_CASE("cuda's Winograd output transform keeps NaN through its ReLU (host)") {
  namespace wg = typenet::kernels::winograd;
  using WT = wg::tiling<1, 4, 4, 1, 3, 1, 1, 4, 4, 2>;  // F(2,3): one channel, one filter, 2 x 2 tiles
  static_assert(WT::tiles == 4 && WT::alpha == 4);
  // Products M[position][filter][tile]: tile 0 all NaN, tile 1 all -1, tiles 2 and 3 all +1.
  std::vector<float> m(static_cast<std::size_t>(WT::m_image)), bias{0.25f}, y(16, -7.f);
  for (int pos = 0; pos < WT::positions; ++pos)
    for (int t = 0; t < WT::tiles; ++t)
      m[static_cast<std::size_t>(pos * WT::tiles + t)] = t == 0   ? std::numeric_limits<float>::quiet_NaN()
                                                         : t == 1 ? -1.f
                                                                  : 1.f;
  for (long long o = 0; o < WT::f * WT::tiles; ++o) wg::output_transform_at<WT, 1>(o, m.data(), bias.data(), y.data());
  for (int oh = 0; oh < 4; ++oh)
    for (int ow = 0; ow < 4; ++ow) {
      const float v = y[static_cast<std::size_t>(oh * 4 + ow)];
      INFO("output (" << oh << ", " << ow << ") = " << v);
      if (oh < 2 && ow < 2)
        CHECK(std::isnan(v));  // tile 0
      else
        CHECK((std::isfinite(v) && v >= 0.f));
    }
}

// Large finite logits: softmax subtracts the row's maximum, so logits in the thousands give the
// reference's (near) one-hot rows, not inf / inf = NaN.
TEST_CASE("simd softmax: logits in the thousands, alone and after dense") {
  std::vector<float> in(3 * 37);
  tn::fill_uniform(in, 81, -3000.f, 3000.f);
  const auto want = run_policy<softmax_flat, tn::exec::reference_t>(tn::params<softmax_flat>{}, in, 3);
  expect_close(run_simd<softmax_flat>(tn::params<softmax_flat>{}, in, 3, 2), want,
               "softmax of logits in the thousands");
  tn::params<dense_softmax> p;
  tn::init_he(p, 82);
  for (float& v : p.span()) v *= 1000.f;
  std::vector<float> x(3 * 37);
  tn::fill_uniform(x, 83);
  const auto want_d = run_policy<dense_softmax, tn::exec::reference_t>(p, x, 3);
  expect_close(run_simd<dense_softmax>(p, x, 3, 2), want_d, "dense (weights x 1000) softmax");
}
