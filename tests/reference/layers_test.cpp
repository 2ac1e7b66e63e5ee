// exec::reference, layer by layer, on small cases whose values are derived by hand in the comments.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <ratio>

#include "reference_util.hpp"

namespace tn = typenet;
using tn::test::iota_from_one;
using tn::test::run_reference;

namespace {

// in = 1..9 as a 3x3 image:  1 2 3 / 4 5 6 / 7 8 9
struct conv_plain : tn::network<tn::input<1, 3, 3>, tn::conv2d<1, tn::kernel<2>>> {};
struct conv_stride_pad : tn::network<tn::input<1, 3, 3>, tn::conv2d<1, tn::kernel<3>, tn::stride<2>, tn::pad<1>>> {};
struct conv_groups : tn::network<tn::input<4, 1, 1>, tn::conv2d<2, tn::kernel<1>, tn::groups<2>>> {};
struct conv_floor : tn::network<tn::input<1, 4, 4>, tn::conv2d<1, tn::kernel<3>, tn::stride<2>, tn::floor_mode>> {};

}  // namespace

TEST_CASE("conv2d: 2x2 kernel, no padding") {
  tn::params<conv_plain> p;
  tn::test::set_weight<conv_plain, 0>(p, {1, 2, 3, 4});
  tn::test::set_bias<conv_plain, 0>(p, {0.5f});
  // out[y][x] = in[y][x] + 2 in[y][x+1] + 3 in[y+1][x] + 4 in[y+1][x+1] + 0.5
  //   (0,0): 1 + 4 + 12 + 20 + .5 = 37.5     (0,1): 2 + 6 + 15 + 24 + .5 = 47.5
  //   (1,0): 4 + 10 + 21 + 32 + .5 = 67.5    (1,1): 5 + 12 + 24 + 36 + .5 = 77.5
  // The second image is the first times -1, so its outputs are -(out - .5) + .5.
  std::vector<float> in = iota_from_one(9);
  for (int i = 1; i <= 9; ++i) in.push_back(-static_cast<float>(i));
  const auto out = run_reference(p, in, 2);
  CHECK(out == std::vector<float>{37.5f, 47.5f, 67.5f, 77.5f, -36.5f, -46.5f, -66.5f, -76.5f});
}

TEST_CASE("conv2d: stride 2 and zero padding 1") {
  tn::params<conv_stride_pad> p;
  tn::test::set_weight<conv_stride_pad, 0>(p, std::vector<float>(9, 1.f));
  tn::test::set_bias<conv_stride_pad, 0>(p, {0.f});
  // A 3x3 window of ones centred on input (0,0), (0,2), (2,0), (2,2); taps on the padding read zero:
  //   (0,0): 1+2+4+5 = 12   (0,1): 2+3+5+6 = 16   (1,0): 4+5+7+8 = 24   (1,1): 5+6+8+9 = 28
  CHECK(run_reference(p, iota_from_one(9), 1) == std::vector<float>{12, 16, 24, 28});
}

TEST_CASE("conv2d: two groups see only their own channels") {
  tn::params<conv_groups> p;
  // weight [2, 2, 1, 1]: filter 0 reads channels 0,1 with (1, 10); filter 1 reads channels 2,3 with (100, 1000).
  tn::test::set_weight<conv_groups, 0>(p, {1, 10, 100, 1000});
  tn::test::set_bias<conv_groups, 0>(p, {0.f, 0.5f});
  // in = (1, 2, 3, 4): filter 0 = 1 + 20 = 21, filter 1 = 300 + 4000 + .5 = 4300.5
  CHECK(run_reference(p, {1, 2, 3, 4}, 1) == std::vector<float>{21.f, 4300.5f});
}

TEST_CASE("conv2d: floor rounding drops the last row and column") {
  tn::params<conv_floor> p;
  tn::test::set_weight<conv_floor, 0>(p, std::vector<float>(9, 1.f));
  tn::test::set_bias<conv_floor, 0>(p, {0.f});
  // 4x4 input 1..16, 3x3 window, stride 2: (4 - 3) / 2 + 1 = 1 output; the window is rows 0-2, cols 0-2:
  //   1+2+3 + 5+6+7 + 9+10+11 = 54
  CHECK(run_reference(p, iota_from_one(16), 1) == std::vector<float>{54});
}

