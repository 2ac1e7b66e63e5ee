// Rule input_rank: tn::input with two dimensions (neither C, H, W nor N).
// EXPECT: input_rank
// EXPECT-ARGS: input_rank<typenet::input<224, 224> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<224, 224>, tn::conv2d<8, tn::kernel<3>>> {};
#else
struct net : tn::network<tn::input<1, 224, 224>, tn::conv2d<8, tn::kernel<3>>> {};
static_assert(tn::output_shape<net> == tn::shape<8, 222, 222>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
