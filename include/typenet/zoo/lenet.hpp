// typenet/zoo/lenet.hpp: LeNet-5 (ReLU and max-pool variant): 1 x 32 x 32 -> 10 logits.
// (<typenet/zoo/networks.hpp> includes every zoo header; include only the one you use to keep compile times
// down: declaring a network runs its checks.)
#pragma once

#include "../typenet.hpp"

namespace typenet::zoo {

namespace tn = ::typenet;

/// LeNet-5 (ReLU and max-pool variant): 1 x 32 x 32 -> 10 logits.
// clang-format off
struct lenet5 : tn::network<
    tn::input<1, 32, 32>,
    tn::conv2d<6, tn::kernel<5>>, tn::relu,        // 0,1:  6 x 28 x 28
    tn::max_pool<tn::kernel<2>, tn::stride<2>>,    // 2:    6 x 14 x 14
    tn::conv2d<16, tn::kernel<5>>, tn::relu,       // 3,4: 16 x 10 x 10
    tn::max_pool<tn::kernel<2>, tn::stride<2>>,    // 5:   16 x  5 x  5
    tn::flatten,                                   // 6:   400
    tn::dense<120>, tn::relu,                      // 7,8
    tn::dense<84>, tn::relu,                       // 9,10
    tn::dense<10>> {};                             // 11
// clang-format on

}  // namespace typenet::zoo
