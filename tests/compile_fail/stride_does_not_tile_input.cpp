// Rule stride_does_not_tile_input: DESIGN.md's seed AlexNet with a 224 input instead of 227:
// (224 - 11) / 4 is not whole, so conv1 (layer 0) fails; floor_mode would accept it.
// EXPECT: stride_does_not_tile_input
// EXPECT-ARGS: stride_does_not_tile_input<0, typenet::conv2d<96, typenet::kernel<11[^\n]*typenet::stride<4[^\n]*typenet::shape<3, 224, 224> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
constexpr int side = 224;
#else
constexpr int side = 227;
#endif

// clang-format off
struct alexnet : tn::network<
    tn::input<3, side, side>,
    tn::conv2d<96, tn::kernel<11>, tn::stride<4>>,   tn::relu,     //  0,1:  96 x 55 x 55
    tn::max_pool<tn::kernel<3>, tn::stride<2>>,                     //  2:    96 x 27 x 27
    tn::conv2d<256, tn::kernel<5>, tn::pad<2>>,      tn::relu,     //  3,4: 256 x 27 x 27
    tn::max_pool<tn::kernel<3>, tn::stride<2>>,                     //  5:   256 x 13 x 13
    tn::conv2d<384, tn::kernel<3>, tn::pad<1>>,      tn::relu,     //  6,7: 384 x 13 x 13
    tn::conv2d<384, tn::kernel<3>, tn::pad<1>>,      tn::relu,     //  8,9: 384 x 13 x 13
    tn::conv2d<256, tn::kernel<3>, tn::pad<1>>,      tn::relu,     // 10,11:256 x 13 x 13
    tn::max_pool<tn::kernel<3>, tn::stride<2>>,                     // 12:   256 x  6 x  6
    tn::flatten,                                                    // 13:   9216
    tn::dropout<50>, tn::dense<4096>, tn::relu,                     // 14-16: 4096
    tn::dropout<50>, tn::dense<4096>, tn::relu,                     // 17-19: 4096
    tn::dense<1000>, tn::softmax> {};                               // 20,21: 1000
// clang-format on

// DESIGN.md's assertions; in the bad twin they fail too, but with plain (not typenet:) errors.
static_assert(tn::output_shape<alexnet> == tn::shape<1000>{});
static_assert(tn::shape_after<alexnet, 0> == tn::shape<96, 55, 55>{});
static_assert(tn::param_count<alexnet> == 62'378'344);
static_assert(tn::mac_count<alexnet> == 1'135'256'096);

int main() { return alexnet::is_valid ? 0 : 1; }
