// Rule non_positive_parameter: stride<0> in a max_pool (layer 2).
// EXPECT: non_positive_parameter
// EXPECT-ARGS: non_positive_parameter<2, typenet::max_pool<typenet::kernel<2[^\n]*typenet::stride<0[^\n]*typenet::shape<4, 8, 8>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<1, 8, 8>, tn::conv2d<4, tn::kernel<3>, tn::pad<1>>, tn::relu,
                         tn::max_pool<tn::kernel<2>, tn::stride<0>>> {};
#else
struct net : tn::network<tn::input<1, 8, 8>, tn::conv2d<4, tn::kernel<3>, tn::pad<1>>, tn::relu,
                         tn::max_pool<tn::kernel<2>, tn::stride<2>>> {};
static_assert(tn::output_shape<net> == tn::shape<4, 4, 4>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
