// typenet/zoo/alexnet.hpp: the three AlexNets: the seed (single tower, 227 input,
// softmax), torchvision's (224 input, logits) and bvlc_alexnet's two-tower original (LRN, groups, ceil pools).
// (<typenet/zoo/networks.hpp> includes every zoo header; include only the one you use to keep compile times
// down: declaring a network runs its checks.)
#pragma once
#include <ratio>
#include <string>

#include "../typenet.hpp"

namespace typenet::zoo {

namespace tn = ::typenet;

/// The seed AlexNet: 227 -> 55 -> 27 -> 13 -> 6, single tower, no LRN, softmax output.
// clang-format off
struct seed_alexnet : tn::network<
    tn::input<3, 227, 227>,
    tn::conv2d<96, tn::kernel<11>, tn::stride<4>>, tn::relu,        //  0,1:  96 x 55 x 55
    tn::max_pool<tn::kernel<3>, tn::stride<2>>,                     //  2:    96 x 27 x 27
    tn::conv2d<256, tn::kernel<5>, tn::pad<2>>, tn::relu,           //  3,4: 256 x 27 x 27
    tn::max_pool<tn::kernel<3>, tn::stride<2>>,                     //  5:   256 x 13 x 13
    tn::conv2d<384, tn::kernel<3>, tn::pad<1>>, tn::relu,           //  6,7: 384 x 13 x 13
    tn::conv2d<384, tn::kernel<3>, tn::pad<1>>, tn::relu,           //  8,9: 384 x 13 x 13
    tn::conv2d<256, tn::kernel<3>, tn::pad<1>>, tn::relu,           // 10,11:256 x 13 x 13
    tn::max_pool<tn::kernel<3>, tn::stride<2>>,                     // 12:   256 x  6 x  6
    tn::flatten,                                                    // 13:   9216
    tn::dropout<50>, tn::dense<4096>, tn::relu,                     // 14-16: 4096
    tn::dropout<50>, tn::dense<4096>, tn::relu,                     // 17-19: 4096
    tn::dense<1000>, tn::softmax> {};                               // 20,21: 1000
// clang-format on

/// torchvision.models.alexnet(): 224 input (floor rounding in conv1), adaptive 6x6 pool, logits out.
/// Parameters are named like torchvision's ("features.0.weight", "classifier.1.weight").
// clang-format off
struct torchvision_alexnet : tn::network<
    tn::input<3, 224, 224>,
    tn::conv2d<64, tn::kernel<11>, tn::stride<4>, tn::pad<2>, tn::floor_mode>, tn::relu,  //  0,1:  64 x 55 x 55
    tn::max_pool<tn::kernel<3>, tn::stride<2>>,                                            //  2:    64 x 27 x 27
    tn::conv2d<192, tn::kernel<5>, tn::pad<2>>, tn::relu,                                  //  3,4: 192 x 27 x 27
    tn::max_pool<tn::kernel<3>, tn::stride<2>>,                                            //  5:   192 x 13 x 13
    tn::conv2d<384, tn::kernel<3>, tn::pad<1>>, tn::relu,                                  //  6,7
    tn::conv2d<256, tn::kernel<3>, tn::pad<1>>, tn::relu,                                  //  8,9
    tn::conv2d<256, tn::kernel<3>, tn::pad<1>>, tn::relu,                                  // 10,11
    tn::max_pool<tn::kernel<3>, tn::stride<2>>,                                            // 12:   256 x 6 x 6
    tn::adaptive_avg_pool<6, 6>,                                                           // 13
    tn::flatten,                                                                           // 14:   9216
    tn::dropout<50>, tn::dense<4096>, tn::relu,                                            // 15-17
    tn::dropout<50>, tn::dense<4096>, tn::relu,                                            // 18-20
    tn::dense<1000>> {                                                                     // 21
  // clang-format on
  /// features.0-12, avgpool (13), flatten (14, no parameters), classifier.0-6 (15-21).
  static std::string param_prefix(int index) {
    if (index <= 12) return "features." + std::to_string(index);
    if (index == 13) return "avgpool";
    if (index == 14) return "flatten";
    return "classifier." + std::to_string(index - 15);
  }
};

/// The original two-tower AlexNet in bvlc_alexnet's order: LRN (the paper's k = 2), ceil-rounded pools,
/// grouped conv2, conv4, conv5; 227 input; softmax output.
using paper_lrn = tn::lrn<5, std::ratio<1, 10000>, std::ratio<3, 4>, std::ratio<2>>;
// clang-format off
struct caffe_alexnet : tn::network<
    tn::input<3, 227, 227>,
    tn::conv2d<96, tn::kernel<11>, tn::stride<4>>, tn::relu, paper_lrn,              //  0-2:  96 x 55 x 55
    tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>,                       //  3:    96 x 27 x 27
    tn::conv2d<256, tn::kernel<5>, tn::pad<2>, tn::groups<2>>, tn::relu, paper_lrn,  //  4-6: 256 x 27 x 27
    tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>,                       //  7:   256 x 13 x 13
    tn::conv2d<384, tn::kernel<3>, tn::pad<1>>, tn::relu,                            //  8,9
    tn::conv2d<384, tn::kernel<3>, tn::pad<1>, tn::groups<2>>, tn::relu,             // 10,11
    tn::conv2d<256, tn::kernel<3>, tn::pad<1>, tn::groups<2>>, tn::relu,             // 12,13
    tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>,                       // 14:   256 x 6 x 6
    tn::flatten,                                                                     // 15
    tn::dense<4096>, tn::relu, tn::dropout<50>,                                      // 16-18
    tn::dense<4096>, tn::relu, tn::dropout<50>,                                      // 19-21
    tn::dense<1000>, tn::softmax> {};                                                // 22,23
// clang-format on

}  // namespace typenet::zoo
