// Rule input_must_come_first: the layer list does not start with a tn::input.
// EXPECT: input_must_come_first
// EXPECT-ARGS: input_must_come_first<typenet::conv2d<6, typenet::kernel<5
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::conv2d<6, tn::kernel<5>>, tn::relu> {};
#else
struct net : tn::network<tn::input<1, 32, 32>, tn::conv2d<6, tn::kernel<5>>, tn::relu> {};
static_assert(tn::output_shape<net> == tn::shape<6, 28, 28>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
