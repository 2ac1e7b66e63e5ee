// Shape law for detail::window_extent, the formula every windowed layer uses: over every input 1-40,
// kernel 1-7, stride 1-4, pad 0-3 and each rounding, it must equal the window-walking oracle of
// window_oracle.hpp. (The oracle was also checked against PyTorch's max_pool2d, floor and ceil modes, for
// every tuple with pad <= kernel / 2: they agree except where the kernel is larger than the padded
// input, which PyTorch's ceil mode accepts with one output and typenet rejects as
// kernel_larger_than_input.)
#include <doctest/doctest.h>

#include <typenet/layers/tags.hpp>

#include "window_oracle.hpp"

namespace tn = typenet;
using typenet_test::count_windows;

// Hand-derived values, checked at compile time.
static_assert(tn::detail::window_extent(227, 11, 4, 0, tn::rounding::exact) == 55);  // (227 - 11) / 4 + 1
static_assert(tn::detail::window_extent(224, 11, 4, 0, tn::rounding::exact) == -2);  // 213 / 4 is not whole
static_assert(tn::detail::window_extent(224, 11, 4, 2, tn::rounding::floor) == 55);  // floor(217 / 4) + 1
static_assert(tn::detail::window_extent(55, 3, 2, 0, tn::rounding::ceil) == 27);     // ceil(52 / 2) + 1
static_assert(tn::detail::window_extent(13, 3, 2, 0, tn::rounding::ceil) == 6);      // ceil(10 / 2) + 1
static_assert(tn::detail::window_extent(6, 3, 2, 0, tn::rounding::ceil) == 3);       // ceil(3 / 2) + 1
static_assert(tn::detail::window_extent(6, 3, 2, 0, tn::rounding::floor) == 2);      // floor(3 / 2) + 1
static_assert(tn::detail::window_extent(5, 2, 2, 1, tn::rounding::ceil) ==
              3);  // 4 windows, the last starts in the right pad
static_assert(tn::detail::window_extent(2, 3, 2, 0, tn::rounding::exact) == -1);  // 3 x 3 on 2 x 2
static_assert(tn::detail::window_extent(2, 3, 1, 1, tn::rounding::exact) == 2);   // padded to 4
// The oracle on the same values.
static_assert(count_windows(227, 11, 4, 0, tn::rounding::exact) == 55);
static_assert(count_windows(5, 2, 2, 1, tn::rounding::ceil) == 3);
static_assert(count_windows(2, 3, 2, 0, tn::rounding::floor) == -1);

TEST_CASE("shape law: window_extent equals the window-walking oracle for every small size") {
  const tn::rounding modes[] = {tn::rounding::exact, tn::rounding::floor, tn::rounding::ceil};
  int compared = 0, valid = 0;
  for (tn::rounding mode : modes)
    for (int k = 1; k <= 7; ++k)
      for (int s = 1; s <= 4; ++s)
        for (int p = 0; p <= 3; ++p)
          for (int in = 1; in <= 40; ++in) {
            // The oracle's ceil walk assumes pad <= kernel / 2 (which the pools enforce; conv2d has no ceil).
            if (mode == tn::rounding::ceil && 2 * p > k) continue;
            const int expected = count_windows(in, k, s, p, mode);
            INFO("mode " << int(mode) << ", input " << in << ", kernel " << k << ", stride " << s << ", pad " << p);
            CHECK(tn::detail::window_extent(in, k, s, p, mode) == expected);
            ++compared;
            valid += expected > 0;
          }
  CHECK(compared == 2 * 4480 + 3040);  // ceil keeps pad 0 (all k), pad 1 (k >= 2), 2 (k >= 4), 3 (k >= 6)
  CHECK(valid > 0);
}

TEST_CASE("shape law: output sizes follow the closed forms on the valid cases") {
  // A second, arithmetic statement of the rules: exact means span % s == 0; floor is span / s + 1; ceil is
  // ceil(span / s) + 1, less one if that last window would start at or beyond in + p.
  for (int k = 1; k <= 7; ++k)
    for (int s = 1; s <= 4; ++s)
      for (int p = 0; p <= 3; ++p)
        for (int in = 1; in <= 40; ++in) {
          const int span = in + 2 * p - k;
          if (span < 0) continue;
          INFO("input " << in << ", kernel " << k << ", stride " << s << ", pad " << p);
          CHECK(count_windows(in, k, s, p, tn::rounding::floor) == span / s + 1);
          CHECK(count_windows(in, k, s, p, tn::rounding::exact) == (span % s == 0 ? span / s + 1 : -2));
          if (2 * p <= k) {
            int ceil_out = (span + s - 1) / s + 1;
            if ((ceil_out - 1) * s >= in + p) --ceil_out;
            CHECK(count_windows(in, k, s, p, tn::rounding::ceil) == ceil_out);
          }
        }
}
