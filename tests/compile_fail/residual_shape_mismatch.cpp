// Rule residual_shape_mismatch: a ResNet block whose body halves the spatial size (stride 2) while its
// shortcut is the identity: Body(x) is 16 x 8 x 8, Shortcut(x) is 16 x 16 x 16. The good twin gives the
// shortcut the projection torchvision uses (1x1 conv2d with the same stride, batch norm).
// EXPECT: residual_shape_mismatch
// EXPECT-ARGS: residual_shape_mismatch<2, typenet::located<typenet::index_path<2, 0>, typenet::residual<[^\n]*typenet::shape<16, 8, 8>, typenet::shape<16, 16, 16> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

using body =
    tn::seq<tn::named<"conv1", tn::conv2d<16, tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::no_bias, tn::floor_mode>>,
            tn::named<"bn1", tn::batch_norm>, tn::relu>;
#ifdef TYPENET_SHOULD_FAIL
using shortcut = tn::identity;
#else
using shortcut =
    tn::named<"downsample",
              tn::seq<tn::conv2d<16, tn::kernel<1>, tn::stride<2>, tn::no_bias, tn::floor_mode>, tn::batch_norm>>;
#endif

struct net : tn::network<tn::input<3, 16, 16>, tn::conv2d<16, tn::kernel<3>, tn::pad<1>>, tn::relu,
                         tn::named<"layer1", tn::seq<tn::residual<body, shortcut, tn::relu>>>,  // entry 2
                         tn::flatten, tn::dense<10>> {};

#ifndef TYPENET_SHOULD_FAIL
static_assert(tn::shape_after<net, 2> == tn::shape<16, 8, 8>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
