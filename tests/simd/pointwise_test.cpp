// kernels/simd/pointwise.hpp: the 1x1 convolution as one matrix product over a batch's pixels, against a
// double-precision sum computed here, for every tile width (NB = 1, 2, 3 channel vectors), output channel
// counts that leave a partial block, image sizes that leave a partial tile and a partial work item, several
// images, each epilogue and the residual add. The work is split at arbitrary item boundaries, as threads split it.
//
// Tolerance from the arithmetic: a float sum of C products in any order is within C * u * sum |terms| of
// the exact sum (u = 2^-24); the bias, the residual add and the epilogue add at most 2 more roundings.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <typenet/kernels/simd/pointwise.hpp>

#include "simd_util.hpp"

namespace ks = typenet::kernels::simd;
using typenet::test::unit_roundoff;

namespace {

struct problem {
  int c, f;
  std::int64_t image_pixels;
  int images;
};

/// Calls f(std::integral_constant<int, image_pixels % S>{}): the kernel's Tail argument.
template <int S, class F>
void with_tail(std::int64_t image_pixels, F&& f) {
  ks::static_for<S>([&](auto t) {
    if (image_pixels % S == t) f(t);
  });
}

enum class epi { none, relu, relu6 };

template <int NB, class Epilogue, bool Add>
void check(const problem& pr, epi e, std::uint64_t seed) {
  using K = ks::pointwise_kernel<NB, xsimd::default_arch>;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  const auto c = std::size_t(pr.c), f = std::size_t(pr.f), px = std::size_t(pr.image_pixels) * pr.images;
  std::vector<float> w(f * c), bias(f), in(px * c), res(px * f);
  for (auto* v : {&w, &bias, &in, &res})
    for (float& x : *v) x = 3.f * u(rng);  // sums reach past 6: relu6 clips
  auto packed = typenet::detail::make_aligned_floats(std::int64_t(K::packed_floats(pr.c, pr.f)));
  auto packed_bias = typenet::detail::make_aligned_floats(std::int64_t(K::packed_bias_floats(pr.f)));
  K::pack(w.data(), bias.data(), packed.get(), packed_bias.get(), pr.c, pr.f);
  // A sentinel after the output: a store past F or past the last pixel shows.
  std::vector<float> out(px * f + 64, std::numeric_limits<float>::quiet_NaN());
  const float sentinel = -12345.f;
  for (std::size_t i = px * f; i < out.size(); ++i) out[i] = sentinel;
  const std::int64_t items = K::items(pr.image_pixels, pr.images, pr.f);
  // Three uneven parts, as a thread pool's chunks may fall.
  const std::int64_t cut1 = items / 3, cut2 = std::min(items, cut1 + 1 + items / 2);
  with_tail<K::S>(pr.image_pixels, [&](auto tail) {
    for (auto [b, end] : {std::pair{std::int64_t{0}, cut1}, std::pair{cut1, cut2}, std::pair{cut2, items}})
      K::template run<Epilogue, Add, tail>(packed.get(), packed_bias.get(), in.data(), out.data(), pr.c, pr.f,
                                           pr.image_pixels, pr.images, b, end, Add ? res.data() : nullptr);
  });
  std::size_t bad = 0;
  std::string first;
  for (std::size_t p = 0; p < px; ++p)
    for (std::size_t o = 0; o < f; ++o) {
      double s = bias[o], mag = std::abs(double(bias[o]));
      for (std::size_t k = 0; k < c; ++k) {
        const double t = double(in[p * c + k]) * double(w[o * c + k]);
        s += t;
        mag += std::abs(t);
      }
      if (Add) {
        s += res[p * f + o];
        mag += std::abs(double(res[p * f + o]));
      }
      if (e != epi::none) s = std::max(s, 0.0);
      if (e == epi::relu6) s = std::min(s, 6.0);
      const double tol = (double(pr.c) + 3.0) * unit_roundoff * mag + 1e-30;
      const double got = out[p * f + o];
      if (!(std::abs(got - s) <= tol)) {
        if (bad == 0)
          first = "first mismatch at pixel " + std::to_string(p) + ", channel " + std::to_string(o) + ": " +
                  std::to_string(got) + " vs " + std::to_string(s) + " (tol " + std::to_string(tol) + ")";
        ++bad;
      }
    }
  std::size_t overrun = 0;
  for (std::size_t i = px * f; i < out.size(); ++i) overrun += out[i] != sentinel;
  INFO("NB " << NB << ", C " << pr.c << ", F " << pr.f << ", " << pr.images << " x " << pr.image_pixels
             << " pixels, add " << Add << "; " << first);
  CHECK(bad == 0);
  CHECK(overrun == 0);
}

template <int NB>
void check_all(std::uint64_t seed) {
  // (C, F, pixels per image, images): partial channel blocks, images of 1, 7, 49, 100 and 196 pixels (tails
  // of every kind, runs of several tiles), and several images (runs end at each image).
  const problem problems[] = {{1, 1, 1, 1},   {5, 7, 13, 2},   {3, 16, 8, 1},     {24, 24, 49, 3},   {17, 48, 100, 1},
                              {64, 50, 7, 5}, {33, 96, 97, 2}, {144, 24, 196, 1}, {256, 100, 33, 2}, {40, 64, 49, 1}};
  for (const problem& pr : problems) {
    check<NB, ks::epilogue_none, false>(pr, epi::none, seed++);
    check<NB, ks::epilogue_relu, true>(pr, epi::relu, seed++);
    check<NB, ks::epilogue_relu6, false>(pr, epi::relu6, seed++);
    check<NB, ks::epilogue_relu6, true>(pr, epi::relu6, seed++);
  }
}

}  // namespace

TEST_CASE("pointwise_kernel: 1x1 convolution over flattened pixels, every tile width, tails and epilogues") {
  check_all<1>(100);
  check_all<2>(200);
  check_all<3>(300);
}

TEST_CASE("pointwise_kernel: NaN in one input pixel reaches exactly that pixel's outputs") {
  using K = ks::pointwise_kernel<3, xsimd::default_arch>;
  constexpr int c = 20, f = 48, pixels = 30;
  std::vector<float> w(std::size_t(f) * c, 0.5f), bias(f, 0.f), in(std::size_t(pixels) * c, 1.f);
  in[std::size_t(17) * c + 3] = std::numeric_limits<float>::quiet_NaN();
  auto packed = typenet::detail::make_aligned_floats(std::int64_t(K::packed_floats(c, f)));
  auto packed_bias = typenet::detail::make_aligned_floats(std::int64_t(K::packed_bias_floats(f)));
  K::pack(w.data(), bias.data(), packed.get(), packed_bias.get(), c, f);
  std::vector<float> out(std::size_t(pixels) * f);
  K::run<ks::epilogue_relu6, false, pixels % K::S>(packed.get(), packed_bias.get(), in.data(), out.data(), c, f, pixels,
                                                   1, 0, K::items(pixels, 1, f));
  for (int p = 0; p < pixels; ++p)
    for (int o = 0; o < f; ++o) {
      const float y = out[std::size_t(p) * f + std::size_t(o)];
      if (p == 17)
        CHECK(std::isnan(y));
      else
        CHECK(y == 6.f);  // 20 * 0.5 = 10, clipped
    }
}
