// Shape law: max_pool with ceil rounding (Caffe), second half of the sweep.
// The sweep and the oracle are described in shape_law_common.hpp.
#include <doctest/doctest.h>

#include "shape_law_common.hpp"

namespace {
template <class K, class S, class P>
using layer = typenet::max_pool<K, S, P, typenet::ceil_mode>;
}  // namespace

TYPENET_SHAPE_LAW_TEST("shape law: max_pool ceil_mode, cases 1120-2239", layer, true, 2, 1120, 1120)
