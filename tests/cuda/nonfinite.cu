// tests/cuda/nonfinite.cu: NaN, +inf and -inf through exec::cuda, layer by layer, against exec::reference
// (one NaN pixel through the zoo AlexNets is tested in parity_zoo.cu, whose translation unit compiles their
// programs anyway). The rules are the reference's: max pooling lets NaN win, relu(NaN) is NaN, a softmax row holding
// NaN or +inf is all NaN, sums take NaN from NaN and from +inf meeting -inf.
//
// Each network runs the patterns of tests/simd/nonfinite_util.hpp at batch 3 and each output must have
// the reference's class (finite, NaN, +inf, -inf), finite outputs within fp32's parity tolerance (TF32:
// 1e-2 of the largest finite output). Two arithmetic differences are allowed, both stated by the rules:
//   * tf32x3 splits every GEMM operand into a TF32 head and tail (tail = x - head is NaN for an infinite
//     x), so an infinite GEMM input acts as a NaN: each output may have the class of the reference run
//     on the input with every infinity made NaN instead (the convolutions and dense layers here are the
//     first GEMMs of their networks);
//   * Winograd transforms add and subtract inputs before the products: a +-inf may come out NaN, and
//     F(4,3) / F(4,5) tiles mix inputs that a direct convolution keeps apart, so a non-finite input can
//     make other outputs of its tiles non-finite. Winograd runs the single-value patterns only, images
//     without a planted value are compared strictly, and image 0 may have at most
//     (planted values) x (filters) x (2 M)^2 extra non-finite outputs per convolution.
// After each non-finite batch the same model runs a finite batch, which must match (nothing stale).
// Without a GPU the program exits 77 (skipped), as the other gpu tests do.
#define DOCTEST_CONFIG_IMPLEMENT
#include <algorithm>
#include <iterator>
#include <limits>
#include <ratio>

#include "../simd/nonfinite_util.hpp"
#include "cuda_test_util.hpp"

namespace tn = typenet;
namespace nf = typenet::test::nonfinite;
using typenet::exec::cuda_math;
using typenet_cuda_test::conv_algo;
using typenet_cuda_test::forward;
using typenet_cuda_test::tolerances;

namespace {

const std::vector<cuda_math> every_math{cuda_math::fp32, cuda_math::tf32, cuda_math::tf32x3, cuda_math::fp16,
                                        cuda_math::bf16};

/// Net through exec::cuda in each math and convolution algorithm, every pattern (Winograd: the
/// single-value ones), against the reference. `spread`: extra non-finite outputs of image 0 allowed per
/// planted value under Winograd (filters x (2 M)^2, summed over the convolutions).
template <class Net>
void check_layer(const char* name, std::uint64_t seed, const std::vector<cuda_math>& maths,
                 const std::vector<conv_algo>& convs, std::int64_t spread = 0) {
  constexpr int batch = 3;
  tn::params<Net> p;
  tn::init_he(p, seed);
  constexpr auto e = nf::extents_of<typename Net::input_shape>();
  constexpr std::size_t out_image = Net::output_shape::size;
  std::vector<float> clean(static_cast<std::size_t>(batch * Net::input_shape::size));
  tn::fill_uniform(clean, seed + 1);
  tn::model<Net, tn::exec::reference_t> ref(p, batch);
  const auto clean_want = forward(ref, clean, batch);
  for (cuda_math math : maths) {
    for (conv_algo algo : convs) {
      tn::model<Net, tn::exec::cuda> gpu(p, batch, typenet_cuda_test::policy_for(math, algo));
      const bool winograd = algo == conv_algo::winograd;
      for (nf::pattern pat : nf::all_patterns) {
        const bool single = std::find(std::begin(nf::single_value_patterns), std::end(nf::single_value_patterns),
                                      pat) != std::end(nf::single_value_patterns);
        if (winograd && !single) continue;
        std::vector<float> in = clean;
        nf::plant(pat, in, e, batch);
        const auto want = forward(ref, in, batch);
        const auto got = forward(gpu, in, batch);
        std::vector<float> in_nan = in, want_nan;  // tf32x3: infinities as NaN
        const bool inf_as_nan = math == cuda_math::tf32x3 && !winograd;
        if (inf_as_nan) {
          for (float& v : in_nan)
            if (std::isinf(v)) v = std::numeric_limits<float>::quiet_NaN();
          want_nan = forward(ref, in_nan, batch);
        }
        double atol, rtol;
        tolerances(math, want, atol, rtol);
        nf::class_rules rules;
        rules.inf_may_become_nan = winograd;
        if (winograd) rules.extra_nonfinite_allowed = (pat == nf::pattern::infs_apart ? 2 : 1) * spread;
        // Image 0 under the rules; with a single planted value the other images strictly.
        const std::size_t split = single ? out_image : want.size();
        std::vector<float> alt0, alt1;
        if (inf_as_nan) {
          alt0.assign(want_nan.begin(), want_nan.begin() + split);
          alt1.assign(want_nan.begin() + split, want_nan.end());
        }
        const nf::report r = nf::compare(std::vector<float>(got.begin(), got.begin() + split),
                                         std::vector<float>(want.begin(), want.begin() + split), atol, rtol, rules,
                                         inf_as_nan ? &alt0 : nullptr);
        const nf::report rest = nf::compare(std::vector<float>(got.begin() + split, got.end()),
                                            std::vector<float>(want.begin() + split, want.end()), atol, rtol, {},
                                            inf_as_nan ? &alt1 : nullptr);
        std::printf("nonfinite %-26s %-6s conv=%-8s %-28s: %s\n", name, typenet_cuda_test::math_name(math),
                    typenet_cuda_test::conv_name(algo), nf::pattern_name(pat), r.describe().c_str());
        std::fflush(stdout);
        INFO(std::string(name) << " " << std::string(typenet_cuda_test::math_name(math)) << " conv "
                               << std::string(typenet_cuda_test::conv_name(algo)) << ", "
                               << std::string(nf::pattern_name(pat)) << ": " << r.describe()
                               << "; other images: " << rest.describe());
        CHECK(r.ok(rules));
        CHECK(rest.ok({}));
        if (nf::plants_nan(pat)) CHECK(r.reference_nonfinite > 0);
        double catol, crtol;
        tolerances(math, clean_want, catol, crtol);
        const nf::report after = nf::compare(forward(gpu, clean, batch), clean_want, catol, crtol);
        INFO("finite batch after it: " << after.describe());
        CHECK(after.ok({}));
      }
    }
  }
}

// 20 channels (no multiple of a warp or tile), 16.
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
// Direct convolutions with relu, fused lrn and pools (GEMM epilogue ReLU).
using conv_relu_max = tn::network<tn::input<5, 13, 13>, tn::conv2d<20, tn::kernel<3>, tn::stride<2>, tn::pad<1>>,
                                  tn::relu, tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>>;
using conv_lrn_avg = tn::network<tn::input<6, 9, 9>, tn::conv2d<20, tn::kernel<2>>, tn::relu, tn::lrn<5>,
                                 tn::avg_pool<tn::kernel<2>, tn::stride<2>>, tn::conv2d<16, tn::kernel<2>, tn::pad<1>>>;
// Few outputs and a long k: the GEMM splits k and gemm_finish adds the bias and the ReLU.
using conv_split_k = tn::network<tn::input<256, 4, 4>, tn::conv2d<32, tn::kernel<3>, tn::pad<1>>, tn::relu>;
// Winograd-eligible: 3x3 pad 1 (F(4,3) or F(2,3)) and 5x5 pad 2 (F(4,5)), each with relu.
using winograd_3x3 = tn::network<tn::input<20, 9, 11>, tn::conv2d<24, tn::kernel<3>, tn::pad<1>>, tn::relu>;
using winograd_5x5 = tn::network<tn::input<12, 9, 11>, tn::conv2d<20, tn::kernel<5>, tn::pad<2>>, tn::relu>;
// Dense with relu (epilogue), a k-split dense layer, dense + softmax.
using dense_relu =
    tn::network<tn::input<4, 3, 3>, tn::flatten, tn::dropout<50>, tn::dense<19>, tn::relu, tn::dense<23>>;
using dense_split_k = tn::network<tn::input<2048>, tn::dense<16>, tn::relu, tn::dense<5>>;
using dense_softmax = tn::network<tn::input<37>, tn::dense<23>, tn::softmax>;

}  // namespace

