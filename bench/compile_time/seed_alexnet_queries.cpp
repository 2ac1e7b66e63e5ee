// The compile-time budget's translation unit: declares the seed AlexNet (zoo::seed_alexnet) and uses every
// compile-time query (shapes after every layer, counts per layer and in total, layer count, activation
// bytes, memory plan, fusion plan and stages, describe). bench/compile_time/measure.sh times it.
#include <typenet/typenet.hpp>

#include <cstdio>
#include <type_traits>
#include <utility>

namespace tn = typenet;

// clang-format off
struct alexnet : tn::network<
    tn::input<3, 227, 227>,
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

static_assert(tn::output_shape<alexnet> == tn::shape<1000>{});
static_assert(tn::input_shape<alexnet> == tn::shape<3, 227, 227>{});
static_assert(tn::layer_count<alexnet> == 22);
static_assert(tn::param_count<alexnet> == 62'378'344);
static_assert(tn::mac_count<alexnet> == 1'135'256'096);
static_assert(tn::shape_after<alexnet, 0> == tn::shape<96, 55, 55>{});
static_assert(tn::shape_after<alexnet, 1> == tn::shape<96, 55, 55>{});
static_assert(tn::shape_after<alexnet, 2> == tn::shape<96, 27, 27>{});
static_assert(tn::shape_after<alexnet, 3> == tn::shape<256, 27, 27>{});
static_assert(tn::shape_after<alexnet, 4> == tn::shape<256, 27, 27>{});
static_assert(tn::shape_after<alexnet, 5> == tn::shape<256, 13, 13>{});
static_assert(tn::shape_after<alexnet, 6> == tn::shape<384, 13, 13>{});
static_assert(tn::shape_after<alexnet, 7> == tn::shape<384, 13, 13>{});
static_assert(tn::shape_after<alexnet, 8> == tn::shape<384, 13, 13>{});
static_assert(tn::shape_after<alexnet, 9> == tn::shape<384, 13, 13>{});
static_assert(tn::shape_after<alexnet, 10> == tn::shape<256, 13, 13>{});
static_assert(tn::shape_after<alexnet, 11> == tn::shape<256, 13, 13>{});
static_assert(tn::shape_after<alexnet, 12> == tn::shape<256, 6, 6>{});
static_assert(tn::shape_after<alexnet, 13> == tn::shape<9216>{});
static_assert(tn::shape_after<alexnet, 14> == tn::shape<9216>{});
static_assert(tn::shape_after<alexnet, 15> == tn::shape<4096>{});
static_assert(tn::shape_after<alexnet, 16> == tn::shape<4096>{});
static_assert(tn::shape_after<alexnet, 17> == tn::shape<4096>{});
static_assert(tn::shape_after<alexnet, 18> == tn::shape<4096>{});
static_assert(tn::shape_after<alexnet, 19> == tn::shape<4096>{});
static_assert(tn::shape_after<alexnet, 20> == tn::shape<1000>{});
static_assert(tn::shape_after<alexnet, 21> == tn::shape<1000>{});
static_assert(tn::layer_param_count<alexnet, 0> == 34'944 && tn::layer_mac_count<alexnet, 0> == 105'415'200);
static_assert(tn::memory_plan<alexnet>::bytes_per_image == 2'323'200);
static_assert(tn::memory_plan<alexnet>::bytes(128) == 128 * 2'323'200);
static_assert(tn::activation_bytes<alexnet> > tn::memory_plan<alexnet>::bytes_per_image);
static_assert(tn::fusion::plan_t<alexnet>::size == 8);
static_assert(tn::fusion::stages_t<alexnet>::size == 8);
static_assert(tn::fusion::stage_of_layers<alexnet>()[21] == 7);

// Every layer's counts and offsets, through the bound layers.
template <std::size_t... I>
constexpr std::int64_t sum_per_layer(std::index_sequence<I...>) {
  return (std::int64_t{0} + ... + (tn::layer_param_count<alexnet, I> + tn::layer_at<alexnet, I>::weight_offset * 0));
}
static_assert(sum_per_layer(std::make_index_sequence<22>{}) == tn::param_count<alexnet>);

int main() {
  std::fputs(tn::describe<alexnet>().c_str(), stdout);
  return 0;
}
