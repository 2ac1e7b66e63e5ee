// The Winograd transforms of exec::cuda (kernels/winograd_transforms.hpp), checked on the host: the 1-D
// identity for every tile size, and whole convolutions computed the way the GPU computes them (input
// transform, per-position products summed over channels in float, output transform) against a direct
// convolution in double, on the seed AlexNet's 5x5 and 3x3 layer shapes and odd shapes with edge tiles.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <typenet/kernels/winograd_transforms.hpp>

namespace wg = typenet::kernels::winograd;

namespace {

template <int M, int R>
double one_d_error(unsigned seed) {
  constexpr int n = M + R - 1;
  constexpr auto w = wg::make_matrices<M, R>();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  double worst = 0;
  for (int trial = 0; trial < 100; ++trial) {
    double d[n], g[R];
    for (double& v : d) v = u(rng);
    for (double& v : g) v = u(rng);
    for (int i = 0; i < M; ++i) {
      double want = 0, got = 0;
      for (int k = 0; k < R; ++k) want += d[i + k] * g[k];
      for (int j = 0; j < n; ++j) {
        double gg = 0, dd = 0;
        for (int k = 0; k < R; ++k) gg += w.g[j][k] * g[k];
        for (int s = 0; s < n; ++s) dd += w.bt[j][s] * d[s];
        got += w.at[i][j] * gg * dd;
      }
      worst = std::max(worst, std::abs(got - want));
    }
  }
  return worst;
}

struct conv_error {
  double max_abs = 0, max_ref = 0, excess = -1;  // excess > 0: outside atol 1e-4 + rtol 1e-3
  double direct_tf32 = 0;                        // max |diff| of a direct convolution on TF32 operands
};

/// x rounded to TF32 (10 mantissa bits, to nearest, ties away from zero), like cvt.rna.tf32.f32.
float to_tf32(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  u = (u + 0x1000u) & 0xffffe000u;
  std::memcpy(&x, &u, 4);
  return x;
}

/// One image, C -> F channels, H x W input, R x R filter, padding P, stride 1: the GPU's Winograd path
/// emulated in float against a direct double convolution.
template <int M, int R>
conv_error winograd_conv(int C, int F, int H, int W, int P, unsigned seed, bool tf32 = false) {
  const auto op = [tf32](float v) { return tf32 ? to_tf32(v) : v; };  // a GEMM operand
  constexpr int n = M + R - 1;
  const int OH = H + 2 * P - R + 1, OW = W + 2 * P - R + 1;
  const int TH = (OH + M - 1) / M, TW = (OW + M - 1) / M;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> ux(0.f, 1.f);  // post-ReLU activations
  std::normal_distribution<float> uw(0.f, std::sqrt(2.f / float(C * R * R)));
  std::vector<float> x(std::size_t(C) * H * W), wt(std::size_t(F) * C * R * R);
  for (float& v : x) v = ux(rng);
  for (float& v : wt) v = uw(rng);

  // Filters transformed in double, stored as float (as the policy packs them).
  std::vector<float> u(std::size_t(F) * C * n * n);
  for (int f = 0; f < F; ++f)
    for (int c = 0; c < C; ++c) {
      double g[R][R], t[n][n];
      for (int i = 0; i < R; ++i)
        for (int j = 0; j < R; ++j) g[i][j] = wt[((std::size_t(f) * C + c) * R + i) * R + j];
      wg::filter_tile<M, R>(g, t);
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) u[((std::size_t(f) * C + c) * n + i) * n + j] = float(t[i][j]);
    }
  // Inputs transformed tile by tile.
  std::vector<float> v(std::size_t(C) * TH * TW * n * n);
  for (int c = 0; c < C; ++c)
    for (int th = 0; th < TH; ++th)
      for (int tw = 0; tw < TW; ++tw) {
        float d[n][n], t[n][n];
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j) {
            const int ih = th * M + i - P, iw = tw * M + j - P;
            d[i][j] = ih >= 0 && ih < H && iw >= 0 && iw < W ? x[(std::size_t(c) * H + ih) * W + iw] : 0.f;
          }
        wg::input_tile<M, R>(d, t);
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j) v[((std::size_t(c) * TH * TW + th * TW + tw) * n + i) * n + j] = t[i][j];
      }
  conv_error e;
  for (int f = 0; f < F; ++f)
    for (int th = 0; th < TH; ++th)
      for (int tw = 0; tw < TW; ++tw) {
        float m[n][n] = {}, y[M][M];
        for (int c = 0; c < C; ++c)  // the GEMM: one float accumulator per position, over the channels
          for (int i = 0; i < n; ++i)
            for (int j = 0; j < n; ++j)
              m[i][j] = std::fma(op(u[((std::size_t(f) * C + c) * n + i) * n + j]),
                                 op(v[((std::size_t(c) * TH * TW + th * TW + tw) * n + i) * n + j]), m[i][j]);
        wg::output_tile<M, R>(m, y);
        for (int i = 0; i < M; ++i)
          for (int j = 0; j < M; ++j) {
            const int oh = th * M + i, ow = tw * M + j;
            if (oh >= OH || ow >= OW) continue;
            double want = 0, direct = 0;
            for (int c = 0; c < C; ++c)
              for (int ki = 0; ki < R; ++ki)
                for (int kj = 0; kj < R; ++kj) {
                  const int ih = oh + ki - P, iw = ow + kj - P;
                  if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
                    const float a = wt[((std::size_t(f) * C + c) * R + ki) * R + kj];
                    const float b = x[(std::size_t(c) * H + ih) * W + iw];
                    want += double(a) * b;
                    direct += double(op(a)) * op(b);
                  }
                }
            e.direct_tf32 = std::max(e.direct_tf32, std::abs(direct - want));
            const double d = std::abs(double(y[i][j]) - want);
            e.max_abs = std::max(e.max_abs, d);
            e.max_ref = std::max(e.max_ref, std::abs(want));
            e.excess = std::max(e.excess, d - (1e-4 + 1e-3 * std::abs(want)));
          }
      }
  return e;
}

