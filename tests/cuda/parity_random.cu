// tests/cuda/parity_random.cu: exec::cuda against exec::reference on randomised layer shapes. Twelve
// networks are drawn at compile time from a fixed seed (splitmix64): a conv2d with random input and
// output channels, kernel (square or not, 1-5), stride (1-3 per direction), padding, groups (1 or 2) and
// floor rounding, then ReLU, a 2x2/2 max pool when the output allows one, and a dense layer of random
// width. A third of the draws are Winograd-shaped (square 3x3 or 5x5, stride 1, one group), so the
// Winograd kernels see random channel counts, paddings and output sizes too.
// Every network runs in every math, with Winograd forced and with direct convolutions, at a batch of 1 and
// two random batches; each draw is printed, so a failure names its shape.
#define DOCTEST_CONFIG_IMPLEMENT
#include "cuda_test_util.hpp"

#include <cstdint>
#include <random>
#include <type_traits>
#include <utility>

namespace tn = typenet;
using typenet::exec::cuda_math;
using typenet_cuda_test::check_parity;

namespace {

constexpr std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// One drawn layer stack.
struct draw {
  int c = 0, h = 0, w = 0, f = 0, kh = 0, kw = 0, sh = 0, sw = 0, ph = 0, pw = 0, groups = 1, units = 0;
  bool pool = false;
};

constexpr draw make_draw(int index) {
  std::uint64_t state = splitmix(0x7e57'0005ull + static_cast<std::uint64_t>(index));
  auto next = [&state](int lo, int hi) {
    state = splitmix(state);
    return lo + static_cast<int>(state % static_cast<std::uint64_t>(hi - lo + 1));
  };
  draw d;
  const bool winograd_shape = next(0, 2) == 0;  // a third: square 3x3 or 5x5, stride 1, one group
  d.kh = winograd_shape ? 3 + 2 * next(0, 1) : next(1, 5);
  d.kw = winograd_shape || next(0, 3) != 0 ? d.kh : next(1, 5);  // mostly square
  d.sh = winograd_shape || next(0, 1) == 0 ? 1 : next(2, 3);
  d.sw = winograd_shape ? 1 : next(0, 3) == 0 ? next(1, 3) : d.sh;
  d.ph = next(0, d.kh - 1);
  d.pw = next(0, d.kw - 1);
  d.h = next(d.kh, 26);  // at least one output row without padding
  d.w = next(d.kw, 26);
  d.groups = !winograd_shape && next(0, 3) == 0 ? 2 : 1;
  d.c = next(1, 24) * d.groups;
  d.f = next(1, 80) * d.groups;  // up to 160 filters: one or two row tiles
  d.pool = next(0, 1) == 1;
  d.units = next(1, 40);
  return d;
}

template <int I>
struct random_net {
  static constexpr draw d = make_draw(I);
  static constexpr int oh = (d.h + 2 * d.ph - d.kh) / d.sh + 1, ow = (d.w + 2 * d.pw - d.kw) / d.sw + 1;
  using conv = tn::conv2d<d.f, tn::kernel<d.kh, d.kw>, tn::stride<d.sh, d.sw>, tn::pad<d.ph, d.pw>,
                          tn::groups<d.groups>, tn::floor_mode>;
  using pooled =
      tn::network<tn::input<d.c, d.h, d.w>, conv, tn::relu, tn::max_pool<tn::kernel<2>, tn::stride<2>, tn::floor_mode>,
                  tn::flatten, tn::dense<d.units>>;
  using plain = tn::network<tn::input<d.c, d.h, d.w>, conv, tn::relu, tn::flatten, tn::dense<d.units>>;
  using type = std::conditional_t<d.pool && oh >= 2 && ow >= 2, pooled, plain>;
  static constexpr bool winograd = d.sh == 1 && d.sw == 1 && d.groups == 1 && d.kh == d.kw && (d.kh == 3 || d.kh == 5);
};

constexpr int net_count = 12;

template <int I>
void run_one() {
  using R = random_net<I>;
  constexpr draw d = R::d;
  std::printf(
      "draw %2d: input %d x %d x %d, conv2d %d filters %dx%d stride %dx%d pad %dx%d groups %d -> %d x %d%s, "
      "dense %d%s\n",
      I, d.c, d.h, d.w, d.f, d.kh, d.kw, d.sh, d.sw, d.ph, d.pw, d.groups, R::oh, R::ow,
      std::is_same_v<typename R::type, typename R::pooled> ? ", max_pool 2x2/2" : "", d.units,
      R::winograd ? " (Winograd-eligible)" : "");
  std::mt19937_64 g(1000 + I);
  std::uniform_int_distribution<int> batch(2, 9);
  const std::string name = "random_" + std::to_string(I);
  check_parity<typename R::type>(
      name.c_str(), 100 + I, {1, batch(g), batch(g)},
      {cuda_math::fp32, cuda_math::tf32, cuda_math::tf32x3, cuda_math::fp16, cuda_math::bf16});
}

template <std::size_t... I>
constexpr int winograd_draws(std::index_sequence<I...>) {
  return (0 + ... + (random_net<static_cast<int>(I)>::winograd ? 1 : 0));
}
static_assert(winograd_draws(std::make_index_sequence<net_count>{}) >= 2,
              "the seed should give some Winograd-eligible draws; change it if not");

}  // namespace

TEST_CASE("cuda parity: randomised layer shapes") {
  [&]<std::size_t... I>(std::index_sequence<I...>) { (run_one<static_cast<int>(I)>(), ...); }
  (std::make_index_sequence<net_count>{});
}

TYPENET_CUDA_TEST_MAIN
