// What a user's translation unit costs, level 1 of 3 (docs/compile-time.md): torchvision's ResNet-50
// (zoo::resnet50, from <typenet/zoo/resnet.hpp>), declared, with a few queries (param_count, output_shape,
// describe). bench/compile_time/table.sh times it.
#include <typenet/zoo/resnet.hpp>

#include <cstdio>

namespace tn = typenet;
using net = tn::zoo::resnet50;

static_assert(tn::param_count<net> == 25'557'032);
static_assert(tn::output_shape<net> == tn::shape<1000>{});

int main() { std::fputs(tn::describe<net>().c_str(), stdout); }
