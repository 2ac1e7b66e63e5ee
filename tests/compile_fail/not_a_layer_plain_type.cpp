// Rule not_a_layer: an arbitrary type (int) in the list, deep inside it (layer 3).
// EXPECT: not_a_layer
// EXPECT-ARGS: not_a_layer<3, int>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<100>, tn::dense<50>, tn::relu, tn::dense<10>, int> {};
#else
struct net : tn::network<tn::input<100>, tn::dense<50>, tn::relu, tn::dense<10>, tn::softmax> {};
static_assert(tn::param_count<net> == 100 * 50 + 50 + 50 * 10 + 10);
#endif

int main() { return net::is_valid ? 0 : 1; }