namespace {
struct max_ceil : tn::network<tn::input<1, 3, 3>, tn::max_pool<tn::kernel<2>, tn::stride<2>, tn::ceil_mode>> {};
struct max_floor : tn::network<tn::input<1, 3, 3>, tn::max_pool<tn::kernel<2>, tn::stride<2>, tn::floor_mode>> {};
struct max_padded : tn::network<tn::input<1, 2, 2>, tn::max_pool<tn::kernel<3>, tn::stride<1>, tn::pad<1>>> {};
struct avg_padded : tn::network<tn::input<1, 2, 2>, tn::avg_pool<tn::kernel<3>, tn::stride<1>, tn::pad<1>>> {};
struct avg_ceil : tn::network<tn::input<1, 3, 3>, tn::avg_pool<tn::kernel<2>, tn::stride<2>, tn::ceil_mode>> {};
struct avg_ceil_padded
    : tn::network<tn::input<1, 4, 4>, tn::avg_pool<tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::ceil_mode>> {};
struct adaptive : tn::network<tn::input<1, 3, 3>, tn::adaptive_avg_pool<2>> {};
struct adaptive_up : tn::network<tn::input<1, 2, 3>, tn::adaptive_avg_pool<3, 2>> {};
}  // namespace

TEST_CASE("max_pool: ceil rounding keeps the clipped last windows") {
  // 3x3 input 1..9, 2x2 windows, stride 2, ceil: (3 - 2 + 1) / 2 + 1 = 2 per side. Windows (clipped):
  //   rows 0-1 x cols 0-1 -> 5, rows 0-1 x col 2 -> 6, row 2 x cols 0-1 -> 8, row 2 x col 2 -> 9
  CHECK(run_reference(tn::params<max_ceil>{}, iota_from_one(9), 1) == std::vector<float>{5, 6, 8, 9});
  // Floor: one window, rows 0-1 x cols 0-1 -> 5.
  CHECK(run_reference(tn::params<max_floor>{}, iota_from_one(9), 1) == std::vector<float>{5});
}

TEST_CASE("max_pool: padding is -inf, not zero") {
  // Every 3x3 window (pad 1) covers the whole 2x2 input -1 -2 / -3 -4, so each output is -1; zero
  // padding would give 0.
  CHECK(run_reference(tn::params<max_padded>{}, {-1, -2, -3, -4}, 1) == std::vector<float>{-1, -1, -1, -1});
}

TEST_CASE("avg_pool: padding counts in the divisor (count_include_pad)") {
  // Each 3x3 window (pad 1) covers all of 1 2 / 3 4 and five zeros: 10 / 9.
  const auto out = run_reference(tn::params<avg_padded>{}, {1, 2, 3, 4}, 1);
  for (float v : out) CHECK(v == doctest::Approx(10.0 / 9.0).epsilon(1e-7));
}

TEST_CASE("avg_pool: ceil-rounded windows past the input divide by their clipped size") {
  // No padding: the windows are clipped to the input and divided by what is left.
  //   rows 0-1 x cols 0-1: (1+2+4+5)/4 = 3     rows 0-1 x col 2: (3+6)/2 = 4.5
  //   row 2 x cols 0-1:    (7+8)/2 = 7.5       row 2 x col 2:    9/1 = 9
  CHECK(run_reference(tn::params<avg_ceil>{}, iota_from_one(9), 1) == std::vector<float>{3, 4.5f, 7.5f, 9});
  // Pad 1, 3x3 windows, stride 2 on 1..16 (4x4): 3 outputs per side. Window rows start at -1, 1, 3; the last
  // ends at min(3 + 3, 4 + 1) = 5, so it spans rows 3-4 (one input row and one padding row): divisor 2.
  //   (0,0): rows -1..1 x cols -1..1, divisor 9, sum 1+2+5+6 = 14            -> 14/9
  //   (0,2): rows -1..1 x cols 3..4,  divisor 3*2 = 6, sum 4+8 = 12          -> 2
  //   (1,1): rows 1..3 x cols 1..3,   divisor 9, sum 6+7+8+10+11+12+14+15+16 = 99 -> 11
  //   (2,2): rows 3..4 x cols 3..4,   divisor 4, sum 16                       -> 4
  const auto out = run_reference(tn::params<avg_ceil_padded>{}, iota_from_one(16), 1);
  REQUIRE(out.size() == 9);
  CHECK(out[0] == doctest::Approx(14.0 / 9.0).epsilon(1e-7));
  CHECK(out[2] == 2.f);
  CHECK(out[4] == 11.f);
  CHECK(out[8] == 4.f);
}

