// Rule no_reference_kernel: a layer of one's own without its exec::reference kernel.
// EXPECT: no_reference_kernel
// EXPECT-ARGS: no_reference_kernel<mine::halve, typenet::shape<8 ?>
#ifdef TYPENET_SHOULD_FAIL
#define HALVE_WITHOUT_FORWARD
#endif
#include "../halve_layer.hpp"
namespace tn = typenet;

struct net : tn::network<tn::input<8>, tn::dense<8>, mine::halve> {};

int main() {
  tn::params<net> p;
  tn::model<net, tn::exec::reference_t> m(p, 1);
  float in[8] = {}, out[8];
  m.forward(in, out, 1);
  return out[0] == 0.f ? 0 : 1;
}
