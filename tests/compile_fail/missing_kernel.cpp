// Rule missing_kernel: a conv2d with a stride but no kernel (layer 0).
// EXPECT: missing_kernel
// EXPECT-ARGS: missing_kernel<0, typenet::conv2d<32, typenet::stride<2
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<3, 9, 9>, tn::conv2d<32, tn::stride<2>>> {};
#else
struct net : tn::network<tn::input<3, 9, 9>, tn::conv2d<32, tn::stride<2>, tn::kernel<3>>> {};
static_assert(tn::output_shape<net> == tn::shape<32, 4, 4>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
