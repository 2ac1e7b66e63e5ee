// Rule kernel_larger_than_input: pooling a 2 x 2 map with a 3 x 3 window (layer 5).
// EXPECT: kernel_larger_than_input
// EXPECT-ARGS: kernel_larger_than_input<5, typenet::max_pool<typenet::kernel<3[^\n]*typenet::shape<16, 2, 2> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net
    : tn::network<tn::input<3, 8, 8>, tn::conv2d<16, tn::kernel<3>, tn::pad<1>>, tn::relu,
                  tn::max_pool<tn::kernel<2>, tn::stride<2>>, tn::conv2d<16, tn::kernel<3>>, tn::relu,  // 16 x 2 x 2
                  tn::max_pool<tn::kernel<3>, tn::stride<2>>> {};
#else
struct net
    : tn::network<tn::input<3, 8, 8>, tn::conv2d<16, tn::kernel<3>, tn::pad<1>>, tn::relu,
                  tn::max_pool<tn::kernel<2>, tn::stride<2>>, tn::conv2d<16, tn::kernel<3>>, tn::relu,  // 16 x 2 x 2
                  tn::max_pool<tn::kernel<2>, tn::stride<2>>> {};
static_assert(tn::output_shape<net> == tn::shape<16, 1, 1>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
