// typenet/zoo/squeezenet.hpp: torchvision's SqueezeNet 1.1.
// Keyed and computed like torchvision's models of the same names (224 x 224 input, logits out): their
// state_dict() loads with no renaming (num_batches_tracked is ignored). Strided layers opt in to floor
// rounding, as PyTorch rounds (e.g. ResNet's conv1: (224 + 6 - 7) / 2 + 1 = 112.5 -> 112).
#pragma once
#include <type_traits>

#include "../typenet.hpp"

namespace typenet::zoo {

namespace tn = ::typenet;

/// torchvision's Fire module: 1x1 squeeze, then 1x1 and 3x3 expansions side by side, joined along channels.
template <int Squeeze, int E1, int E3>
using fire = tn::seq<
    tn::named<"squeeze", tn::conv2d<Squeeze, tn::kernel<1>>>, tn::relu,
    tn::named<"", tn::concat<tn::seq<tn::named<"expand1x1", tn::conv2d<E1, tn::kernel<1>>>, tn::relu>,
                             tn::seq<tn::named<"expand3x3", tn::conv2d<E3, tn::kernel<3>, tn::pad<1>>>, tn::relu>>>>;

/// torchvision.models.squeezenet1_1().
// clang-format off
using squeeze_pool = tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>;
struct squeezenet1_1 : tn::network<
    tn::input<3, 224, 224>,
    tn::named<"features", tn::seq<
        tn::conv2d<64, tn::kernel<3>, tn::stride<2>, tn::floor_mode>, tn::relu,   //  0, 1: 64 x 111 x 111
        squeeze_pool,                                                             //  2:    64 x 55 x 55
        fire<16, 64, 64>, fire<16, 64, 64>, squeeze_pool,                         //  3-5: 128 x 27 x 27
        fire<32, 128, 128>, fire<32, 128, 128>, squeeze_pool,                     //  6-8: 256 x 13 x 13
        fire<48, 192, 192>, fire<48, 192, 192>,                                   //  9, 10: 384 x 13 x 13
        fire<64, 256, 256>, fire<64, 256, 256>>>,                                 // 11, 12: 512 x 13 x 13
    tn::named<"classifier", tn::seq<tn::dropout<50>, tn::conv2d<1000, tn::kernel<1>>, tn::relu,
                                    tn::adaptive_avg_pool<1>>>,
    tn::flatten> {};
// clang-format on

}  // namespace typenet::zoo
