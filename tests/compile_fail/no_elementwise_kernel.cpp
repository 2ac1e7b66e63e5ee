// Rule no_elementwise_kernel: exec::cuda's training program (here on its host executor, the same code as in
// tn::train::trainer<Net, tn::exec::cuda>) for a network that holds a layer of one's own. The layer has
// its reference kernel and backward pass, so exec::reference_t trains it (the good twin), but no functions
// of one element.
// EXPECT: no_elementwise_kernel
// EXPECT-ARGS: no_elementwise_kernel<mine::halve, typenet::shape<8 ?>
#include <typenet/train/elementwise.hpp>

#include "../halve_layer.hpp"
namespace tn = typenet;

struct net : tn::network<tn::input<8>, tn::dense<8>, mine::halve, tn::dense<3>> {};

int main() {
  tn::params<net> p;
  float in[8] = {};
  std::int64_t label = 0;
#ifdef TYPENET_SHOULD_FAIL
  tn::train::detail::elementwise_program<net, tn::train::detail::host_executor<>> t(p, 1, {});
#else
  tn::train::trainer<net, tn::exec::reference_t> t(p, 1);
#endif
  return t.forward_backward(in, &label, 1) > 0 ? 0 : 1;
}