TEST_CASE("adaptive_avg_pool: PyTorch's overlapping windows") {
  // 3 -> 2: window i covers rows floor(3i/2) .. ceil(3(i+1)/2) - 1, i.e. rows 0-1 and rows 1-2.
  //   (0,0): (1+2+4+5)/4 = 3   (0,1): (2+3+5+6)/4 = 4   (1,0): (4+5+7+8)/4 = 6   (1,1): (5+6+8+9)/4 = 7
  CHECK(run_reference(tn::params<adaptive>{}, iota_from_one(9), 1) == std::vector<float>{3, 4, 6, 7});
  // 2x3 -> 3x2 on 1 2 3 / 4 5 6. Rows: i=0: 0..0, i=1: floor(2/3)=0 .. ceil(4/3)-1 = 1, i=2: 1..1.
  // Cols: j=0: 0..ceil(3/2)-1 = 0..1, j=1: floor(3/2)=1 .. 2.
  //   row 0: (1+2)/2 = 1.5, (2+3)/2 = 2.5;  rows 0-1: (1+2+4+5)/4 = 3, (2+3+5+6)/4 = 4;  row 1: 4.5, 5.5
  CHECK(run_reference(tn::params<adaptive_up>{}, iota_from_one(6), 1) ==
        std::vector<float>{1.5f, 2.5f, 3, 4, 4.5f, 5.5f});
}

namespace {
using lrn3 = tn::lrn<3, std::ratio<1>, std::ratio<1>, std::ratio<1>>;
using lrn2 = tn::lrn<2, std::ratio<1>, std::ratio<1>, std::ratio<1>>;
struct lrn_odd : tn::network<tn::input<3, 1, 1>, lrn3> {};
struct lrn_even : tn::network<tn::input<3, 1, 1>, lrn2> {};
struct lrn_paper : tn::network<tn::input<2, 1, 2>, tn::lrn<5, std::ratio<1, 10000>, std::ratio<3, 4>, std::ratio<2>>> {
};
}  // namespace

TEST_CASE("lrn: PyTorch's channel window and alpha / size") {
  // size 3, alpha 1, beta 1, k 1 on channels (1, 2, 3): window [c-1, c+1]; out = x / (1 + sum/3).
  //   c0: sum 1+4 = 5 -> 1/(8/3) = 3/8    c1: 1+4+9 = 14 -> 2/(17/3) = 6/17    c2: 4+9 = 13 -> 3/(16/3) = 9/16
  auto out = run_reference(tn::params<lrn_odd>{}, {1, 2, 3}, 1);
  CHECK(out[0] == doctest::Approx(3.0 / 8).epsilon(1e-7));
  CHECK(out[1] == doctest::Approx(6.0 / 17).epsilon(1e-7));
  CHECK(out[2] == doctest::Approx(9.0 / 16).epsilon(1e-7));
  // size 2: window [c - 1, c]; out = x / (1 + sum/2).
  //   c0: 1 -> 1/1.5 = 2/3    c1: 1+4 = 5 -> 2/3.5 = 4/7    c2: 4+9 = 13 -> 3/7.5 = 0.4
  out = run_reference(tn::params<lrn_even>{}, {1, 2, 3}, 1);
  CHECK(out[0] == doctest::Approx(2.0 / 3).epsilon(1e-7));
  CHECK(out[1] == doctest::Approx(4.0 / 7).epsilon(1e-7));
  CHECK(out[2] == doctest::Approx(0.4).epsilon(1e-7));
  // The paper's values (size 5, alpha 1e-4, beta 3/4, k 2) on 2 channels of 2 pixels, (10, 20 | 30, 40):
  //   pixel 0: both channels see 10^2 + 30^2 = 1000 -> scale (2 + 1e-4/5 * 1000)^0.75 = 2.02^0.75
  //   pixel 1: 20^2 + 40^2 = 2000 -> 2.04^0.75
  out = run_reference(tn::params<lrn_paper>{}, {10, 20, 30, 40}, 1);
  CHECK(out[0] == doctest::Approx(10 / std::pow(2.02, 0.75)).epsilon(1e-6));
  CHECK(out[1] == doctest::Approx(20 / std::pow(2.04, 0.75)).epsilon(1e-6));
  CHECK(out[2] == doctest::Approx(30 / std::pow(2.02, 0.75)).epsilon(1e-6));
  CHECK(out[3] == doctest::Approx(40 / std::pow(2.04, 0.75)).epsilon(1e-6));
}

