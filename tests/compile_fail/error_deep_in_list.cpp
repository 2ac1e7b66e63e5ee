// An error deep in the list: an LRN (which needs C x H x W) at layer 17 of the seed AlexNet, where the
// activation is a flat 4096-vector. Layers 0-16 pass; only layer 17 reports, and the later faults
// (a conv2d on a flat vector at 20, dense<0> at 22) stay silent.
// EXPECT: needs_spatial_input
// EXPECT-ARGS: needs_spatial_input<17, typenet::lrn<5[^\n]*typenet::shape<4096> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
using layer17 = tn::lrn<5>;
using layer20 = tn::conv2d<10, tn::kernel<3>>;
using layer22 = tn::dense<0>;
#else
using layer17 = tn::dropout<50>;
using layer20 = tn::dense<1000>;
using layer22 = tn::relu;
#endif

// clang-format off
struct alexnet : tn::network<
    tn::input<3, 227, 227>,
    tn::conv2d<96, tn::kernel<11>, tn::stride<4>>, tn::relu, tn::max_pool<tn::kernel<3>, tn::stride<2>>,
    tn::conv2d<256, tn::kernel<5>, tn::pad<2>>, tn::relu, tn::max_pool<tn::kernel<3>, tn::stride<2>>,
    tn::conv2d<384, tn::kernel<3>, tn::pad<1>>, tn::relu,
    tn::conv2d<384, tn::kernel<3>, tn::pad<1>>, tn::relu,
    tn::conv2d<256, tn::kernel<3>, tn::pad<1>>, tn::relu,
    tn::max_pool<tn::kernel<3>, tn::stride<2>>, tn::flatten,
    tn::dropout<50>, tn::dense<4096>, tn::relu,  // 14-16
    layer17, tn::dense<4096>, tn::relu,          // 17-19
    layer20, tn::softmax, layer22> {};           // 20-22
// clang-format on

#ifndef TYPENET_SHOULD_FAIL
static_assert(tn::layer_count<alexnet> == 23);
static_assert(tn::output_shape<alexnet> == tn::shape<1000>{});
static_assert(tn::param_count<alexnet> == 62'378'344);
#endif

int main() { return alexnet::is_valid ? 0 : 1; }
