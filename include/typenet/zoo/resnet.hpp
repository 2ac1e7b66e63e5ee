// typenet/zoo/resnet.hpp: torchvision's ResNet-18 and ResNet-50.
// Keyed and computed like torchvision's models of the same names (224 x 224 input, logits out): their
// state_dict() loads with no renaming (num_batches_tracked is ignored). Strided layers opt in to floor
// rounding, as PyTorch rounds (e.g. ResNet's conv1: (224 + 6 - 7) / 2 + 1 = 112.5 -> 112).
#pragma once
#include <type_traits>

#include "../typenet.hpp"

namespace typenet::zoo {

namespace tn = ::typenet;

/// torchvision's BasicBlock: two 3x3 convolutions with batch norm, a projection shortcut when the shape
/// changes (Down), ReLU after the join.
template <int C, int S = 1, bool Down = (S != 1)>
using basic_block = tn::residual<
    tn::seq<tn::named<"conv1", tn::conv2d<C, tn::kernel<3>, tn::stride<S>, tn::pad<1>, tn::no_bias, tn::floor_mode>>,
            tn::named<"bn1", tn::batch_norm>, tn::relu,
            tn::named<"conv2", tn::conv2d<C, tn::kernel<3>, tn::pad<1>, tn::no_bias>>,
            tn::named<"bn2", tn::batch_norm>>,
    std::conditional_t<
        Down,
        tn::named<"downsample",
                  tn::seq<tn::conv2d<C, tn::kernel<1>, tn::stride<S>, tn::no_bias, tn::floor_mode>, tn::batch_norm>>,
        tn::identity>,
    tn::relu>;

/// torchvision's Bottleneck (ResNet v1.5: the stride on the 3x3 convolution): 1x1, 3x3, 1x1 to 4 x Width.
template <int Width, int S = 1, bool Down = false>
using bottleneck = tn::residual<
    tn::seq<
        tn::named<"conv1", tn::conv2d<Width, tn::kernel<1>, tn::no_bias>>, tn::named<"bn1", tn::batch_norm>, tn::relu,
        tn::named<"conv2", tn::conv2d<Width, tn::kernel<3>, tn::stride<S>, tn::pad<1>, tn::no_bias, tn::floor_mode>>,
        tn::named<"bn2", tn::batch_norm>, tn::relu,
        tn::named<"conv3", tn::conv2d<4 * Width, tn::kernel<1>, tn::no_bias>>, tn::named<"bn3", tn::batch_norm>>,
    std::conditional_t<
        Down,
        tn::named<
            "downsample",
            tn::seq<tn::conv2d<4 * Width, tn::kernel<1>, tn::stride<S>, tn::no_bias, tn::floor_mode>, tn::batch_norm>>,
        tn::identity>,
    tn::relu>;

/// The stem every torchvision ResNet shares: 7x7/2 convolution, batch norm, ReLU, 3x3/2 max pool.
// clang-format off
template <class... Stages>
using resnet = tn::network<
    tn::input<3, 224, 224>,
    tn::named<"conv1", tn::conv2d<64, tn::kernel<7>, tn::stride<2>, tn::pad<3>, tn::no_bias, tn::floor_mode>>,
    tn::named<"bn1", tn::batch_norm>, tn::relu,                                        // 64 x 112 x 112
    tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::floor_mode>,             // 64 x 56 x 56
    Stages...,
    tn::adaptive_avg_pool<1>, tn::flatten, tn::named<"fc", tn::dense<1000>>>;

/// torchvision.models.resnet18().
struct resnet18 : resnet<
    tn::named<"layer1", tn::seq<basic_block<64>, basic_block<64>>>,                    //  64 x 56 x 56
    tn::named<"layer2", tn::seq<basic_block<128, 2>, basic_block<128>>>,               // 128 x 28 x 28
    tn::named<"layer3", tn::seq<basic_block<256, 2>, basic_block<256>>>,               // 256 x 14 x 14
    tn::named<"layer4", tn::seq<basic_block<512, 2>, basic_block<512>>>> {};           // 512 x 7 x 7

/// torchvision.models.resnet50().
struct resnet50 : resnet<
    tn::named<"layer1", tn::seq<bottleneck<64, 1, true>, bottleneck<64>, bottleneck<64>>>,            // 256 x 56
    tn::named<"layer2", tn::seq<bottleneck<128, 2, true>, bottleneck<128>, bottleneck<128>,
                                bottleneck<128>>>,                                                     // 512 x 28
    tn::named<"layer3", tn::seq<bottleneck<256, 2, true>, bottleneck<256>, bottleneck<256>, bottleneck<256>,
                                bottleneck<256>, bottleneck<256>>>,                                    // 1024 x 14
    tn::named<"layer4", tn::seq<bottleneck<512, 2, true>, bottleneck<512>, bottleneck<512>>>> {};    // 2048 x 7
// clang-format on

}  // namespace typenet::zoo
