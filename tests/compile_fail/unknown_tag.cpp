// Rule unknown_tag: groups<2> given to a max_pool, which has no groups (layer 1).
// EXPECT: unknown_tag
// EXPECT-ARGS: unknown_tag<1, typenet::max_pool<[^\n]*typenet::groups<2> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<4, 8, 8>, tn::relu, tn::max_pool<tn::kernel<2>, tn::stride<2>, tn::groups<2>>> {};
#else
struct net : tn::network<tn::input<4, 8, 8>, tn::relu, tn::max_pool<tn::kernel<2>, tn::stride<2>>> {};
static_assert(tn::output_shape<net> == tn::shape<4, 4, 4>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