TEST_CASE("cuda non-finite: max, average and adaptive pooling") {
  const std::vector<cuda_math> fp32{cuda_math::fp32};
  check_layer<pool_max_ceil>("max_pool ceil", 31, fp32, {conv_algo::direct});
  check_layer<pool_max_whole>("max_pool", 32, fp32, {conv_algo::direct});
  check_layer<pool_avg_ceil>("avg_pool ceil", 33, fp32, {conv_algo::direct});
  check_layer<pool_adaptive>("adaptive_avg_pool", 34, fp32, {conv_algo::direct});
}
TEST_CASE("cuda non-finite: relu, lrn, softmax") {
  const std::vector<cuda_math> fp32{cuda_math::fp32};
  check_layer<relu_spatial>("relu spatial", 35, fp32, {conv_algo::direct});
  check_layer<relu_flat>("relu flat", 36, fp32, {conv_algo::direct});
  check_layer<lrn_even>("lrn 4", 37, fp32, {conv_algo::direct});
  check_layer<lrn_odd_half>("lrn 3 beta 1/2", 38, fp32, {conv_algo::direct});
  check_layer<softmax_flat>("softmax", 39, fp32, {conv_algo::direct});
  check_layer<softmax_flattened>("flatten softmax", 40, fp32, {conv_algo::direct});
}
TEST_CASE("cuda non-finite: direct convolutions (GEMM epilogue relu, fused lrn and pools, k split)") {
  check_layer<conv_relu_max>("conv relu max_pool", 41, every_math, {conv_algo::direct});
  check_layer<conv_lrn_avg>("conv relu lrn avg_pool conv", 42, every_math, {conv_algo::direct});
  check_layer<conv_split_k>("conv k split relu", 43, every_math, {conv_algo::direct});
}
TEST_CASE("cuda non-finite: winograd convolutions (output transform relu)") {
  // Extra non-finite outputs per planted value: filters x (2 M)^2 with M = 4.
  check_layer<winograd_3x3>("winograd 3x3", 44, every_math, {conv_algo::winograd}, 24 * 64);
  check_layer<winograd_5x5>("winograd 5x5", 45, every_math, {conv_algo::winograd}, 20 * 64);
}
TEST_CASE("cuda non-finite: dense (epilogue relu, k split, softmax)") {
  check_layer<dense_relu>("flatten dropout dense relu", 46, every_math, {conv_algo::direct});
  check_layer<dense_split_k>("dense k split relu", 47, every_math, {conv_algo::direct});
  check_layer<dense_softmax>("dense softmax", 48, every_math, {conv_algo::direct});
}

TYPENET_CUDA_TEST_MAIN
