// typenet/zoo/mobilenet.hpp: torchvision's MobileNetV2.
// Keyed and computed like torchvision's models of the same names (224 x 224 input, logits out): their
// state_dict() loads with no renaming (num_batches_tracked is ignored). Strided layers opt in to floor
// rounding, as PyTorch rounds (e.g. ResNet's conv1: (224 + 6 - 7) / 2 + 1 = 112.5 -> 112).
#pragma once
#include <type_traits>

#include "../typenet.hpp"

namespace typenet::zoo {

namespace tn = ::typenet;

/// torchvision's Conv2dNormActivation as MobileNetV2 uses it: convolution without bias, batch norm, ReLU6.
template <int C, int K, int S = 1, int G = 1>
using conv_bn_relu6 = tn::seq<
    tn::conv2d<C, tn::kernel<K>, tn::stride<S>, tn::pad<(K - 1) / 2>, tn::groups<G>, tn::no_bias, tn::floor_mode>,
    tn::batch_norm, tn::relu6>;

/// torchvision's InvertedResidual(In, Out, S, T): 1x1 expansion to In x T (none when T is 1), 3x3
/// depthwise with stride S, 1x1 projection; a residual block when S is 1 and In equals Out.
template <int In, int Out, int S, int T>
using inverted_body =
    std::conditional_t<T == 1,
                       tn::named<"conv", tn::seq<conv_bn_relu6<In, 3, S, In>,
                                                 tn::conv2d<Out, tn::kernel<1>, tn::no_bias>, tn::batch_norm>>,
                       tn::named<"conv", tn::seq<conv_bn_relu6<In * T, 1>, conv_bn_relu6<In * T, 3, S, In * T>,
                                                 tn::conv2d<Out, tn::kernel<1>, tn::no_bias>, tn::batch_norm>>>;
template <int In, int Out, int S, int T>
using inverted_residual = std::conditional_t<S == 1 && In == Out, tn::residual<inverted_body<In, Out, S, T>>,
                                             tn::seq<inverted_body<In, Out, S, T>>>;  // seq: keeps its position

/// torchvision.models.mobilenet_v2().
// clang-format off
struct mobilenet_v2 : tn::network<
    tn::input<3, 224, 224>,
    tn::named<"features", tn::seq<
        conv_bn_relu6<32, 3, 2>,                                                                    //  0: 32 x 112
        inverted_residual<32, 16, 1, 1>,                                                            //  1: 16 x 112
        inverted_residual<16, 24, 2, 6>, inverted_residual<24, 24, 1, 6>,                           //  2-3: 24 x 56
        inverted_residual<24, 32, 2, 6>, inverted_residual<32, 32, 1, 6>, inverted_residual<32, 32, 1, 6>,  // 4-6
        inverted_residual<32, 64, 2, 6>, inverted_residual<64, 64, 1, 6>, inverted_residual<64, 64, 1, 6>,
        inverted_residual<64, 64, 1, 6>,                                                            //  7-10: 64 x 14
        inverted_residual<64, 96, 1, 6>, inverted_residual<96, 96, 1, 6>, inverted_residual<96, 96, 1, 6>,  // 11-13
        inverted_residual<96, 160, 2, 6>, inverted_residual<160, 160, 1, 6>,
        inverted_residual<160, 160, 1, 6>,                                                          // 14-16: 160 x 7
        inverted_residual<160, 320, 1, 6>,                                                          // 17: 320 x 7
        conv_bn_relu6<1280, 1>>>,                                                                   // 18: 1280 x 7
    tn::adaptive_avg_pool<1>, tn::flatten,
    tn::named<"classifier", tn::seq<tn::dropout<20>, tn::dense<1000>>>> {};
// clang-format on

}  // namespace typenet::zoo
