// Shape law: conv2d with exact rounding (the default), first half of the sweep.
// The sweep and the oracle are described in shape_law_common.hpp.
#include <doctest/doctest.h>

#include "shape_law_common.hpp"

namespace {
template <class K, class S, class P>
using layer = typenet::conv2d<3, K, S, P>;
}  // namespace

TYPENET_SHAPE_LAW_TEST("shape law: conv2d exact, cases 0-1119", layer, false, 3, 0, 1120)
