// Rule no_backward_pass: training a network that holds a layer of one's own without its backward pass.
// EXPECT: no_backward_pass
// EXPECT-ARGS: no_backward_pass<mine::halve, typenet::shape<8 ?>
#ifdef TYPENET_SHOULD_FAIL
#define HALVE_WITHOUT_BACKWARD
#endif
#include "../halve_layer.hpp"
namespace tn = typenet;

struct net : tn::network<tn::input<8>, tn::dense<8>, mine::halve, tn::dense<3>> {};

int main() {
  tn::params<net> p;
  tn::train::trainer<net, tn::exec::reference_t> t(p, 1);
  float in[8] = {};
  std::int64_t label = 0;
  return t.forward_backward(in, &label, 1) > 0 ? 0 : 1;
}
