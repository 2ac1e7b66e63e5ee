// Rule kernel_larger_than_input: a 5 x 5 conv2d on a 4 x 4 input; pad<1> would make it fit.
// EXPECT: kernel_larger_than_input
// EXPECT-ARGS: kernel_larger_than_input<0, typenet::conv2d<2, typenet::kernel<5[^\n]*typenet::shape<1, 4, 4> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<1, 4, 4>, tn::conv2d<2, tn::kernel<5>>> {};
#else
struct net : tn::network<tn::input<1, 4, 4>, tn::conv2d<2, tn::kernel<5>, tn::pad<1>>> {};
static_assert(tn::output_shape<net> == tn::shape<2, 2, 2>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
