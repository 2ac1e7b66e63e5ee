// The shape law: for every small input size, kernel, stride, padding and rounding, a reference kernel
// writes exactly the elements of the output shape the layer's rule computes: all of them, and not one
// beyond. The output buffer is sentinel-filled past the end; inputs are sized exactly, so a read past
// them shows up under AddressSanitizer.
#include <doctest/doctest.h>

#include <utility>

#include "reference_util.hpp"

namespace tn = typenet;
namespace ref = tn::kernels::reference;

namespace {

constexpr float sentinel = -12345.5f;  // no kernel below can produce it from inputs in [0.25, 1]
constexpr int margin = 37;

// Fills an output buffer of `expected + margin` floats with the sentinel, runs `kernel` on it, and checks
// that the first `expected` floats were written and the rest were not.
template <class Kernel>
bool writes_exactly(std::int64_t expected, Kernel&& kernel) {
  std::vector<float> out(static_cast<std::size_t>(expected + margin), sentinel);
  kernel(out.data());
  for (std::int64_t i = 0; i < expected; ++i)
    if (out[static_cast<std::size_t>(i)] == sentinel) return false;
  for (std::int64_t i = expected; i < expected + margin; ++i)
    if (out[static_cast<std::size_t>(i)] != sentinel) return false;
  return true;
}

std::vector<float> positive_values(std::int64_t n) {
  std::vector<float> v(static_cast<std::size_t>(n));
  tn::fill_uniform(v, static_cast<std::uint64_t>(n), 0.25f, 1.f);
  return v;
}

}  // namespace

TEST_CASE("law: conv2d and pools write exactly the output shape, for every small geometry") {
  const int batch = 2;
  int checked = 0;
  for (tn::rounding round : {tn::rounding::exact, tn::rounding::floor, tn::rounding::ceil})
    for (int h = 1; h <= 12; ++h)
      for (int w = 1; w <= 12; ++w)
        for (int k = 1; k <= 5; ++k)
          for (int s = 1; s <= 3; ++s)
            for (int p = 0; p <= 2; ++p) {
              const int oh = tn::detail::window_extent(h, k, s, p, round);
              const int ow = tn::detail::window_extent(w, k, s, p, round);
              if (oh <= 0 || ow <= 0) continue;  // the network would not compile
              const std::vector<float> in = positive_values(std::int64_t{batch} * 2 * h * w);
              CAPTURE(h);
              CAPTURE(w);
              CAPTURE(k);
              CAPTURE(s);
              CAPTURE(p);
              CAPTURE(static_cast<int>(round));
              if (2 * p <= k) {  // the pools' padding rule
                const ref::window_geometry g{2, h, w, 2, oh, ow, k, k, s, s, p, p, 1};
                const std::int64_t n = std::int64_t{batch} * 2 * oh * ow;
                CHECK(writes_exactly(n, [&](float* out) { ref::max_pool_plain(g, in.data(), out, batch); }));
                CHECK(writes_exactly(n, [&](float* out) { ref::avg_pool_plain(g, in.data(), out, batch); }));
                ++checked;
              }
              if (round != tn::rounding::ceil) {  // conv2d accepts exact and floor rounding
                const ref::window_geometry g{2, h, w, 4, oh, ow, k, k, s, s, p, p, 2};
                const std::vector<float> weight = positive_values(4 * 1 * k * k);
                const std::vector<float> bias(4, 0.5f);
                const std::int64_t n = std::int64_t{batch} * 4 * oh * ow;
                CHECK(writes_exactly(
                    n, [&](float* out) { ref::conv2d_plain(g, in.data(), out, batch, weight.data(), bias.data()); }));
                ++checked;
              }
            }
  CHECK(checked > 5000);  // the ranges above really were covered
}

TEST_CASE("law: adaptive_avg_pool writes exactly the output shape, for every small size") {
  for (int h = 1; h <= 12; ++h)
    for (int w = 1; w <= 12; ++w)
      for (int oh = 1; oh <= 7; ++oh)
        for (int ow = 1; ow <= 7; ++ow) {
          const std::vector<float> in = positive_values(std::int64_t{3} * h * w);
          CAPTURE(h);
          CAPTURE(w);
          CAPTURE(oh);
          CAPTURE(ow);
          CHECK(writes_exactly(std::int64_t{3} * oh * ow,
                               [&](float* out) { ref::adaptive_avg_pool_plain(3, h, w, oh, ow, in.data(), out, 1); }));
        }
}

namespace {

// The typed path: a network of one layer on input 2 x H x W; its bound layer's output shape (from the
// layer's rule) must be what the typed kernel writes.
template <class Layer, int H, int W>
struct one_layer : tn::network<tn::input<2, H, W>, Layer> {};

template <class Net>
bool typed_writes_exactly() {
  using B = tn::layer_at<Net, 0>;
  tn::params<Net> p;
  tn::init_he(p, 3);
  const int batch = 2;
  const std::vector<float> in = positive_values(batch * B::input::size);
  return writes_exactly(batch * B::output::size,
                        [&](float* out) { ref::forward_layer<B>(in.data(), out, batch, p.data()); });
}

template <int... H>
void typed_sweep(std::integer_sequence<int, H...>) {
  using pool = tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::ceil_mode>;
  using avg = tn::avg_pool<tn::kernel<2>, tn::stride<3>, tn::floor_mode>;
  using conv = tn::conv2d<4, tn::kernel<3>, tn::stride<2>, tn::pad<2>, tn::groups<2>, tn::floor_mode>;
  using adapt = tn::adaptive_avg_pool<3, 2>;
  const bool pools[] = {typed_writes_exactly<one_layer<pool, H + 1, 13 - H>>()...};
  const bool avgs[] = {typed_writes_exactly<one_layer<avg, H + 2, H + 3>>()...};
  const bool convs[] = {typed_writes_exactly<one_layer<conv, H + 1, 12 - H>>()...};
  const bool adapts[] = {typed_writes_exactly<one_layer<adapt, H + 1, H + 1>>()...};
  const bool lrns[] = {typed_writes_exactly<one_layer<tn::lrn<3>, H + 1, 2>>()...};
  for (std::size_t i = 0; i < sizeof...(H); ++i) {
    CAPTURE(i);
    CHECK(pools[i]);
    CHECK(avgs[i]);
    CHECK(convs[i]);
    CHECK(adapts[i]);
    CHECK(lrns[i]);
  }
}

}  // namespace

TEST_CASE("law: typed kernels write exactly their bound layer's output shape") {
  typed_sweep(std::make_integer_sequence<int, 12>{});
}
