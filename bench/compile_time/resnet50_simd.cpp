// The graph network compile-time budget: a translation unit that declares torchvision's ResNet-50 and runs
// it with exec::simd (the fused op list of exec/simd/graph.hpp: one specialised kernel per distinct
// convolution shape), plus the compile-time queries. See docs/compile-time.md for what it costs.
#include <typenet/exec/simd.hpp>
#include <typenet/zoo/resnet.hpp>

#include <cstdio>
#include <vector>

namespace tn = typenet;
using net = tn::zoo::resnet50;

static_assert(tn::param_count<net> == 25'557'032);
static_assert(tn::output_shape<net> == tn::shape<1000>{});

int main() {
  tn::params<net> p;
  tn::init_he(p, 1);
  tn::model<net, tn::exec::simd<>> m(p, 1);
  std::vector<float> x(3 * 224 * 224, 0.5f), y(1000);
  m.forward(x, y, 1);
  std::printf("%g %lld\n", static_cast<double>(y[0]), static_cast<long long>(tn::peak_activation_bytes<net>));
}
