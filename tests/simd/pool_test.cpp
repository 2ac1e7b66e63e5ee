// kernels/simd/pool.hpp against the reference loop nests, on geometries chosen for their edges:
//   * ceil-rounded windows that run past the padded input (the average's divisor is the window clipped to
//     [-pad, H + pad), PyTorch's rule: removing the clip changes those outputs by a third or more), also
//     without padding, with a 1-wide last window, and non-square;
//   * floor and exact windows beside them, with padding;
//   * channel counts with and without a vector tail (3, 16, 20, 37);
//   * adaptive average pooling that pools (13 -> 6, 7 -> 3, 9 x 7 -> 4 x 5, 8 -> 1), keeps (5 -> 5) and
//     repeats inputs (6 -> 13, 1 x 2 -> 3 x 4: overlapping windows).
// Then the same through exec::simd, pooling fused after a convolution and on its own.
//
// Max pooling must be exact (it picks one of its inputs). Averages are summed in float: for a window of n
// values the sum's error is at most (n - 1) u sum |x|, scaling by the rounded 1 / divisor adds 2 u of the
// result (u = 2^-24), and the reference (sum in double) rounds once (u / 2); so per output
//   |simd - reference| <= (n + 2) u * mean |x| over the window (same divisor),
// with mean |x| from the reference kernel run on |x|.
#include <doctest/doctest.h>

#include <typenet/kernels/simd/pool.hpp>

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "simd_util.hpp"

namespace {

namespace ks = typenet::kernels::simd;
namespace ref = typenet::kernels::reference;

using typenet::test::to_nhwc;
using typenet::test::unit_roundoff;

/// Compares NHWC simd output with NCHW reference output; max exactly, averages within
/// (n + 2) u * mean_abs (NCHW, from the reference on |x|).
void compare(const std::vector<float>& got_nhwc, const std::vector<float>& want, const std::vector<float>& mean_abs,
             int n, int c, int h, int w, int window_values, bool exact, const std::string& what) {
  std::vector<float> want_nhwc(want.size()), mean_nhwc(want.size());
  to_nhwc(want, want_nhwc, n, c, h, w);
  to_nhwc(mean_abs, mean_nhwc, n, c, h, w);
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double lim = exact ? 0.0 : (window_values + 2) * unit_roundoff * double(mean_nhwc[i]);
    if (!(std::fabs(double(got_nhwc[i]) - double(want_nhwc[i])) <= lim)) {
      if (bad++ == 0) first = i;
    }
  }
  INFO(std::string(what) << ": " << bad << " of " << want.size() << " outputs wrong; first at NHWC " << first
                         << ": simd " << got_nhwc[first] << ", reference " << want_nhwc[first]);
  CHECK(bad == 0);
}

