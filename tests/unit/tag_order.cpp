// Tags are free in order: every permutation of a layer's tags gives the same shapes, counts and name.
#include <doctest/doctest.h>

#include <type_traits>

#include <typenet/typenet.hpp>

namespace tn = typenet;
using tn::kernel, tn::stride, tn::pad, tn::groups;

template <class Layer>
using on_image = tn::network<tn::input<4, 227, 227>, Layer>;

template <class A, class B>
constexpr bool same_rule() {
  using NA = on_image<A>;
  using NB = on_image<B>;
  return tn::output_shape<NA> == tn::output_shape<NB> && tn::param_count<NA> == tn::param_count<NB> &&
         tn::mac_count<NA> == tn::mac_count<NB>;
}

// The example: stride before kernel.
static_assert(same_rule<tn::conv2d<96, stride<4>, kernel<11>>, tn::conv2d<96, kernel<11>, stride<4>>>());
static_assert(tn::output_shape<on_image<tn::conv2d<96, stride<4>, kernel<11>>>> == tn::shape<96, 55, 55>{});
// All 24 orders of four tags.
using k = kernel<11>;
using s = stride<4>;
using p = pad<2>;
using g = groups<2>;
using reference = tn::conv2d<96, k, s, p, g>;
static_assert(
    same_rule<reference, tn::conv2d<96, k, s, g, p>>() && same_rule<reference, tn::conv2d<96, k, p, s, g>>() &&
    same_rule<reference, tn::conv2d<96, k, p, g, s>>() && same_rule<reference, tn::conv2d<96, k, g, s, p>>() &&
    same_rule<reference, tn::conv2d<96, k, g, p, s>>() && same_rule<reference, tn::conv2d<96, s, k, p, g>>() &&
    same_rule<reference, tn::conv2d<96, s, k, g, p>>() && same_rule<reference, tn::conv2d<96, s, p, k, g>>() &&
    same_rule<reference, tn::conv2d<96, s, p, g, k>>() && same_rule<reference, tn::conv2d<96, s, g, k, p>>() &&
    same_rule<reference, tn::conv2d<96, s, g, p, k>>() && same_rule<reference, tn::conv2d<96, p, k, s, g>>() &&
    same_rule<reference, tn::conv2d<96, p, k, g, s>>() && same_rule<reference, tn::conv2d<96, p, s, k, g>>() &&
    same_rule<reference, tn::conv2d<96, p, s, g, k>>() && same_rule<reference, tn::conv2d<96, p, g, k, s>>() &&
    same_rule<reference, tn::conv2d<96, p, g, s, k>>() && same_rule<reference, tn::conv2d<96, g, k, s, p>>() &&
    same_rule<reference, tn::conv2d<96, g, k, p, s>>() && same_rule<reference, tn::conv2d<96, g, s, k, p>>() &&
    same_rule<reference, tn::conv2d<96, g, s, p, k>>() && same_rule<reference, tn::conv2d<96, g, p, k, s>>() &&
    same_rule<reference, tn::conv2d<96, g, p, s, k>>());
// (227 + 4 - 11) / 4 + 1 = 56; weights 96 * (4 / 2) * 121.
static_assert(tn::output_shape<on_image<reference>> == tn::shape<96, 56, 56>{});
static_assert(tn::param_count<on_image<reference>> == 96 * 2 * 121 + 96);
// Pools: rounding tag first or last.
static_assert(
    same_rule<tn::max_pool<tn::ceil_mode, stride<2>, kernel<3>>, tn::max_pool<kernel<3>, stride<2>, tn::ceil_mode>>());
static_assert(tn::output_shape<on_image<tn::max_pool<tn::ceil_mode, stride<2>, kernel<4>>>> ==
              tn::shape<4, 113, 113>{});  // ceil(223 / 2) + 1 = 113; the 113th window starts at 224 < 227

TEST_CASE("tags: defaults are stride 1, pad 0, groups 1, exact rounding") {
  using c = tn::conv2d<8, kernel<3>>;
  CHECK(c::stride_h == 1);
  CHECK(c::stride_w == 1);
  CHECK(c::pad_h == 0);
  CHECK(c::pad_w == 0);
  CHECK(c::group_count == 1);
  CHECK(c::round == tn::rounding::exact);
  // Permuted tags give the same name (the name lists the values, not the order written).
  CHECK(tn::conv2d<96, stride<4>, kernel<11>>::name() == tn::conv2d<96, kernel<11>, stride<4>>::name());
  CHECK(tn::conv2d<96, g, p, s, k>::name() == "conv2d 96, kernel 11x11, stride 4, pad 2, groups 2");
}
