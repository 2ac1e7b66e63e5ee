// What a user's translation unit costs, level 1 of 3 (docs/compile-time.md): torchvision's VGG-11 (declared as
// a user would, in vgg11.hpp next to this file), with a few queries (param_count, output_shape, describe).
// bench/compile_time/table.sh times it.
#include "vgg11.hpp"

#include <cstdio>

namespace tn = typenet;
using net = vgg::vgg11;

static_assert(tn::param_count<net> == 132'863'336);
static_assert(tn::output_shape<net> == tn::shape<1000>{});

int main() { std::fputs(tn::describe<net>().c_str(), stdout); }
