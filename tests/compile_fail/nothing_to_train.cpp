// Rule nothing_to_train: the only layer is the softmax that training folds into the loss.
// EXPECT: nothing_to_train
// EXPECT-ARGS: nothing_to_train<[^\n]*net ?>
#include <typenet/train.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<10>, tn::softmax> {};
#else
struct net : tn::network<tn::input<10>, tn::dense<10>, tn::softmax> {};
#endif

int main() {
  tn::params<net> p;
  tn::train::trainer<net, tn::exec::reference_t> t(p, 1);
  float in[10] = {};
  std::int64_t label = 0;
  return t.forward_backward(in, &label, 1) > 0 ? 0 : 1;  // a step compiles without further errors
}
