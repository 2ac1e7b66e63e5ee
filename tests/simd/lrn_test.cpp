// kernels/simd/norm.hpp (LRN across channels, NHWC) against the reference loop nest (NCHW, double), with
// the window doing real work: sizes 1 to 7 (even sizes put one more channel before c than after it),
// alpha 1 to 4 and k 1 and 2 (the paper's alpha 1e-4 moves the output by 1e-4 and hides window bugs),
// beta 3/4 (the kernel's sqrt path) and 1/2 and 1 (its pow path), channel counts below, at and above the
// vector width with and without a tail (3, 8, 16, 20, 37), in place and not. Then the same through
// exec::simd: LRN fused after a convolution and on its own.
//
// Tolerance, from the kernel's arithmetic (u = 2^-24, float's unit roundoff; first order in u):
//   squares x^2, each rounded: relative error u; their sum over `size` non-negative terms: at most size * u
//   in all. d = fma(alpha / size, s, k): alpha / size rounded (u), the fma (u); k >= 0 and every term is
//   non-negative, so d carries at most (size + 2) u. d^beta multiplies that by beta, and evaluating it
//   adds at most 3 u (sqrt, sqrt, product; the pow path: one rounding of d^beta to float, the pow itself
//   in double); the division x / d^beta one more u. The reference is exact up to its final rounding to
//   float (u / 2). x itself is exact in both, so the bound is relative to each output:
//     |simd - reference| <= (beta * (size + 2) + 5.5) * u * |reference|.
#include <doctest/doctest.h>

#include <typenet/kernels/simd/norm.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "simd_util.hpp"

namespace {

namespace ks = typenet::kernels::simd;
namespace ref = typenet::kernels::reference;

using typenet::test::to_nhwc;
using typenet::test::unit_roundoff;

/// LRN of Size over C channels of a batch of 2 images of 3 x 5: simd (out of place and in place) against
/// the reference for every alpha, beta and k of the header.
template <int Size, int C>
void check_lrn() {
  constexpr int N = 2, H = 3, W = 5;
  using kernel = ks::lrn_kernel<C, H, W, Size, xsimd::default_arch>;
  const std::size_t count = std::size_t(N) * C * H * W;
  std::vector<float> x(count), x_nhwc(count), want(count), want_nhwc(count), got(count);
  typenet::fill_uniform(x, 1000 + Size * 64 + C, -2.f, 2.f);
  to_nhwc(x, x_nhwc, N, C, H, W);
  for (double alpha : {1.0, 2.0, 4.0})
    for (double k : {1.0, 2.0})
      for (double beta : {0.75, 0.5, 1.0}) {
        ref::lrn_plain(Size, alpha, beta, k, C, H, W, x.data(), want.data(), N);
        to_nhwc(want, want_nhwc, N, C, H, W);
        const double rtol = (beta * (Size + 2) + 5.5) * unit_roundoff;
        for (bool in_place : {false, true}) {
          if (in_place) {
            got = x_nhwc;
            kernel::run(got.data(), got.data(), 0, kernel::items(N), alpha, beta, k);
          } else {
            kernel::run(x_nhwc.data(), got.data(), 0, kernel::items(N), alpha, beta, k);
          }
          std::size_t bad = 0, first = 0;
          double worst = 0;
          for (std::size_t i = 0; i < count; ++i) {
            const double d = std::fabs(double(got[i]) - double(want_nhwc[i]));
            const double rel = d / std::fabs(double(want_nhwc[i]));
            if (want_nhwc[i] != 0.f && rel > worst) worst = rel;
            if (!(d <= rtol * std::fabs(double(want_nhwc[i])))) {
              if (bad++ == 0) first = i;
            }
          }
          INFO("lrn size " << Size << ", C " << C << ", alpha " << alpha << ", k " << k << ", beta " << beta
                           << (in_place ? ", in place" : "") << ": " << bad << " of " << count << " outside rtol "
                           << rtol << " (worst relative error " << worst << "); first at NHWC " << first << ": simd "
                           << got[first] << ", reference " << want_nhwc[first]);
          CHECK(bad == 0);
        }
      }
}

template <int Size>
void check_lrn_channels() {
  check_lrn<Size, 3>();   // less than one vector
  check_lrn<Size, 8>();   // one AVX2 vector
  check_lrn<Size, 16>();  // one AVX-512 vector, two AVX2 vectors
  check_lrn<Size, 20>();  // vectors and a tail of 4
  check_lrn<Size, 37>();  // vectors and a tail of 5
}

}  // namespace

TEST_CASE("simd lrn kernel: sizes 1 to 7, alpha 1 to 4, k 1 and 2, beta 3/4, 1/2, 1, channel tails") {
  check_lrn_channels<1>();
  check_lrn_channels<2>();
  check_lrn_channels<3>();
  check_lrn_channels<4>();
  check_lrn_channels<5>();
  check_lrn_channels<6>();
  check_lrn_channels<7>();
}

namespace {

namespace tn = typenet;
using alpha2 = std::ratio<2>;
using alpha4 = std::ratio<4>;

// LRN fused after conv + relu (in place on the stage's output), even size, then a pool; and on its own.
struct net_lrn_fused
    : tn::network<tn::input<5, 9, 9>, tn::conv2d<20, tn::kernel<2>>, tn::relu,
                  tn::lrn<4, alpha2, std::ratio<3, 4>, std::ratio<1>>, tn::max_pool<tn::kernel<2>, tn::stride<2>>> {};
struct net_lrn_alone : tn::network<tn::input<20, 4, 5>, tn::lrn<2, alpha4, std::ratio<1, 2>, std::ratio<2>>, tn::relu,
                                   tn::lrn<5, alpha2, std::ratio<3, 4>, std::ratio<1>>> {};

template <class Net>
void check_net(std::uint64_t seed, const char* name) {
  tn::params<Net> p;
  tn::init_he(p, seed);
  std::vector<float> in(static_cast<std::size_t>(3 * Net::input_shape::size));
  tn::fill_uniform(in, seed + 1, -2.f, 2.f);
  const auto want = typenet::test::run_policy<Net, tn::exec::reference_t>(p, in, 3);
  for (int threads : {1, 2})
    typenet::test::expect_close(typenet::test::run_simd<Net>(p, in, 3, threads), want,
                                std::string(name) + ", " + std::to_string(threads) + " thread(s)");
}

}  // namespace

TEST_CASE("simd lrn through the policy: fused after conv (even size, alpha 2), alone (sizes 2 and 5)") {
  check_net<net_lrn_fused>(61, "conv relu lrn<4> max_pool");
  check_net<net_lrn_alone>(62, "lrn<2> relu lrn<5>");
}