/// Max and average pooling of C x H x W with a KH x KW window, stride SH x SW, pad PH x PW, rounding R,
/// on a batch of 2: simd against the reference.
template <int C, int H, int W, int KH, int KW, int SH, int SW, int PH, int PW, typenet::rounding R>
void check_pool() {
  constexpr int N = 2;
  constexpr int OH = typenet::detail::window_extent(H, KH, SH, PH, R);
  constexpr int OW = typenet::detail::window_extent(W, KW, SW, PW, R);
  static_assert(OH > 0 && OW > 0);
  using geo = ks::pool_geometry<C, H, W, OH, OW, KH, KW, SH, SW, PH, PW>;
  const ref::window_geometry g{C, H, W, C, OH, OW, KH, KW, SH, SW, PH, PW, 1};
  std::vector<float> x(std::size_t(N) * C * H * W), x_nhwc(x.size()), x_abs(x.size());
  typenet::fill_uniform(x, 2000 + C * 131 + H * 17 + W + KH * 7 + SH * 3 + PH);
  to_nhwc(x, x_nhwc, N, C, H, W);
  for (std::size_t i = 0; i < x.size(); ++i) x_abs[i] = std::fabs(x[i]);
  const std::size_t out = std::size_t(N) * C * OH * OW;
  std::vector<float> want(out), mean_abs(out), got(out);
  const std::string geometry = "C " + std::to_string(C) + ", " + std::to_string(H) + " x " + std::to_string(W) +
                               " -> " + std::to_string(OH) + " x " + std::to_string(OW) + ", kernel " +
                               std::to_string(KH) + "x" + std::to_string(KW) + ", stride " + std::to_string(SH) + "x" +
                               std::to_string(SW) + ", pad " + std::to_string(PH) + "x" + std::to_string(PW);

  ref::max_pool_plain(g, x.data(), want.data(), N);
  ks::pool_kernel<geo, ks::pool_op::max, xsimd::default_arch>::run(x_nhwc.data(), got.data(), 0, N * OH);
  compare(got, want, want, N, C, OH, OW, KH * KW, true, "max_pool " + geometry);

  ref::avg_pool_plain(g, x.data(), want.data(), N);
  ref::avg_pool_plain(g, x_abs.data(), mean_abs.data(), N);
  ks::pool_kernel<geo, ks::pool_op::average, xsimd::default_arch>::run(x_nhwc.data(), got.data(), 0, N * OH);
  compare(got, want, mean_abs, N, C, OH, OW, KH * KW, false, "avg_pool " + geometry);
}

/// Adaptive average pooling C x H x W -> C x OH x OW on a batch of 2.
template <int C, int H, int W, int OH, int OW>
void check_adaptive() {
  constexpr int N = 2;
  std::vector<float> x(std::size_t(N) * C * H * W), x_nhwc(x.size()), x_abs(x.size());
  typenet::fill_uniform(x, 3000 + C * 131 + H * 17 + W + OH * 5 + OW);
  to_nhwc(x, x_nhwc, N, C, H, W);
  for (std::size_t i = 0; i < x.size(); ++i) x_abs[i] = std::fabs(x[i]);
  const std::size_t out = std::size_t(N) * C * OH * OW;
  std::vector<float> want(out), mean_abs(out), got(out);
  ref::adaptive_avg_pool_plain(C, H, W, OH, OW, x.data(), want.data(), N);
  ref::adaptive_avg_pool_plain(C, H, W, OH, OW, x_abs.data(), mean_abs.data(), N);
  ks::adaptive_avg_pool_kernel<C, H, W, OH, OW, xsimd::default_arch>::run(x_nhwc.data(), got.data(), 0, N * OH);
  // The largest window: ceil(H / OH) + 1 rows by ceil(W / OW) + 1 columns.
  const int window = ((H + OH - 1) / OH + 1) * ((W + OW - 1) / OW + 1);
  compare(got, want, mean_abs, N, C, OH, OW, window, false,
          "adaptive_avg_pool C " + std::to_string(C) + ", " + std::to_string(H) + " x " + std::to_string(W) + " -> " +
              std::to_string(OH) + " x " + std::to_string(OW));
}

constexpr auto ceil_r = typenet::rounding::ceil;
constexpr auto floor_r = typenet::rounding::floor;
constexpr auto exact_r = typenet::rounding::exact;

}  // namespace

