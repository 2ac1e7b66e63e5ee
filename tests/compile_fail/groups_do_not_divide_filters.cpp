// Rule groups_do_not_divide_channels: groups<4> divides the 96 input channels but not 258 filters (layer 2).
// EXPECT: groups_do_not_divide_channels
// EXPECT-ARGS: groups_do_not_divide_channels<2, typenet::conv2d<258,[^\n]*typenet::shape<96, 27, 27> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<96, 27, 27>, tn::relu, tn::relu,
                         tn::conv2d<258, tn::kernel<5>, tn::pad<2>, tn::groups<4>>> {};
#else
struct net : tn::network<tn::input<96, 27, 27>, tn::relu, tn::relu,
                         tn::conv2d<256, tn::kernel<5>, tn::pad<2>, tn::groups<4>>> {};
static_assert(tn::param_count<net> == 256 * 24 * 5 * 5 + 256);
#endif

int main() { return net::is_valid ? 0 : 1; }