namespace {
struct relu_net : tn::network<tn::input<6>, tn::relu> {};
struct softmax_net : tn::network<tn::input<3>, tn::softmax> {};
struct dense_net : tn::network<tn::input<3>, tn::dense<2>> {};
struct view_net : tn::network<tn::input<2, 2, 2>, tn::dropout<50>, tn::flatten, tn::dropout<20>> {};
struct nan_pool : tn::network<tn::input<1, 2, 2>, tn::max_pool<tn::kernel<2>>> {};
constexpr float inf_f = std::numeric_limits<float>::infinity();
constexpr float qnan = std::numeric_limits<float>::quiet_NaN();
}  // namespace

TEST_CASE("relu: negatives to zero, NaN and infinities pass as IEEE says") {
  const auto out = run_reference(tn::params<relu_net>{}, {-1.f, 0.f, 2.5f, qnan, -inf_f, inf_f}, 1);
  CHECK(out[0] == 0.f);
  CHECK(out[1] == 0.f);
  CHECK(out[2] == 2.5f);
  CHECK(std::isnan(out[3]));
  CHECK(out[4] == 0.f);
  CHECK(out[5] == inf_f);
}

TEST_CASE("max_pool: NaN in a window gives NaN, wherever it sits") {
  for (int pos = 0; pos < 4; ++pos) {
    std::vector<float> in{1, 2, 3, 4};
    in[static_cast<std::size_t>(pos)] = qnan;
    const auto out = run_reference(tn::params<nan_pool>{}, in, 1);
    CHECK(std::isnan(out[0]));
  }
}

namespace {
struct avg_one_window : tn::network<tn::input<1, 2, 2>, tn::avg_pool<tn::kernel<2>>> {};
struct adaptive_one : tn::network<tn::input<1, 1, 3>, tn::adaptive_avg_pool<1, 2>> {};
struct lrn_four : tn::network<tn::input<4, 1, 1>, lrn3> {};
}  // namespace

TEST_CASE("non-finite values through the sums: avg_pool, adaptive_avg_pool, lrn, conv2d, dense") {
  // IEEE sums, as PyTorch: a NaN term gives NaN, +inf gives +inf, -inf gives -inf, +inf with -inf NaN.
  auto avg = [](std::vector<float> in) { return run_reference(tn::params<avg_one_window>{}, in, 1)[0]; };
  CHECK(std::isnan(avg({1, qnan, 3, 4})));
  CHECK(avg({1, inf_f, 3, 4}) == inf_f);
  CHECK(avg({1, -inf_f, 3, 4}) == -inf_f);
  CHECK(std::isnan(avg({inf_f, 2, -inf_f, 4})));
  // 3 -> 2 columns: windows {0, 1} and {1, 2}; a value in column 0 reaches only the first output.
  auto ad = run_reference(tn::params<adaptive_one>{}, {inf_f, 2, 4}, 1);
  CHECK(ad[0] == inf_f);
  CHECK(ad[1] == 3.f);
  ad = run_reference(tn::params<adaptive_one>{}, {1, qnan, 4}, 1);
  CHECK((std::isnan(ad[0]) && std::isnan(ad[1])));
  // lrn size 3, alpha = beta = k = 1 on channels (1, x, 2, 3): windows [c-1, c+1].
  //   x = +inf: c0 and c2 see inf^2 = inf -> 1/inf = 0 and 2/inf = 0; c1 is inf/inf = NaN;
  //             c3 sees 2 and 3 only: 3 / (1 + 13/3) = 9/16.
  //   x = NaN:  c0, c1, c2 NaN; c3 9/16.
  auto l = run_reference(tn::params<lrn_four>{}, {1, inf_f, 2, 3}, 1);
  CHECK(l[0] == 0.f);
  CHECK(std::isnan(l[1]));
  CHECK(l[2] == 0.f);
  CHECK(l[3] == doctest::Approx(9.0 / 16).epsilon(1e-7));
  l = run_reference(tn::params<lrn_four>{}, {1, qnan, 2, 3}, 1);
  CHECK((std::isnan(l[0]) && std::isnan(l[1]) && std::isnan(l[2])));
  CHECK(l[3] == doctest::Approx(9.0 / 16).epsilon(1e-7));
  // conv2d 2x2 kernel (1, 2, 3, 4) on 3x3: input (0,0) reaches output (0,0) only, with weight 1; input
  // (1,1) reaches all four outputs. +inf at (0,0): out (0,0) = +inf, the rest finite. -inf at (1,1) with
  // weights 4, 3, 2, 1 > 0: every output -inf, and (0,0) holds +inf + -inf = NaN when both are present.
  tn::params<conv_plain> p;
  tn::test::set_weight<conv_plain, 0>(p, {1, 2, 3, 4});
  tn::test::set_bias<conv_plain, 0>(p, {0.5f});
  std::vector<float> in = iota_from_one(9);
  in[0] = inf_f;
  auto c = run_reference(p, in, 1);
  CHECK(c == std::vector<float>{inf_f, 47.5f, 67.5f, 77.5f});
  in[4] = -inf_f;
  c = run_reference(p, in, 1);
  CHECK(std::isnan(c[0]));
  CHECK(c[1] == -inf_f);
  CHECK(c[2] == -inf_f);
  CHECK(c[3] == -inf_f);
  // dense: a zero weight times inf is NaN (IEEE, and PyTorch's matmul): u1 has weight 0 on input 1.
  tn::params<dense_net> d;
  tn::test::set_weight<dense_net, 0>(d, {1, 2, 3, -1, 0, 1});
  tn::test::set_bias<dense_net, 0>(d, {0.5f, -0.5f});
  const auto y = run_reference(d, {1, inf_f, 2}, 1);
  CHECK(y[0] == inf_f);
  CHECK(std::isnan(y[1]));
}

