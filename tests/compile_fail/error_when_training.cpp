// A network that breaks one of its own rules (a conv2d without a kernel, layer 0) reports that rule once when
// it is trained, with every trainer: training's own rules (nothing_to_train, logits_not_flat) stay silent,
// and so does the training program's code (a step is compiled here, not only the constructor).
// EXPECT: missing_kernel
// EXPECT-ARGS: missing_kernel<0, typenet::conv2d<4 ?> ?>
#include <typenet/train.hpp>
#include <typenet/train/elementwise.hpp>
#include <typenet/train/simd.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
using first = tn::conv2d<4>;
#else
using first = tn::conv2d<4, tn::kernel<3>>;
#endif
struct net : tn::network<tn::input<3, 8, 8>, first, tn::relu, tn::flatten, tn::dense<3>> {};

template <class Trainer>
double step(Trainer& t) {
  float in[3 * 8 * 8] = {};
  std::int64_t label = 0;
  return t.forward_backward(in, &label, 1);
}

int main() {
  tn::params<net> p;
  tn::train::trainer<net, tn::exec::reference_t> reference(p, 1);
  tn::train::trainer<net, tn::exec::simd<>> simd(p, 1);
  tn::train::detail::elementwise_program<net, tn::train::detail::host_executor<>> elementwise(p, 1, {});
  return step(reference) + step(simd) + step(elementwise) > 0 ? 0 : 1;
}
