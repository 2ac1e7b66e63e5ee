// Rule logits_not_flat: training a network whose output is a C x H x W map, not class scores.
// EXPECT: logits_not_flat
// EXPECT-ARGS: logits_not_flat<[^\n]*typenet::shape<10, 2, 2> ?>
#include <typenet/train.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<3, 4, 4>, tn::conv2d<10, tn::kernel<3>>> {};
#else
struct net : tn::network<tn::input<3, 4, 4>, tn::conv2d<10, tn::kernel<3>>, tn::flatten, tn::dense<10>> {};
#endif

int main() {
  tn::params<net> p;
  tn::train::trainer<net, tn::exec::reference_t> t(p, 1);
  float in[3 * 4 * 4] = {};
  std::int64_t label = 0;
  return t.forward_backward(in, &label, 1) > 0 ? 0 : 1;  // a step compiles without further errors
}
