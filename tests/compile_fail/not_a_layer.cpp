// Rule not_a_layer: a tag (here tn::stride<2>) written as a list entry instead of inside the layer.
// EXPECT: not_a_layer
// EXPECT-ARGS: not_a_layer<1, typenet::stride<2
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<3, 32, 32>, tn::conv2d<16, tn::kernel<3>>, tn::stride<2>, tn::relu> {};
#else
struct net : tn::network<tn::input<3, 32, 32>, tn::conv2d<16, tn::kernel<3>, tn::stride<2>, tn::floor_mode>, tn::relu> {
};
static_assert(tn::output_shape<net> == tn::shape<16, 15, 15>{});  // floor((32 - 3) / 2) + 1
#endif

int main() { return net::is_valid ? 0 : 1; }