/// The CUDA policy's three steps run on the host, thread by thread (input_transform_at, the GEMM per
/// position over the documented layouts, output_transform_at with bias, then with Residual a residual join
/// (values in [-4, 8], so ReLU6 clips both ends), then activation Act: 1 ReLU, 2 ReLU6), for a batch of
/// two, against a direct double convolution. Returns the largest excess over atol 1e-4 + rtol 1e-3.
template <class WT, int Act = 1, bool Residual = false>
double pipeline_excess(unsigned seed, double& max_ref) {
  constexpr int batch = 2, C = WT::c, F = WT::f, R = WT::r, T = WT::tiles, P = WT::positions;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> ux(-1.f, 1.f);
  std::normal_distribution<float> uw(0.f, std::sqrt(2.f / float(C * R * R)));
  std::vector<float> x(std::size_t(batch) * C * WT::h * WT::w), wt(std::size_t(F) * C * R * R), bias(F);
  for (float& v : x) v = ux(rng);
  for (float& v : wt) v = uw(rng);
  for (float& v : bias) v = ux(rng) * 0.1f;
  std::vector<float> res(Residual ? std::size_t(batch) * F * WT::oh * WT::ow : 0);
  for (float& v : res) v = 2.f + 6.f * ux(rng);
  std::vector<float> u(std::size_t(P) * F * C), v(std::size_t(batch * WT::v_image), -7.f),
      m(std::size_t(batch * WT::m_image), -7.f), y(std::size_t(batch) * F * WT::oh * WT::ow, -7.f);
  wg::transform_weights<WT>(wt.data(), u.data());
  for (long long o = 0; o < 1LL * batch * C * T; ++o) wg::input_transform_at<WT>(o, x.data(), v.data());
  for (int img = 0; img < batch; ++img)
    for (int p = 0; p < P; ++p)
      for (int f = 0; f < F; ++f)
        for (int t = 0; t < T; ++t) {
          float s = 0.f;
          for (int c = 0; c < C; ++c)
            s = std::fma(u[(std::size_t(p) * F + f) * C + c], v[img * WT::v_image + (std::size_t(p) * C + c) * T + t],
                         s);
          m[img * WT::m_image + (std::size_t(p) * F + f) * T + t] = s;
        }
  for (long long o = 0; o < 1LL * batch * F * T; ++o)
    wg::output_transform_at<WT, Act>(o, m.data(), bias.data(), y.data(), Residual ? res.data() : nullptr);
  double excess = -1;
  max_ref = 0;
  for (int img = 0; img < batch; ++img)
    for (int f = 0; f < F; ++f)
      for (int oh = 0; oh < WT::oh; ++oh)
        for (int ow = 0; ow < WT::ow; ++ow) {
          double want = bias[f];
          for (int c = 0; c < C; ++c)
            for (int ki = 0; ki < R; ++ki)
              for (int kj = 0; kj < R; ++kj) {
                const int ih = oh + ki - WT::ph, iw = ow + kj - WT::pw;
                if (ih >= 0 && ih < WT::h && iw >= 0 && iw < WT::w)
                  want += double(wt[((std::size_t(f) * C + c) * R + ki) * R + kj]) *
                          x[((std::size_t(img) * C + c) * WT::h + ih) * WT::w + iw];
              }
          const std::size_t at = ((std::size_t(img) * F + f) * WT::oh + oh) * WT::ow + ow;
          if (Residual) want += res[at];
          want = Act == 2 ? std::clamp(want, 0.0, 6.0) : std::max(want, 0.0);
          const double got = y[at];
          max_ref = std::max(max_ref, std::abs(want));
          excess = std::max(excess, std::abs(got - want) - (1e-4 + 1e-3 * std::abs(want)));
        }
  return excess;
}

}  // namespace

