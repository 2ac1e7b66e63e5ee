// The element functions of exec::cuda's graph kernels (kernels/nchw_ops.hpp: depthwise convolution with
// its epilogue, batch-norm affine, residual add, activation, concat), run on the host for every output
// element the way the GPU's grid-stride loops run them, against exec::reference's convolution loop nest
// and loops written here over (image, channel, row, column) -- indices the functions derive from a flat
// index, so an off-by-one in that arithmetic shows. Batches of 2, odd sizes, strides 1 and 2, and each
// epilogue (none, ReLU, ReLU6 with values on both sides of 0 and 6, a residual); NaN stays NaN.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <typenet/kernels/nchw_ops.hpp>
#include <typenet/kernels/reference/conv2d.hpp>

namespace tk = typenet::kernels;
namespace nchw = typenet::kernels::nchw;

namespace {

std::vector<float> uniform(std::size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

double act(int a, double v) {
  if (std::isnan(v)) return v;
  if (a >= 1) v = std::max(v, 0.0);
  if (a == 2) v = std::min(v, 6.0);
  return v;
}

/// |got - want| <= 1e-5 + 1e-5 |want| everywhere (float sums of at most 25 products against double), NaN
/// where want is NaN; also that the comparison saw values on both sides of the activation's kinks.
void expect_close(const std::vector<float>& got, const std::vector<double>& want, const std::string& what) {
  REQUIRE(got.size() == want.size());
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const bool ok =
        std::isnan(want[i]) ? std::isnan(got[i]) : std::abs(got[i] - want[i]) <= 1e-5 + 1e-5 * std::abs(want[i]);
    if (!ok && bad++ == 0) first = i;
  }
  INFO(what << ": " << bad << " of " << want.size() << " outside the bound; first at " << first << ": got "
            << got[first] << ", want " << want[first]);
  CHECK(bad == 0);
}

/// A depthwise convolution of geometry G, batch 2, with epilogue Act and (Residual) a residual, against
/// exec::reference's loop nest (groups = channels) plus the epilogue in double.
template <class G, int Act, bool Residual>
void check_depthwise(unsigned seed) {
  constexpr int batch = 2, C = G::c;
  const auto x = uniform(std::size_t(batch) * C * G::h * G::w, -2.f, 2.f, seed);
  const auto w = uniform(std::size_t(C) * G::kh * G::kw, -1.f, 1.f, seed + 1);
  const auto bias = uniform(std::size_t(C), -1.f, 1.f, seed + 2);
  const std::size_t out_n = std::size_t(batch) * G::out_image;
  const auto res = uniform(out_n, -4.f, 8.f, seed + 3);
  const typenet::window_geometry g{C, G::h, G::w, C, G::oh, G::ow, G::kh, G::kw, G::sh, G::sw, G::ph, G::pw, C};
  std::vector<float> ref(out_n);
  tk::reference::conv2d_plain(g, x.data(), ref.data(), batch, w.data(), bias.data());
  std::vector<double> want(out_n);
  for (std::size_t i = 0; i < out_n; ++i) want[i] = act(Act, double(ref[i]) + (Residual ? double(res[i]) : 0.0));
  std::vector<float> got(out_n, -99.f);
  for (std::int64_t o = 0; o < std::int64_t(out_n); ++o)
    nchw::depthwise_at<G, Act>(o, x.data(), w.data(), bias.data(), got.data(), Residual ? res.data() : nullptr);
  expect_close(got, want,
               "depthwise " + std::to_string(G::kh) + "x" + std::to_string(G::kw) + " stride " + std::to_string(G::sh) +
                   " act " + std::to_string(Act) + (Residual ? " + residual" : ""));
  if constexpr (Act == 2 && Residual) {  // the bound saw both clamps
    CHECK(std::count(got.begin(), got.end(), 6.f) > 0);
    CHECK(std::count(got.begin(), got.end(), 0.f) > 0);
  }
}

}  // namespace

TEST_CASE("nchw ops: depthwise convolution, every epilogue, against exec::reference") {
  // depthwise_geometry<C, H, W, KH, KW, SH, SW, PH, PW, OH, OW>
  using s1 = nchw::depthwise_geometry<5, 9, 7, 3, 3, 1, 1, 1, 1, 9, 7>;    // MobileNet's stride 1
  using s2 = nchw::depthwise_geometry<6, 11, 10, 3, 3, 2, 2, 1, 1, 6, 5>;  // stride 2, odd and even sides
  using k5 = nchw::depthwise_geometry<3, 8, 9, 5, 5, 1, 1, 2, 2, 8, 9>;    // 5x5
  using rect = nchw::depthwise_geometry<4, 7, 8, 3, 1, 2, 1, 0, 0, 3, 8>;  // 3x1, no padding, stride 2 x 1
  check_depthwise<s1, 0, false>(1);
  check_depthwise<s1, 1, false>(2);
  check_depthwise<s1, 2, true>(3);
  check_depthwise<s2, 2, false>(4);
  check_depthwise<s2, 1, true>(5);
  check_depthwise<k5, 0, true>(6);
  check_depthwise<k5, 2, true>(7);
  check_depthwise<rect, 1, false>(8);
  check_depthwise<rect, 2, true>(9);
}

