// Rule repeated_tag: stride given twice to one conv2d (layer 0); the first of the pair is named.
// EXPECT: repeated_tag
// EXPECT-ARGS: repeated_tag<0, typenet::conv2d<96[^\n]*typenet::stride<4[^\n]*typenet::stride<2
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<3, 227, 227>, tn::conv2d<96, tn::stride<4>, tn::kernel<11>, tn::stride<2>>> {};
#else
struct net : tn::network<tn::input<3, 227, 227>, tn::conv2d<96, tn::stride<4>, tn::kernel<11>>> {};
static_assert(tn::output_shape<net> == tn::shape<96, 55, 55>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
