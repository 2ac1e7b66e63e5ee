// What a user's translation unit costs, level 1 of 3 (docs/compile-time.md): the seed AlexNet
// (zoo::seed_alexnet, from <typenet/zoo/alexnet.hpp>), declared, with a few
// queries (param_count, output_shape, describe). bench/compile_time/table.sh times it.
#include <typenet/zoo/alexnet.hpp>

#include <cstdio>

namespace tn = typenet;
using net = tn::zoo::seed_alexnet;

static_assert(tn::param_count<net> == 62'378'344);
static_assert(tn::output_shape<net> == tn::shape<1000>{});

int main() { std::fputs(tn::describe<net>().c_str(), stdout); }
