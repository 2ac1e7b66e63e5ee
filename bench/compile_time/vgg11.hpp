// torchvision.models.vgg11() declared as a user would declare it (typenet has no VGG in its zoo): features
// (8 3x3 pad-1 convolutions with ReLU, 5 2x2/2 max pools), avgpool (adaptive 7x7), flatten, classifier
// (dense 4096, ReLU, dropout, dense 4096, ReLU, dropout, dense 1000); 224 x 224 input, logits out. Keyed like
// torchvision ("features.0.weight", "classifier.6.bias"). Included by the tu_vgg11_*.cpp files.
#pragma once
#include <typenet/typenet.hpp>

namespace vgg {
namespace tn = typenet;

template <int C>
using conv3 = tn::conv2d<C, tn::kernel<3>, tn::pad<1>>;
using pool = tn::max_pool<tn::kernel<2>, tn::stride<2>>;

// clang-format off
struct vgg11 : tn::network<
    tn::input<3, 224, 224>,
    tn::named<"features", tn::seq<
        conv3<64>, tn::relu, pool,                             //  0-2:   64 x 112 x 112
        conv3<128>, tn::relu, pool,                            //  3-5:  128 x 56 x 56
        conv3<256>, tn::relu, conv3<256>, tn::relu, pool,      //  6-10: 256 x 28 x 28
        conv3<512>, tn::relu, conv3<512>, tn::relu, pool,      // 11-15: 512 x 14 x 14
        conv3<512>, tn::relu, conv3<512>, tn::relu, pool>>,    // 16-20: 512 x 7 x 7
    tn::named<"avgpool", tn::adaptive_avg_pool<7, 7>>,          //        512 x 7 x 7
    tn::flatten,                                               //        25088
    tn::named<"classifier", tn::seq<
        tn::dense<4096>, tn::relu, tn::dropout<50>,            //  0-2
        tn::dense<4096>, tn::relu, tn::dropout<50>,            //  3-5
        tn::dense<1000>>>> {};                                 //  6
// clang-format on
}  // namespace vgg
