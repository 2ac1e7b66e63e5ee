// The fusion plan of every zoo network, spelled out, and the stage each layer runs in.
#include <doctest/doctest.h>

#include <array>
#include <type_traits>

#include <typenet/zoo/networks.hpp>

namespace tn = typenet;
using namespace typenet::zoo;
using tn::type_list, tn::fused, tn::conv2d, tn::dense, tn::relu, tn::softmax, tn::max_pool, tn::kernel, tn::stride,
    tn::pad, tn::groups;

using pool3s2 = max_pool<kernel<3>, stride<2>>;

// seed_alexnet: conv+relu+pool twice, conv+relu twice, conv+relu+pool; flatten and dropouts vanish.
static_assert(
    std::is_same_v<
        tn::fusion::plan_t<seed_alexnet>,
        type_list<fused<conv2d<96, kernel<11>, stride<4>>, relu, pool3s2>,
                  fused<conv2d<256, kernel<5>, pad<2>>, relu, pool3s2>, fused<conv2d<384, kernel<3>, pad<1>>, relu>,
                  fused<conv2d<384, kernel<3>, pad<1>>, relu>, fused<conv2d<256, kernel<3>, pad<1>>, relu, pool3s2>,
                  fused<dense<4096>, relu>, fused<dense<4096>, relu>, fused<dense<1000>, softmax>>>);

// torchvision_alexnet: the adaptive pool is a stage of its own, the last dense has no activation.
static_assert(
    std::is_same_v<tn::fusion::plan_t<torchvision_alexnet>,
                   type_list<fused<conv2d<64, kernel<11>, stride<4>, pad<2>, tn::floor_mode>, relu, pool3s2>,
                             fused<conv2d<192, kernel<5>, pad<2>>, relu, pool3s2>,
                             fused<conv2d<384, kernel<3>, pad<1>>, relu>, fused<conv2d<256, kernel<3>, pad<1>>, relu>,
                             fused<conv2d<256, kernel<3>, pad<1>>, relu, pool3s2>, fused<tn::adaptive_avg_pool<6, 6>>,
                             fused<dense<4096>, relu>, fused<dense<4096>, relu>, fused<dense<1000>>>>);

// caffe_alexnet: LRN joins the conv stage between relu and pool.
using pool3s2c = max_pool<kernel<3>, stride<2>, tn::ceil_mode>;
static_assert(
    std::is_same_v<
        tn::fusion::plan_t<caffe_alexnet>,
        type_list<fused<conv2d<96, kernel<11>, stride<4>>, relu, paper_lrn, pool3s2c>,
                  fused<conv2d<256, kernel<5>, pad<2>, groups<2>>, relu, paper_lrn, pool3s2c>,
                  fused<conv2d<384, kernel<3>, pad<1>>, relu>, fused<conv2d<384, kernel<3>, pad<1>, groups<2>>, relu>,
                  fused<conv2d<256, kernel<3>, pad<1>, groups<2>>, relu, pool3s2c>, fused<dense<4096>, relu>,
                  fused<dense<4096>, relu>, fused<dense<1000>, softmax>>>);

using pool2s2 = max_pool<kernel<2>, stride<2>>;
static_assert(
    std::is_same_v<tn::fusion::plan_t<lenet5>,
                   type_list<fused<conv2d<6, kernel<5>>, relu, pool2s2>, fused<conv2d<16, kernel<5>>, relu, pool2s2>,
                             fused<dense<120>, relu>, fused<dense<84>, relu>, fused<dense<10>>>>);

// Stage of each layer (-1: vanishes at inference).
static_assert(tn::fusion::stage_of_layers<seed_alexnet>() ==
              std::array<int, 22>{0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 4, -1, -1, 5, 5, -1, 6, 6, 7, 7});
static_assert(tn::fusion::stage_of_layers<torchvision_alexnet>() ==
              std::array<int, 22>{0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 4, 5, -1, -1, 6, 6, -1, 7, 7, 8});
static_assert(tn::fusion::stage_of_layers<caffe_alexnet>() ==
              std::array<int, 24>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 4, -1, 5, 5, -1, 6, 6, -1, 7, 7});
static_assert(tn::fusion::stage_of_layers<lenet5>() == std::array<int, 12>{0, 0, 0, 1, 1, 1, -1, 2, 2, 3, 3, 4});

// Bound stages carry shapes: the first stage of seed_alexnet takes the image and yields 96 x 27 x 27.
using first_stage = tn::detail::at_t<0, tn::fusion::stages_t<seed_alexnet>>;
static_assert(first_stage::size == 3);
static_assert(std::is_same_v<first_stage::input, tn::shape<3, 227, 227>>);
static_assert(std::is_same_v<first_stage::output, tn::shape<96, 27, 27>>);
using last_stage = tn::detail::at_t<7, tn::fusion::stages_t<seed_alexnet>>;
static_assert(std::is_same_v<last_stage::input, tn::shape<4096>> && last_stage::first::index == 20);

TEST_CASE("fusion: plans of small networks built for the test") {
  // Pieces that do not fuse stand alone; a relu that follows nothing fusible is its own stage.
  struct odd : tn::network<tn::input<2, 8, 8>, relu, conv2d<4, kernel<3>, pad<1>>, tn::avg_pool<kernel<2>, stride<2>>,
                           tn::dropout<10>, relu, tn::flatten, softmax> {};
  static_assert(
      std::is_same_v<tn::fusion::plan_t<odd>,
                     type_list<fused<relu>, fused<conv2d<4, kernel<3>, pad<1>>, tn::avg_pool<kernel<2>, stride<2>>>,
                               fused<relu>, fused<softmax>>>);
  constexpr auto stages = tn::fusion::stage_of_layers<odd>();
  CHECK(stages == std::array<int, 7>{0, 1, 1, -1, 2, -1, 3});
  // A network with only an input has no stages.
  struct empty : tn::network<tn::input<5>> {};
  CHECK(tn::fusion::stages_t<empty>::size == 0);
}