TEST_CASE("softmax: probabilities, and stability for logits in the thousands") {
  // exp(log 1), exp(log 2), exp(log 3) = 1, 2, 3 -> 1/6, 2/6, 3/6.
  auto out = run_reference(tn::params<softmax_net>{}, {std::log(1.f), std::log(2.f), std::log(3.f)}, 1);
  CHECK(out[0] == doctest::Approx(1.0 / 6).epsilon(1e-6));
  CHECK(out[1] == doctest::Approx(2.0 / 6).epsilon(1e-6));
  CHECK(out[2] == doctest::Approx(3.0 / 6).epsilon(1e-6));
  // 1000, 2000, -1e4: after subtracting the maximum, exp(-1000) and exp(-12000) are 0 even in double:
  // an exact one-hot. Without the subtraction exp(2000) overflows to inf and inf/inf is NaN.
  // The second image is all equal (1/3 each); a NaN in the third makes that row NaN but not the others.
  out = run_reference(tn::params<softmax_net>{}, {1000, 2000, -1e4f, 7, 7, 7, 1, qnan, 2}, 3);
  CHECK(out[0] == 0.f);
  CHECK(out[1] == 1.f);
  CHECK(out[2] == 0.f);
  for (int i = 3; i < 6; ++i) CHECK(out[i] == doctest::Approx(1.0 / 3).epsilon(1e-7));
  for (int i = 6; i < 9; ++i) CHECK(std::isnan(out[i]));
  // Infinities, as PyTorch: +inf in a row gives exp(inf - inf) = NaN in the sum, so the row is all NaN; a
  // row of -inf likewise (its maximum is -inf); -inf beside finite logits is probability 0.
  out = run_reference(tn::params<softmax_net>{}, {1, inf_f, 2, -inf_f, -inf_f, -inf_f, 0, -inf_f, 0}, 3);
  for (int i = 0; i < 6; ++i) CHECK(std::isnan(out[i]));
  CHECK(out[6] == 0.5f);
  CHECK(out[7] == 0.f);
  CHECK(out[8] == 0.5f);
  // Very negative logits: the largest still gets exp(0) = 1 in the numerator, no 0/0.
  out = run_reference(tn::params<softmax_net>{}, {-3e4f, -3e4f - 1000, -3e4f}, 1);
  CHECK(out[0] == 0.5f);
  CHECK(out[1] == 0.f);
  CHECK(out[2] == 0.5f);
}

TEST_CASE("dense: weight [units, inputs] as nn.Linear, per image of the batch") {
  tn::params<dense_net> p;
  tn::test::set_weight<dense_net, 0>(p, {1, 2, 3, -1, 0, 1});
  tn::test::set_bias<dense_net, 0>(p, {0.5f, -0.5f});
  // x = (1, 1, 2): u0 = 1 + 2 + 6 + .5 = 9.5, u1 = -1 + 0 + 2 - .5 = 0.5. x = 0: the biases.
  CHECK(run_reference(p, {1, 1, 2, 0, 0, 0}, 2) == std::vector<float>{9.5f, 0.5f, 0.5f, -0.5f});
}

