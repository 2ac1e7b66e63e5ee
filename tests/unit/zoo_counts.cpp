// The zoo networks' shapes and counts, against numbers derived layer by layer in the comments (conv2d:
// weights F * C/G * KH * KW, biases F, MACs weights * OH * OW; dense: weights Units * In, MACs = weights).
#include <doctest/doctest.h>

#include <array>
#include <cstdint>

#include <typenet/zoo/networks.hpp>

namespace tn = typenet;
using namespace typenet::zoo;

namespace {
template <class Net, std::size_t N>
void check_layers(const std::array<std::int64_t, N>& params, const std::array<std::int64_t, N>& macs) {
  REQUIRE(static_cast<std::size_t>(tn::layer_count<Net>) == N);
  auto check = [&](int index, std::int64_t p, std::int64_t m) {
    INFO("layer " << index);
    CHECK(p == params[static_cast<std::size_t>(index)]);
    CHECK(m == macs[static_cast<std::size_t>(index)]);
  };
  [&]<class... B>(tn::type_list<B...>) { (check(B::index, B::params, B::macs), ...); }(typename Net::layers{});
}
}  // namespace

// ---- seed_alexnet (DESIGN.md section 1) ----
static_assert(tn::layer_count<seed_alexnet> == 22);
static_assert(tn::input_shape<seed_alexnet> == tn::shape<3, 227, 227>{});
static_assert(tn::shape_after<seed_alexnet, 0> == tn::shape<96, 55, 55>{});   // (227 - 11) / 4 + 1
static_assert(tn::shape_after<seed_alexnet, 2> == tn::shape<96, 27, 27>{});   // (55 - 3) / 2 + 1
static_assert(tn::shape_after<seed_alexnet, 3> == tn::shape<256, 27, 27>{});  // 27 + 4 - 5 + 1
static_assert(tn::shape_after<seed_alexnet, 5> == tn::shape<256, 13, 13>{});  // (27 - 3) / 2 + 1
static_assert(tn::shape_after<seed_alexnet, 6> == tn::shape<384, 13, 13>{});
static_assert(tn::shape_after<seed_alexnet, 8> == tn::shape<384, 13, 13>{});
static_assert(tn::shape_after<seed_alexnet, 10> == tn::shape<256, 13, 13>{});
static_assert(tn::shape_after<seed_alexnet, 12> == tn::shape<256, 6, 6>{});  // (13 - 3) / 2 + 1
static_assert(tn::shape_after<seed_alexnet, 13> == tn::shape<9216>{});       // 256 * 36
static_assert(tn::shape_after<seed_alexnet, 15> == tn::shape<4096>{});
static_assert(tn::output_shape<seed_alexnet> == tn::shape<1000>{});

