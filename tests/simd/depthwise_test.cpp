// kernels/simd/depthwise.hpp against a double-precision sum computed here, on rows wide enough for the
// strip path (up to 8 output pixels with the window's weights in registers) in several cuts, the edge
// columns in the padding, strides 1 and 2, no padding, a partial last channel vector, a 5x5 window (the
// per-pixel path only), each epilogue and the residual add. Items are split unevenly, as threads split them.
//
// Tolerance from the arithmetic: a float sum of KH * KW products plus the bias and the residual is within
// (KH * KW + 3) * u * sum |terms| of the exact sum (u = 2^-24).
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <typenet/kernels/simd/conv2d.hpp>
#include <typenet/kernels/simd/depthwise.hpp>

#include "simd_util.hpp"

namespace ks = typenet::kernels::simd;
using typenet::test::unit_roundoff;

namespace {

template <int C, int H, int W, int K, int S, int P>
using dw_geo = ks::conv_geometry<C, H, W, C, (H + 2 * P - K) / S + 1, (W + 2 * P - K) / S + 1, K, K, S, S, P, P, C>;

template <class Geo, class Epilogue, bool Add>
void check(int batch, double lo, double hi, std::uint64_t seed) {
  using K = ks::depthwise_kernel<Geo, xsimd::default_arch>;
  constexpr int C = Geo::c, H = Geo::h, W = Geo::w, OH = Geo::oh, OW = Geo::ow, KH = Geo::kh, KW = Geo::kw;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  std::vector<float> w(std::size_t(C) * KH * KW), bias(C), in(std::size_t(batch) * H * W * C),
      res(std::size_t(batch) * OH * OW * C);
  for (auto* v : {&w, &bias, &in, &res})
    for (float& x : *v) x = u(rng);
  auto packed = typenet::detail::make_aligned_floats(std::int64_t(K::packed_floats));
  auto packed_bias = typenet::detail::make_aligned_floats(std::int64_t(K::packed_bias_floats));
  K::pack(w.data(), bias.data(), packed.get(), packed_bias.get());
  const std::size_t n_out = res.size();
  const float sentinel = -12345.f;
  std::vector<float> out(n_out + 64, std::numeric_limits<float>::quiet_NaN());
  for (std::size_t i = n_out; i < out.size(); ++i) out[i] = sentinel;
  const std::int64_t items = K::items(batch);
  const std::int64_t cut = items / 3;
  K::template run<Epilogue, Add>(packed.get(), packed_bias.get(), in.data(), out.data(), 0, cut,
                                 Add ? res.data() : nullptr);
  K::template run<Epilogue, Add>(packed.get(), packed_bias.get(), in.data(), out.data(), cut, items,
                                 Add ? res.data() : nullptr);
  std::size_t bad = 0;
  std::string first;
  for (int n = 0; n < batch; ++n)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow)
        for (int c = 0; c < C; ++c) {
          double s = bias[std::size_t(c)], mag = std::abs(s);
          for (int kh = 0; kh < KH; ++kh)
            for (int kw = 0; kw < KW; ++kw) {
              const int ih = oh * Geo::sh - Geo::ph + kh, iw = ow * Geo::sw - Geo::pw + kw;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              const double t = double(in[((std::size_t(n) * H + ih) * W + iw) * C + c]) *
                               double(w[(std::size_t(c) * KH + kh) * KW + kw]);
              s += t;
              mag += std::abs(t);
            }
          const std::size_t at = ((std::size_t(n) * OH + oh) * OW + ow) * C + c;
          if (Add) {
            s += res[at];
            mag += std::abs(double(res[at]));
          }
          s = std::min(std::max(s, lo), hi);
          const double tol = (KH * KW + 3.0) * unit_roundoff * mag + 1e-30;
          if (!(std::abs(double(out[at]) - s) <= tol)) {
            if (bad == 0)
              first = "first mismatch at image " + std::to_string(n) + ", row " + std::to_string(oh) + ", column " +
                      std::to_string(ow) + ", channel " + std::to_string(c) + ": " + std::to_string(out[at]) + " vs " +
                      std::to_string(s);
            ++bad;
          }
        }
  std::size_t overrun = 0;
  for (std::size_t i = n_out; i < out.size(); ++i) overrun += out[i] != sentinel;
  INFO("C " << C << ", " << H << "x" << W << ", " << KH << "x" << KW << " stride " << Geo::sh << " pad " << Geo::ph
            << ", batch " << batch << ", add " << Add << "; " << bad << " wrong; " << first);
  CHECK(bad == 0);
  CHECK(overrun == 0);
}

template <class Geo>
void check_epilogues(std::uint64_t seed) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  check<Geo, ks::epilogue_none, false>(2, -inf, inf, seed);
  check<Geo, ks::epilogue_relu, true>(1, 0.0, inf, seed + 1);
  check<Geo, ks::epilogue_relu6, false>(3, 0.0, 6.0, seed + 2);
  check<Geo, ks::epilogue_relu6, true>(2, 0.0, 6.0, seed + 3);
}

}  // namespace

TEST_CASE("depthwise_kernel: strips, edges and tails against a double sum") {
  check_epilogues<dw_geo<32, 5, 21, 3, 1, 1>>(10);  // 19 interior columns: strips of 7, 7 and 5
  check_epilogues<dw_geo<16, 4, 18, 3, 1, 1>>(15);  // 16 interior columns: 2 full strips of 8
  check_epilogues<dw_geo<16, 4, 12, 3, 1, 0>>(20);  // no padding: every column interior (2 strips of 5)
  check_epilogues<dw_geo<20, 6, 19, 3, 2, 1>>(30);  // stride 2, a partial channel vector (4 of 16)
  check_epilogues<dw_geo<48, 3, 40, 3, 2, 0>>(40);  // stride 2, no padding: 19 columns
  check_epilogues<dw_geo<96, 7, 7, 3, 1, 1>>(45);   // 7 x 7 (MobileNetV2's last stage): one strip of 5
  check_epilogues<dw_geo<36, 7, 23, 5, 1, 2>>(50);  // 5x5: the per-pixel path, channel tail
  check_epilogues<dw_geo<64, 2, 2, 3, 1, 1>>(60);   // no interior column at all
}
