// What a user's translation unit costs, level 3 of 3 (docs/compile-time.md): the seed AlexNet
// (zoo::seed_alexnet, from <typenet/zoo/alexnet.hpp>), declared, queried and
// run with exec::simd<> (no exec::reference run). bench/compile_time/table.sh times it.
#include <typenet/exec/simd.hpp>
#include <typenet/zoo/alexnet.hpp>

#include <cstdio>
#include <vector>

namespace tn = typenet;
using net = tn::zoo::seed_alexnet;

static_assert(tn::param_count<net> == 62'378'344);
static_assert(tn::output_shape<net> == tn::shape<1000>{});

int main() {
  std::fputs(tn::describe<net>().c_str(), stdout);
  tn::params<net> p;
  tn::init_he(p, 1);
  tn::model<net, tn::exec::simd<>> m(p, 1);
  std::vector<float> x(net::input_shape::size, 0.5f), y(net::output_shape::size);
  m.forward(x, y, 1);
  std::printf("%g\n", static_cast<double>(y[0]));
}
