// Rule unknown_tag: ceil_mode is a pooling rounding (Caffe); conv2d accepts only floor_mode.
// EXPECT: unknown_tag
// EXPECT-ARGS: unknown_tag<0, typenet::conv2d<8,[^\n]*typenet::ceil_mode
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<3, 10, 10>, tn::conv2d<8, tn::kernel<3>, tn::stride<2>, tn::ceil_mode>> {};
#else
struct net : tn::network<tn::input<3, 10, 10>, tn::conv2d<8, tn::kernel<3>, tn::stride<2>, tn::floor_mode>> {};
static_assert(tn::output_shape<net> == tn::shape<8, 4, 4>{});  // floor((10 - 3) / 2) + 1
#endif

int main() { return net::is_valid ? 0 : 1; }