TEST_CASE("dropout and flatten: the identity at inference, in NCHW order") {
  const auto in = iota_from_one(16);
  CHECK(run_reference(tn::params<view_net>{}, in, 2) == in);
}

namespace {
// A small network through every policy-visible path: conv, relu, pool, flatten, dense, softmax.
// Parameter offsets: layer 0 has 2*1*2*2 = 8 weights at 0 and 2 biases at 8; layer 4 (dense 2 <- 2)
// has 4 weights at 10 and 2 biases at 14.
struct tiny : tn::network<tn::input<1, 2, 2>, tn::conv2d<2, tn::kernel<2>>, tn::relu, tn::max_pool<tn::kernel<1>>,
                          tn::flatten, tn::dense<2>, tn::softmax> {};
}  // namespace

TEST_CASE("a whole network: layers chained through the ping-pong buffers, weights at their offsets") {
  static_assert(tn::layer_at<tiny, 4>::weight_offset == 10 && tn::layer_at<tiny, 4>::bias_offset == 14);
  tn::params<tiny> p;
  tn::test::set_weight<tiny, 0>(p, {1, 1, 1, 1, -1, -1, -1, -1});
  tn::test::set_bias<tiny, 0>(p, {0, 0});
  tn::test::set_weight<tiny, 4>(p, {1, 0, 0, 1});
  tn::test::set_bias<tiny, 4>(p, {0, std::log(3.f)});
  // in = 1 2 3 4: conv -> (10, -10), relu -> (10, 0), pool 1x1 -> same, flatten, dense -> (10, 0 + ln 3),
  // softmax -> e^10 / (e^10 + 3), 3 / (e^10 + 3).
  const auto out = run_reference(p, {1, 2, 3, 4}, 1);
  const double e10 = std::exp(10.0);
  CHECK(out[0] == doctest::Approx(e10 / (e10 + 3)).epsilon(1e-6));
  CHECK(out[1] == doctest::Approx(3 / (e10 + 3)).epsilon(1e-6));
}

TEST_CASE("model::forward and the program check their arguments") {
  tn::params<dense_net> p;
  tn::model<dense_net, tn::exec::reference_t> m(p, 2, tn::exec::reference);
  std::vector<float> in(6), out(4);
  CHECK_NOTHROW(m.forward(std::span<const float>(in), std::span<float>(out), 2));
  CHECK_THROWS_AS(m.forward(std::span<const float>(in), std::span<float>(out), 3), std::invalid_argument);
  CHECK_THROWS_AS(m.forward(std::span<const float>(in), std::span<float>(out), 0), std::invalid_argument);
  CHECK_THROWS_AS(m.forward(std::span<const float>(in), std::span<float>(out), -1), std::invalid_argument);
  CHECK_THROWS_AS(m.forward(std::span<const float>(in.data(), 5), std::span<float>(out), 2), std::invalid_argument);
  CHECK_THROWS_AS(m.forward(std::span<const float>(in), std::span<float>(out.data(), 3), 2), std::invalid_argument);
  CHECK_THROWS_AS(m.forward(in.data(), out.data(), 3), std::invalid_argument);
  CHECK_THROWS_AS((tn::model<dense_net, tn::exec::reference_t>(p, 0)), std::invalid_argument);
  CHECK_THROWS_AS((tn::exec::reference_t::program<dense_net>(p, 0, tn::exec::reference)), std::invalid_argument);
  tn::exec::reference_t::program<dense_net> prog(p, 1, tn::exec::reference);
  CHECK_THROWS_AS(prog.run(in.data(), out.data(), 2), std::invalid_argument);
  static_assert(tn::ExecutionPolicy<tn::exec::reference_t, dense_net>);
}

TEST_CASE("the program owns a copy of the parameters") {
  tn::params<dense_net> p;
  tn::test::set_weight<dense_net, 0>(p, {1, 0, 0, 0, 1, 0});
  tn::model<dense_net, tn::exec::reference_t> m(p, 1);
  tn::test::set_weight<dense_net, 0>(p, {0, 0, 0, 0, 0, 0});  // changing p afterwards does not matter
  std::vector<float> out(2);
  m.forward(std::span<const float>(std::vector<float>{3, 4, 5}), std::span<float>(out), 1);
  CHECK(out == std::vector<float>{3, 4});
}
