// A rule broken deep inside nested blocks reports once, with the top-level index and the layer's index
// path: a dense layer (which needs a flat input) as the second layer of the body of the residual block
// at position 1 of the seq at top-level entry 1 (path 1.1.0.1). The later faults (a conv2d on a flat
// vector in the shortcut, dense<0> after the block) stay silent.
// EXPECT: needs_flat_input
// EXPECT-ARGS: needs_flat_input<1, typenet::located<typenet::index_path<1, 1, 0, 1>, typenet::dense<4> ?>, typenet::shape<4, 4, 4> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
using inner = tn::dense<4>;
using shortcut = tn::seq<tn::flatten, tn::conv2d<4, tn::kernel<1>>>;
using last = tn::dense<0>;
#else
using inner = tn::relu;
using shortcut = tn::identity;
using last = tn::dense<10>;
#endif

struct net
    : tn::network<tn::input<3, 4, 4>, tn::conv2d<4, tn::kernel<1>>,
                  tn::seq<tn::relu, tn::residual<tn::seq<tn::conv2d<4, tn::kernel<3>, tn::pad<1>>, inner>, shortcut>>,
                  tn::flatten, last> {};

#ifndef TYPENET_SHOULD_FAIL
static_assert(tn::output_shape<net> == tn::shape<10>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
