// Rule non_positive_parameter: kernel<0> in a conv2d (layer 0).
// EXPECT: non_positive_parameter
// EXPECT-ARGS: non_positive_parameter<0, typenet::conv2d<8, typenet::kernel<0[^\n]*typenet::shape<3, 32, 32>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<3, 32, 32>, tn::conv2d<8, tn::kernel<0>>, tn::relu> {};
#else
struct net : tn::network<tn::input<3, 32, 32>, tn::conv2d<8, tn::kernel<1>>, tn::relu> {};
static_assert(tn::output_shape<net> == tn::shape<8, 32, 32>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
