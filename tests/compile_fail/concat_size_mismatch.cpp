// Rule concat_size_mismatch: a Fire-like module whose 3x3 expansion has no padding, so its output is
// 8 x 6 x 6 while the 1x1 expansion's is 8 x 8 x 8: they cannot be joined along channels. The good twin
// pads the 3x3 convolution by 1, as torchvision's Fire does.
// EXPECT: concat_size_mismatch
// EXPECT-ARGS: concat_size_mismatch<1, typenet::located<typenet::index_path<1, 2>, typenet::concat<[^\n]*typenet::shape<8, 8, 8>, typenet::shape<8, 6, 6> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
constexpr int pad = 0;
#else
constexpr int pad = 1;
#endif

using fire = tn::seq<tn::named<"squeeze", tn::conv2d<4, tn::kernel<1>>>, tn::relu,
                     tn::concat<tn::seq<tn::named<"expand1x1", tn::conv2d<8, tn::kernel<1>>>, tn::relu>,
                                tn::seq<tn::named<"expand3x3", tn::conv2d<8, tn::kernel<3>, tn::pad<pad>>>, tn::relu>>>;

struct net : tn::network<tn::input<3, 8, 8>, tn::conv2d<16, tn::kernel<1>>, fire, tn::flatten, tn::dense<10>> {};

#ifndef TYPENET_SHOULD_FAIL
static_assert(tn::shape_after<net, 1> == tn::shape<16, 8, 8>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