TEST_CASE("simd pooling kernels: ceil windows past the padded input") {
  // 8 -> 5 with kernel 3, stride 2, pad 1: the last window [7, 10) runs past [-1, 9): divisor 2 x .., not 3.
  check_pool<20, 8, 8, 3, 3, 2, 2, 1, 1, ceil_r>();
  check_pool<16, 8, 8, 3, 3, 2, 2, 1, 1, ceil_r>();
  // No padding: 8 -> 4, the last window [6, 9) past 8.
  check_pool<16, 8, 8, 3, 3, 2, 2, 0, 0, ceil_r>();
  // A last window one value wide: 10 -> 4 with kernel 3, stride 3.
  check_pool<3, 10, 10, 3, 3, 3, 3, 0, 0, ceil_r>();
  check_pool<37, 10, 10, 3, 3, 3, 3, 0, 0, ceil_r>();
  // 9 x 7 with kernel 2, stride 2: 5 x 4, both last windows clipped.
  check_pool<20, 9, 7, 2, 2, 2, 2, 0, 0, ceil_r>();
  // Kernel 4, stride 3, pad 1 on 6: 3 outputs, the last window [5, 9) clipped to [5, 7).
  check_pool<37, 6, 6, 4, 4, 3, 3, 1, 1, ceil_r>();
  // Non-square: 3 x 2 window, stride 2 x 1, pad 1 x 0 on 8 x 9.
  check_pool<20, 8, 9, 3, 2, 2, 1, 1, 0, ceil_r>();
  // caffe_alexnet's pools in small: 3 x 3, stride 2, 13 -> 6 and 12 -> 6 (ceil).
  check_pool<20, 13, 13, 3, 3, 2, 2, 0, 0, ceil_r>();
  check_pool<16, 12, 12, 3, 3, 2, 2, 0, 0, ceil_r>();
}

TEST_CASE("simd pooling kernels: floor and exact windows with padding") {
  check_pool<20, 9, 11, 3, 3, 2, 2, 1, 1, exact_r>();
  check_pool<16, 10, 10, 3, 3, 2, 2, 1, 1, floor_r>();
  check_pool<3, 7, 7, 2, 2, 2, 2, 1, 1, floor_r>();
  check_pool<37, 5, 6, 3, 3, 1, 1, 1, 1, exact_r>();
}

TEST_CASE("simd adaptive average pooling: pooling, identity and overlapping (upsampling) windows") {
  check_adaptive<20, 13, 13, 6, 6>();
  check_adaptive<16, 13, 13, 6, 6>();
  check_adaptive<3, 7, 7, 3, 3>();
  check_adaptive<37, 9, 7, 4, 5>();
  check_adaptive<20, 5, 5, 5, 5>();
  check_adaptive<20, 6, 6, 13, 13>();
  check_adaptive<16, 1, 2, 3, 4>();
  check_adaptive<20, 8, 8, 1, 1>();
}

namespace {

namespace tn = typenet;

// Pools fused after conv + relu with ceil windows past the padded input, then on their own; adaptive
// pooling 7 -> 6 and 4 -> 5 (overlapping windows).
struct net_ceil_fused
    : tn::network<tn::input<5, 10, 10>, tn::conv2d<20, tn::kernel<3>, tn::stride<1>, tn::pad<0>>, tn::relu,
                  tn::avg_pool<tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::ceil_mode>, tn::conv2d<16, tn::kernel<1>>,
                  tn::relu, tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>> {};
struct net_pools_alone
    : tn::network<tn::input<20, 12, 12>, tn::avg_pool<tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::ceil_mode>,
                  tn::adaptive_avg_pool<6, 6>, tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::ceil_mode>,
                  tn::adaptive_avg_pool<5, 5>> {};

template <class Net>
void check_net(std::uint64_t seed, const char* name) {
  tn::params<Net> p;
  tn::init_he(p, seed);
  std::vector<float> in(static_cast<std::size_t>(3 * Net::input_shape::size));
  tn::fill_uniform(in, seed + 1);
  const auto want = typenet::test::run_policy<Net, tn::exec::reference_t>(p, in, 3);
  for (int threads : {1, 2})
    typenet::test::expect_close(typenet::test::run_simd<Net>(p, in, 3, threads), want,
                                std::string(name) + ", " + std::to_string(threads) + " thread(s)");
}

}  // namespace

TEST_CASE("simd pooling through the policy: ceil windows past the edge, fused and alone; adaptive") {
  check_net<net_ceil_fused>(71, "conv relu avg_pool ceil, conv relu max_pool ceil");
  check_net<net_pools_alone>(72, "avg_pool ceil, adaptive 6, max_pool ceil, adaptive 5");
}