TEST_CASE("zoo: seed_alexnet per-layer parameters and MACs") {
  //           conv 96@11x11/4 on 3 ch     conv 256@5x5 on 96      conv 384@3x3 on 256    conv 384 on 384        conv
  //           256 on 384
  constexpr std::int64_t c0 = 96 * 3 * 11 * 11, c3 = 256 * 96 * 5 * 5, c6 = 384 * 256 * 9, c8 = 384 * 384 * 9,
                         c10 = 256 * 384 * 9, d15 = 4096 * 9216, d18 = 4096 * 4096, d20 = 1000 * 4096;
  check_layers<seed_alexnet, 22>({c0 + 96, 0, 0, c3 + 256,   0, 0, c6 + 384,   0, c8 + 384,   0, c10 + 256, 0,
                                  0,       0, 0, d15 + 4096, 0, 0, d18 + 4096, 0, d20 + 1000, 0},
                                 {c0 * 55 * 55,
                                  0,
                                  0,
                                  c3 * 27 * 27,
                                  0,
                                  0,
                                  c6 * 13 * 13,
                                  0,
                                  c8 * 13 * 13,
                                  0,
                                  c10 * 13 * 13,
                                  0,
                                  0,
                                  0,
                                  0,
                                  d15,
                                  0,
                                  0,
                                  d18,
                                  0,
                                  d20,
                                  0});
  // The totals DESIGN.md states, and their sums by hand:
  // params 34,944 + 614,656 + 885,120 + 1,327,488 + 884,992 + 37,752,832 + 16,781,312 + 4,097,000
  // MACs 105,415,200 + 447,897,600 + 149,520,384 + 224,280,576 + 149,520,384 + 37,748,736 + 16,777,216 + 4,096,000
  CHECK(tn::param_count<seed_alexnet> == 62'378'344);
  CHECK(tn::mac_count<seed_alexnet> == 1'135'256'096);
  CHECK(tn::layer_param_count<seed_alexnet, 0> == 34'944);
  CHECK(tn::layer_mac_count<seed_alexnet, 3> == 447'897'600);
}

// ---- torchvision_alexnet ----
static_assert(tn::layer_count<torchvision_alexnet> == 22);
static_assert(tn::shape_after<torchvision_alexnet, 0> == tn::shape<64, 55, 55>{});  // floor(217 / 4) + 1
static_assert(tn::shape_after<torchvision_alexnet, 2> == tn::shape<64, 27, 27>{});
static_assert(tn::shape_after<torchvision_alexnet, 3> == tn::shape<192, 27, 27>{});
static_assert(tn::shape_after<torchvision_alexnet, 5> == tn::shape<192, 13, 13>{});
static_assert(tn::shape_after<torchvision_alexnet, 12> == tn::shape<256, 6, 6>{});
static_assert(tn::shape_after<torchvision_alexnet, 13> == tn::shape<256, 6, 6>{});  // adaptive 6 x 6
static_assert(tn::shape_after<torchvision_alexnet, 14> == tn::shape<9216>{});
static_assert(tn::output_shape<torchvision_alexnet> == tn::shape<1000>{});

TEST_CASE("zoo: torchvision_alexnet per-layer parameters and MACs") {
  constexpr std::int64_t c0 = 64 * 3 * 11 * 11, c3 = 192 * 64 * 5 * 5, c6 = 384 * 192 * 9, c8 = 256 * 384 * 9,
                         c10 = 256 * 256 * 9, d16 = 4096 * 9216, d19 = 4096 * 4096, d21 = 1000 * 4096;
  check_layers<torchvision_alexnet, 22>(
      {c0 + 64, 0, 0, c3 + 192, 0, 0,          c6 + 384, 0, c8 + 256,   0, c10 + 256,
       0,       0, 0, 0,        0, d16 + 4096, 0,        0, d19 + 4096, 0, d21 + 1000},
      {c0 * 55 * 55, 0, 0, c3 * 27 * 27, 0, 0,  c6 * 169, 0, c8 * 169, 0, c10 * 169, 0, 0, 0, 0, 0,
       d16,          0, 0, d19,          0, d21});
  // 23,296 + 307,392 + 663,936 + 884,992 + 590,080 + 37,752,832 + 16,781,312 + 4,097,000 (torchvision's count)
  CHECK(tn::param_count<torchvision_alexnet> == 61'100'840);
  // 70,276,800 + 223,948,800 + 112,140,288 + 149,520,384 + 99,680,256 + 37,748,736 + 16,777,216 + 4,096,000
  CHECK(tn::mac_count<torchvision_alexnet> == 714'188'480);
}

// ---- caffe_alexnet ----
static_assert(tn::layer_count<caffe_alexnet> == 24);
static_assert(tn::shape_after<caffe_alexnet, 2> == tn::shape<96, 55, 55>{});   // lrn keeps the shape
static_assert(tn::shape_after<caffe_alexnet, 3> == tn::shape<96, 27, 27>{});   // ceil(52 / 2) + 1
static_assert(tn::shape_after<caffe_alexnet, 7> == tn::shape<256, 13, 13>{});  // ceil(24 / 2) + 1
static_assert(tn::shape_after<caffe_alexnet, 14> == tn::shape<256, 6, 6>{});   // ceil(10 / 2) + 1
static_assert(tn::shape_after<caffe_alexnet, 15> == tn::shape<9216>{});
static_assert(tn::output_shape<caffe_alexnet> == tn::shape<1000>{});

TEST_CASE("zoo: caffe_alexnet per-layer parameters and MACs (grouped convolutions)") {
  //   conv2 groups 2: each filter sees 96 / 2 = 48 channels; conv4 and conv5: 384 / 2 = 192
  constexpr std::int64_t c0 = 96 * 3 * 121, c4 = 256 * 48 * 25, c8 = 384 * 256 * 9, c10 = 384 * 192 * 9,
                         c12 = 256 * 192 * 9, d16 = 4096 * 9216, d19 = 4096 * 4096, d22 = 1000 * 4096;
  check_layers<caffe_alexnet, 24>({c0 + 96,   0, 0, 0, c4 + 256,   0, 0, 0,          c8 + 384, 0, c10 + 384,  0,
                                   c12 + 256, 0, 0, 0, d16 + 4096, 0, 0, d19 + 4096, 0,        0, d22 + 1000, 0},
                                  {c0 * 3025, 0, 0, 0, c4 * 729, 0, 0, 0,   c8 * 169, 0, c10 * 169, 0,
                                   c12 * 169, 0, 0, 0, d16,      0, 0, d19, 0,        0, d22,       0});
  // 34,944 + 307,456 + 885,120 + 663,936 + 442,624 + 37,752,832 + 16,781,312 + 4,097,000
  CHECK(tn::param_count<caffe_alexnet> == 60'965'224);
  // 105,415,200 + 223,948,800 + 149,520,384 + 112,140,288 + 74,760,192 + 37,748,736 + 16,777,216 + 4,096,000
  CHECK(tn::mac_count<caffe_alexnet> == 724'406'816);
}

// ---- lenet5 ----
static_assert(tn::shape_after<lenet5, 0> == tn::shape<6, 28, 28>{});
static_assert(tn::shape_after<lenet5, 2> == tn::shape<6, 14, 14>{});
static_assert(tn::shape_after<lenet5, 3> == tn::shape<16, 10, 10>{});
static_assert(tn::shape_after<lenet5, 5> == tn::shape<16, 5, 5>{});
static_assert(tn::shape_after<lenet5, 6> == tn::shape<400>{});
static_assert(tn::output_shape<lenet5> == tn::shape<10>{});

TEST_CASE("zoo: lenet5 per-layer parameters and MACs") {
  check_layers<lenet5, 12>(
      {6 * 25 + 6, 0, 0, 16 * 6 * 25 + 16, 0, 0, 0, 400 * 120 + 120, 0, 120 * 84 + 84, 0, 84 * 10 + 10},
      {150 * 28 * 28, 0, 0, 2400 * 10 * 10, 0, 0, 0, 48'000, 0, 10'080, 0, 840});
  CHECK(tn::param_count<lenet5> == 61'706);  // 156 + 2,416 + 48,120 + 10,164 + 850
  CHECK(tn::mac_count<lenet5> == 416'520);   // 117,600 + 240,000 + 48,000 + 10,080 + 840
}

TEST_CASE("zoo: weight offsets are the running sums of the parameter counts") {
  // seed_alexnet: conv0 at 0 (bias after its 34,848 weights), conv3 after conv0's 34,944 parameters, ...
  using L0 = tn::layer_at<seed_alexnet, 0>;
  using L3 = tn::layer_at<seed_alexnet, 3>;
  using L20 = tn::layer_at<seed_alexnet, 20>;
  CHECK(L0::weight_offset == 0);
  CHECK(L0::bias_offset == 96 * 3 * 121);
  CHECK(L3::weight_offset == 34'944);
  CHECK(L3::bias_offset == 34'944 + 256 * 96 * 25);
  CHECK(L20::weight_offset == 62'378'344 - 4'097'000);
  CHECK(L20::bias_offset == 62'378'344 - 1000);
}

TEST_CASE("memory plan: activation bytes and forward buffers") {
  // seed_alexnet: input 3*227*227 = 154,587 floats; the outputs of layers 0..21, one by one:
  constexpr std::int64_t outputs[] = {290'400, 290'400, 69'984, 186'624, 186'624, 43'264, 64'896, 64'896,
                                      64'896,  64'896,  43'264, 43'264,  9'216,   9'216,  9'216,  4'096,
                                      4'096,   4'096,   4'096,  4'096,   1'000,   1'000};
  std::int64_t sum = 154'587;
  for (auto o : outputs) sum += o;
  CHECK(tn::activation_bytes<seed_alexnet> == 4 * sum);
  using plan = tn::memory_plan<seed_alexnet>;
  CHECK(plan::buffer_floats_per_image == 96 * 55 * 55);  // conv1's output is the largest activation
  CHECK(plan::bytes_per_image == 2 * 4 * 290'400);
  CHECK(plan::bytes(8) == 8 * 2'323'200);
  CHECK(plan::param_bytes == 4 * 62'378'344);
  // lenet5: the largest activation is conv1's 6 x 28 x 28 = 4,704 floats (input 1,024).
  CHECK(tn::memory_plan<lenet5>::buffer_floats_per_image == 4'704);
  CHECK(tn::memory_plan<lenet5>::bytes(1) == 2 * 4 * 4'704);
  // A network whose input is its largest activation: 3 x 64 x 64 pooled to 3 x 32 x 32.
  struct shrink : tn::network<tn::input<3, 64, 64>, tn::max_pool<tn::kernel<2>, tn::stride<2>>> {};
  CHECK(tn::memory_plan<shrink>::buffer_floats_per_image == 3 * 64 * 64);
  CHECK(tn::activation_bytes<shrink> == 4 * (3 * 64 * 64 + 3 * 32 * 32));
}