TEST_CASE("nchw ops: batch-norm affine, add, activation and concat against loops over the indices") {
  constexpr int batch = 2, C = 5, H = 3, W = 4, P = H * W;
  const std::size_t n = std::size_t(batch) * C * P;
  auto x = uniform(n, -8.f, 8.f, 11);
  const auto b = uniform(n, -8.f, 8.f, 12);
  const auto scale = uniform(C, 0.25f, 2.f, 13), shift = uniform(C, -3.f, 3.f, 14);
  x[7] = std::numeric_limits<float>::quiet_NaN();
  for (int a = 0; a <= 2; ++a) {
    std::vector<float> affine(n), add(n), single(n);
    std::vector<double> want_affine(n), want_add(n), want_single(n);
    for (std::int64_t o = 0; o < std::int64_t(n); ++o) {
      if (a == 0) nchw::affine_at<C, P, 0>(o, x.data(), scale.data(), shift.data(), affine.data());
      if (a == 1) nchw::affine_at<C, P, 1>(o, x.data(), scale.data(), shift.data(), affine.data());
      if (a == 2) nchw::affine_at<C, P, 2>(o, x.data(), scale.data(), shift.data(), affine.data());
      if (a == 0)
        nchw::add_at<0>(o, x.data(), b.data(), add.data()), nchw::activation_at<0>(o, x.data(), single.data());
      if (a == 1)
        nchw::add_at<1>(o, x.data(), b.data(), add.data()), nchw::activation_at<1>(o, x.data(), single.data());
      if (a == 2)
        nchw::add_at<2>(o, x.data(), b.data(), add.data()), nchw::activation_at<2>(o, x.data(), single.data());
    }
    for (int img = 0; img < batch; ++img)
      for (int c = 0; c < C; ++c)
        for (int p = 0; p < P; ++p) {
          const std::size_t i = (std::size_t(img) * C + c) * P + p;
          want_affine[i] = act(a, double(x[i]) * scale[std::size_t(c)] + shift[std::size_t(c)]);
          want_add[i] = act(a, double(x[i]) + b[i]);
          want_single[i] = act(a, x[i]);
        }
    expect_close(affine, want_affine, "affine act " + std::to_string(a));
    expect_close(add, want_add, "add act " + std::to_string(a));
    expect_close(single, want_single, "activation " + std::to_string(a));
    CHECK(std::isnan(affine[7]));
  }
  // A flat value (BatchNorm1d after a dense layer): channels = features, one pixel.
  std::vector<float> flat(std::size_t(batch) * 7);
  const auto fx = uniform(flat.size(), -1.f, 1.f, 15), fs = uniform(7, 0.5f, 2.f, 16), fb = uniform(7, -1.f, 1.f, 17);
  std::vector<double> want_flat(flat.size());
  for (std::int64_t o = 0; o < std::int64_t(flat.size()); ++o)
    nchw::affine_at<7, 1, 0>(o, fx.data(), fs.data(), fb.data(), flat.data());
  for (int img = 0; img < batch; ++img)
    for (int f = 0; f < 7; ++f)
      want_flat[std::size_t(img) * 7 + f] =
          double(fx[std::size_t(img) * 7 + f]) * fs[std::size_t(f)] + fb[std::size_t(f)];
  expect_close(flat, want_flat, "flat affine");

  // Concat of three branches of 2, 5 and 3 channels (SqueezeNet's Fire has two), one slice copy each.
  const int channels[3] = {2, 5, 3};
  std::vector<std::vector<float>> branch;
  for (int k = 0; k < 3; ++k)
    branch.push_back(uniform(std::size_t(batch) * channels[k] * P, -1.f, 1.f, 20u + unsigned(k)));
  constexpr int total = 10;
  std::vector<float> cat(std::size_t(batch) * total * P, -99.f);
  const auto copy = [&]<int Channels, int Offset>(const std::vector<float>& x) {
    for (std::int64_t o = 0; o < std::int64_t(x.size()); ++o)
      nchw::concat_slice_at<total, Channels, Offset, P>(o, x.data(), cat.data());
  };
  copy.template operator()<2, 0>(branch[0]);
  copy.template operator()<5, 2>(branch[1]);
  copy.template operator()<3, 7>(branch[2]);
  std::vector<double> want_cat(cat.size());
  for (int img = 0; img < batch; ++img) {
    int c0 = 0;
    for (int k = 0; k < 3; ++k) {
      for (int c = 0; c < channels[k]; ++c)
        for (int p = 0; p < P; ++p)
          want_cat[(std::size_t(img) * total + c0 + c) * P + p] =
              branch[std::size_t(k)][(std::size_t(img) * channels[k] + c) * P + p];
      c0 += channels[k];
    }
  }
  expect_close(cat, want_cat, "concat");
}
