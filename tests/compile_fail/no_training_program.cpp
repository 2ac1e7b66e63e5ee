// Rule no_training_program: a policy without a training program.
// EXPECT: no_training_program
// EXPECT-ARGS: no_training_program<[^\n]*my_policy ?>
#include <typenet/train.hpp>
namespace tn = typenet;

struct net : tn::network<tn::input<4>, tn::dense<3>> {};
struct my_policy {};

#ifdef TYPENET_SHOULD_FAIL
using trainer = tn::train::trainer<net, my_policy>;
#else
using trainer = tn::train::trainer<net, tn::exec::reference_t>;
#endif

int main() {
  trainer* t = nullptr;
  return sizeof(trainer) > 0 && t == nullptr ? 0 : 1;
}
