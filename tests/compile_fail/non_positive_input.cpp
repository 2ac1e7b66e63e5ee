// Rule non_positive_parameter: an input dimension of 0; the input is reported as layer -1.
// EXPECT: non_positive_parameter
// EXPECT-ARGS: non_positive_parameter<-1, typenet::input<3, 0, 32>, typenet::shape<3, 0, 32> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<3, 0, 32>, tn::conv2d<8, tn::kernel<3>>> {};
#else
struct net : tn::network<tn::input<3, 3, 32>, tn::conv2d<8, tn::kernel<3>>> {};
static_assert(tn::output_shape<net> == tn::shape<8, 1, 30>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
