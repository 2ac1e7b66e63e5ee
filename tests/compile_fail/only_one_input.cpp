// Rule only_one_input: a second tn::input inside the list (layer 2 here).
// EXPECT: only_one_input
// EXPECT-ARGS: only_one_input<2, typenet::input<3, 16, 16> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<3, 16, 16>, tn::conv2d<8, tn::kernel<3>, tn::pad<1>>, tn::relu, tn::input<3, 16, 16>,
                         tn::flatten> {};
#else
struct net : tn::network<tn::input<3, 16, 16>, tn::conv2d<8, tn::kernel<3>, tn::pad<1>>, tn::relu, tn::flatten> {};
static_assert(tn::output_shape<net> == tn::shape<8 * 16 * 16>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
