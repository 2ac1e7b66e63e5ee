// Rule needs_flat_input: softmax on a C x H x W map (layer 1).
// EXPECT: needs_flat_input
// EXPECT-ARGS: needs_flat_input<1, typenet::softmax, typenet::shape<10, 1, 1> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<64, 7, 7>, tn::conv2d<10, tn::kernel<7>>, tn::softmax> {};
#else
struct net : tn::network<tn::input<64, 7, 7>, tn::conv2d<10, tn::kernel<7>>, tn::flatten, tn::softmax> {};
static_assert(tn::output_shape<net> == tn::shape<10>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