TEST_CASE("winograd: the CUDA policy's steps, run on the host, compute the convolution") {
  double biggest = 0;
  const auto check = [&](double excess) {
    CHECK(excess <= 0);
    CHECK(biggest > 0.1);  // this geometry's comparison saw real values
  };
  // tiling<C, H, W, F, R, PH, PW, OH, OW, Tile = pick_tile>
  check(pipeline_excess<wg::tiling<96, 27, 27, 16, 5, 2, 2, 27, 27>>(21, biggest));     // seed conv2, F(4,5)
  check(pipeline_excess<wg::tiling<256, 13, 13, 8, 3, 1, 1, 13, 13>>(22, biggest));     // conv3, F(4,3)
  check(pipeline_excess<wg::tiling<256, 13, 13, 8, 3, 1, 1, 13, 13, 2>>(23, biggest));  // conv3, F(2,3) (tf32)
  check(pipeline_excess<wg::tiling<5, 7, 10, 3, 3, 0, 0, 5, 8>>(24, biggest));          // no padding
  check(pipeline_excess<wg::tiling<4, 6, 5, 6, 3, 2, 1, 8, 5>>(25, biggest));           // pad 2 x 1
  check(pipeline_excess<wg::tiling<3, 3, 3, 2, 3, 1, 1, 3, 3>>(26, biggest));           // one F(4,3) tile
  check(pipeline_excess<wg::tiling<3, 3, 3, 2, 3, 1, 1, 3, 3, 2>>(27, biggest));        // F(2,3), edge tiles
  check(pipeline_excess<wg::tiling<6, 9, 6, 5, 5, 2, 0, 9, 2>>(28, biggest));           // 5x5, pad 2 x 0
  check(pipeline_excess<wg::tiling<6, 9, 6, 5, 5, 2, 0, 9, 2, 2>>(29, biggest));        // F(2,5)
  // The graph program's epilogue: a residual join, then ReLU or ReLU6 (ResNet's and MobileNet's blocks).
  check(pipeline_excess<wg::tiling<8, 7, 9, 6, 3, 1, 1, 7, 9>, 1, true>(30, biggest));
  check(pipeline_excess<wg::tiling<8, 7, 9, 6, 3, 1, 1, 7, 9, 2>, 2, true>(31, biggest));
  check(pipeline_excess<wg::tiling<4, 6, 5, 6, 3, 2, 1, 8, 5>, 2, false>(32, biggest));
  CHECK(wg::tiling<3, 3, 3, 2, 3, 1, 1, 3, 3>::m == 4);
  CHECK(wg::tiling<3, 3, 3, 2, 3, 1, 1, 3, 3, 2>::m == 2);
}

TEST_CASE("winograd: the generated matrices satisfy the 1-D identity") {
  CHECK(wg::identity_error<2, 3>() < 1e-12);
  CHECK(wg::identity_error<4, 3>() < 1e-12);
  CHECK(wg::identity_error<2, 5>() < 1e-12);
  CHECK(one_d_error<2, 3>(1) < 1e-12);
  CHECK(one_d_error<4, 3>(2) < 1e-12);
  CHECK(one_d_error<2, 5>(3) < 1e-12);
  CHECK(one_d_error<4, 5>(4) < 1e-12);
}

TEST_CASE("winograd: F(2,3) matches the textbook matrices up to the sign of each row pair") {
  constexpr auto w = wg::make_matrices<2, 3>();
  // Points 0, 1, -1, inf: B^T rows are x^2 - 1, x^2 + x, x^2 - x, x^3 - x.
  const double bt[4][4] = {{-1, 0, 1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, -1, 0, 1}};
  const double g[4][3] = {{-1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  const double at[2][4] = {{1, 1, 1, 0}, {0, 1, -1, 1}};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) CHECK(w.bt[i][j] == bt[i][j]);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) CHECK(w.g[i][j] == g[i][j]);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) CHECK(w.at[i][j] == at[i][j]);
}

