// tests/unit/shape_law_common.hpp: the compile-time sweep shared by the shape_law_*.cpp tests.
//
// Every (kernel 1-7, stride 1-4, pad 0-3, input 1-40) tuple is checked once, as the height or the width
// of a windowed layer applied to a 2 x H x W input: its rule (error type and output shape) is compared
// with the brute-force count_windows. Case i takes tuple i for the height and tuple 4479 - i for the width
// (kernel<K, 8-K>, stride<S, 5-S>, pad<P, 3-P>, input H x (41-H)), so cases 0..2239 cover all 4480 tuples
// and height and width always differ, which would expose a swap. For valid cases the layer is also bound
// in a network and shape_after / output_shape are compared. The results are computed at compile time
// into an array, in parts of 1120 cases per translation unit (about 3 s and 350 MB with g++ -O2); the
// doctest cases report failures case by case.
#pragma once
#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

#include <typenet/typenet.hpp>

#include "window_oracle.hpp"

namespace typenet_test {

namespace tn = typenet;

inline constexpr int sweep_tuples = 7 * 4 * 4 * 40;   // kernels x strides x pads x inputs
inline constexpr int sweep_cases = sweep_tuples / 2;  // each case checks two tuples

struct case_params {
  int k, s, p, in;
  int kw, sw, pw, in_w;
};

constexpr case_params case_at(std::size_t i) {
  const int in = static_cast<int>(i % 40) + 1;
  const int p = static_cast<int>(i / 40 % 4);
  const int s = static_cast<int>(i / 160 % 4) + 1;
  const int k = static_cast<int>(i / 640) + 1;
  return {k, s, p, in, 8 - k, 5 - s, 3 - p, 41 - in};
}

/// The rule that a windowed layer must report for the given sizes, or void.
template <bool IsPool, int IH, int IW, class Layer, class In>
using expected_error_t = std::conditional_t<
    IsPool && (2 * Layer::pad_h > Layer::kernel_h || 2 * Layer::pad_w > Layer::kernel_w),
    tn::diag::pool_padding_too_large<0, Layer, In>,
    std::conditional_t<
        (IH == -1 || IW == -1), tn::diag::kernel_larger_than_input<0, Layer, In>,
        std::conditional_t<(IH == -2 || IW == -2), tn::diag::stride_does_not_tile_input<0, Layer, In>, void>>>;

/// One case: 1 when typenet agrees with the oracle, 0 otherwise.
template <template <class, class, class> class Layer, bool IsPool, int Filters, std::size_t I>
constexpr int check_case() {
  constexpr case_params c = case_at(I);
  using L = Layer<tn::kernel<c.k, c.kw>, tn::stride<c.s, c.sw>, tn::pad<c.p, c.pw>>;
  using in = tn::shape<2, c.in, c.in_w>;
  using rule = typename L::template at<0, in>;
  constexpr tn::rounding mode = L::round;
  constexpr int oh = count_windows(c.in, c.k, c.s, c.p, mode);
  constexpr int ow = count_windows(c.in_w, c.kw, c.sw, c.pw, mode);
  // detail::window_extent is the library's formula; it must give the oracle's numbers (error codes too).
  constexpr bool extent_ok = tn::detail::window_extent(c.in, c.k, c.s, c.p, mode) == oh &&
                             tn::detail::window_extent(c.in_w, c.kw, c.sw, c.pw, mode) == ow;
  using expected = expected_error_t<IsPool, oh, ow, L, in>;
  if constexpr (!std::is_same_v<typename rule::error, expected>) {
    return 0;
  } else if constexpr (std::is_void_v<expected>) {
    using net = tn::network<tn::input<2, c.in, c.in_w>, L>;
    constexpr bool layer_ok = std::is_same_v<typename rule::output, tn::shape<Filters, oh, ow>>;
    constexpr bool net_ok = tn::shape_after<net, 0> == tn::shape<Filters, oh, ow>{} &&
                            tn::output_shape<net> == tn::shape<Filters, oh, ow>{};
    return extent_ok && layer_ok && net_ok ? 1 : 0;
  } else {
    // The oracle's ceil walk assumes pad <= kernel / 2, which pools enforce; beyond it, skip the extents.
    constexpr bool pad_rule = IsPool && (2 * c.p > c.k || 2 * c.pw > c.kw);
    return extent_ok || (pad_rule && mode == tn::rounding::ceil) ? 1 : 0;
  }
}

/// Results for the cases [Begin, Begin + Count) of the sweep.
template <template <class, class, class> class Layer, bool IsPool, int Filters, std::size_t Begin, std::size_t Count>
struct sweep_part {
  template <std::size_t... I>
  static constexpr std::array<int, Count> run(std::index_sequence<I...>) {
    return {check_case<Layer, IsPool, Filters, Begin + I>()...};
  }
  static constexpr std::array<int, Count> results = run(std::make_index_sequence<Count>{});
};

}  // namespace typenet_test

/// Defines a doctest case that reports the cases [Begin, Begin + Count) of a sweep, one CHECK each.
#define TYPENET_SHAPE_LAW_TEST(title, Layer, IsPool, Filters, Begin, Count)                                           \
  TEST_CASE(title) {                                                                                                  \
    using part = ::typenet_test::sweep_part<Layer, IsPool, Filters, Begin, Count>;                                    \
    for (std::size_t i = 0; i < part::results.size(); ++i) {                                                          \
      const auto c = ::typenet_test::case_at(Begin + i);                                                              \
      INFO("case " << Begin + i << ": kernel " << c.k << "x" << c.kw << ", stride " << c.s << "x" << c.sw << ", pad " \
                   << c.p << "x" << c.pw << ", input " << c.in << "x" << c.in_w);                                     \
      CHECK(part::results[i] == 1);                                                                                   \
    }                                                                                                                 \
  }
