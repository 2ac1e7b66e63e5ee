// Rule repeated_tag: floor_mode and ceil_mode are one tag (the rounding), so giving both is a repeat.
// EXPECT: repeated_tag
// EXPECT-ARGS: repeated_tag<1, typenet::max_pool<[^\n]*typenet::floor_mode
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<2, 7, 7>, tn::relu,
                         tn::max_pool<tn::kernel<2>, tn::stride<2>, tn::floor_mode, tn::ceil_mode>> {};
#else
struct net : tn::network<tn::input<2, 7, 7>, tn::relu, tn::max_pool<tn::kernel<2>, tn::stride<2>, tn::ceil_mode>> {};
static_assert(tn::output_shape<net> == tn::shape<2, 4, 4>{});  // ceil((7 - 2) / 2) + 1
#endif

int main() { return net::is_valid ? 0 : 1; }