TEST_CASE("winograd: tile choice") {
  CHECK(wg::pick_tile<3, 13, 13>() == 4);  // 36 x 16 = 576 values against 16 x 49 = 784
  CHECK(wg::pick_tile<3, 2, 2>() == 2);    // one 2x2 tile: 16 values against 36
  CHECK(wg::pick_tile<3, 27, 27>() == 4);
  CHECK(wg::pick_tile<5, 27, 27>() == 4);  // 64 x 49 = 3136 against 36 x 196 = 7056
  CHECK(wg::pick_tile<5, 2, 2>() == 2);    // one 2x2 tile: 36 values against 64
}

TEST_CASE("winograd: whole convolutions in float within the fp32 parity tolerance") {
  // seed AlexNet conv2 (96 -> 256, 5x5, pad 2, 27x27; fewer filters: the error does not depend on F),
  // conv3/conv4 (256 or 384 -> 384, 3x3, pad 1, 13x13), and odd sizes with partial edge tiles.
  const conv_error c2 = winograd_conv<2, 5>(96, 8, 27, 27, 2, 11);
  const conv_error c3 = winograd_conv<4, 3>(256, 8, 13, 13, 1, 12);
  const conv_error c4 = winograd_conv<4, 3>(384, 8, 13, 13, 1, 13);
  const conv_error c3s = winograd_conv<2, 3>(256, 8, 13, 13, 1, 14);
  const conv_error odd = winograd_conv<4, 3>(5, 3, 7, 10, 0, 15);
  const conv_error odd5 = winograd_conv<2, 5>(3, 4, 6, 9, 1, 16);
  MESSAGE("F(2,5) conv2: max |diff| " << c2.max_abs << " of " << c2.max_ref << "; F(4,3) conv3: " << c3.max_abs
                                      << " of " << c3.max_ref << "; conv4: " << c4.max_abs << " of " << c4.max_ref
                                      << "; F(2,3) conv3: " << c3s.max_abs);
  CHECK(c2.excess <= 0);
  CHECK(c3.excess <= 0);
  CHECK(c4.excess <= 0);
  CHECK(c3s.excess <= 0);
  CHECK(odd.excess <= 0);
  CHECK(odd5.excess <= 0);
  CHECK(odd.max_ref > 0.1);                                            // the comparison saw real values
  const conv_error c2big = winograd_conv<4, 5>(96, 8, 27, 27, 2, 17);  // the tile the policy picks
  const conv_error odd45 = winograd_conv<4, 5>(7, 3, 11, 6, 2, 18);
  MESSAGE("F(4,5) conv2: max |diff| " << c2big.max_abs << " of " << c2big.max_ref);
  CHECK(c2big.excess <= 0);
  CHECK(odd45.excess <= 0);
}

TEST_CASE("winograd: TF32 operands (why exec::cuda's tf32 math takes F(2x2, 3x3) only)") {
  // One layer each, products on TF32-rounded U and V: the error against the exact convolution, as a
  // multiple of a direct convolution's error on TF32-rounded weights and inputs.
  const conv_error f23 = winograd_conv<2, 3>(384, 8, 13, 13, 1, 31, true);
  const conv_error f43 = winograd_conv<4, 3>(384, 8, 13, 13, 1, 31, true);
  const conv_error f25 = winograd_conv<2, 5>(96, 8, 27, 27, 2, 32, true);
  const conv_error f45 = winograd_conv<4, 5>(96, 8, 27, 27, 2, 32, true);
  MESSAGE("TF32 error / direct TF32 error: F(2,3) "
          << f23.max_abs / f23.direct_tf32 << ", F(4,3) " << f43.max_abs / f43.direct_tf32 << ", F(2,5) "
          << f25.max_abs / f25.direct_tf32 << ", F(4,5) " << f45.max_abs / f45.direct_tf32);
  CHECK(f23.max_abs < 2.5 * f23.direct_tf32);  // F(2x2, 3x3): close to a direct convolution
  CHECK(f43.max_abs > 5 * f43.direct_tf32);    // the larger tiles are not
  CHECK(f25.max_abs > 5 * f25.direct_tf32);
  CHECK(f45.max_abs > 5 * f45.direct_tf32);
  // Even so, one F(4,3) layer stays inside the TF32 tolerance (1e-2 of the largest output); the parity test
  // of four such layers in a row (net_g) did not.
  CHECK(f43.max_abs < 1e-2 * f43.max_ref);
}
