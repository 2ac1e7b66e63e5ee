// Rule groups_do_not_divide_channels: groups<2> on 3 input channels (layer 0).
// EXPECT: groups_do_not_divide_channels
// EXPECT-ARGS: groups_do_not_divide_channels<0, typenet::conv2d<96,[^\n]*typenet::groups<2> ?>, typenet::shape<3, 227, 227> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<3, 227, 227>, tn::conv2d<96, tn::kernel<11>, tn::stride<4>, tn::groups<2>>> {};
#else
struct net : tn::network<tn::input<3, 227, 227>, tn::conv2d<96, tn::kernel<11>, tn::stride<4>, tn::groups<3>>> {};
static_assert(tn::param_count<net> == 96 * 1 * 11 * 11 + 96);
#endif

int main() { return net::is_valid ? 0 : 1; }
