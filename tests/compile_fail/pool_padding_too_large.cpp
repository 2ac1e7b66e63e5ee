// Rule pool_padding_too_large: pad 2 on a 3 x 3 pooling window (at most 1 allowed), layer 1.
// EXPECT: pool_padding_too_large
// EXPECT-ARGS: pool_padding_too_large<1, typenet::avg_pool<[^\n]*typenet::pad<2[^\n]*typenet::shape<8, 16, 16> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<8, 16, 16>, tn::relu,
                         tn::avg_pool<tn::kernel<3>, tn::stride<2>, tn::pad<2>, tn::floor_mode>> {};
#else
struct net : tn::network<tn::input<8, 16, 16>, tn::relu,
                         tn::avg_pool<tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::floor_mode>> {};
static_assert(tn::output_shape<net> == tn::shape<8, 8, 8>{});  // floor((16 + 2 - 3) / 2) + 1
#endif

int main() { return net::is_valid ? 0 : 1; }
