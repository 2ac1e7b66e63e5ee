// Rule needs_spatial_input: a conv2d after flatten (layer 2 sees a flat vector of 4*6*6 = 144).
// EXPECT: needs_spatial_input
// EXPECT-ARGS: needs_spatial_input<2, typenet::conv2d<8, typenet::kernel<3[^\n]*typenet::shape<144> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<4, 6, 6>, tn::relu, tn::flatten, tn::conv2d<8, tn::kernel<3>>> {};
#else
struct net : tn::network<tn::input<4, 6, 6>, tn::relu, tn::conv2d<8, tn::kernel<3>>, tn::flatten> {};
static_assert(tn::output_shape<net> == tn::shape<8 * 4 * 4>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
