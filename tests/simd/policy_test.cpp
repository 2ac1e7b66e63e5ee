// exec::simd against exec::reference: the zoo networks and small networks that cover every layer kind
// and option (channel counts that are not multiples of the vector width, groups, strides, pads,
// floor/ceil rounding, LRN fused and alone, adaptive pooling, standalone pools and activations, flat
// inputs, spatial outputs), at batch 1 and odd batches, with 1 and 2 threads.
// Tolerance: |simd - reference| <= 1e-4 + 1e-3 * |reference| for every output (logits or probabilities).
// 1 and 2 threads must agree bit for bit: the threads split outputs, never a sum.
#include <ratio>

#include <typenet/zoo/alexnet.hpp>
#include <typenet/zoo/lenet.hpp>

#include "simd_util.hpp"

namespace tn = typenet;
using namespace typenet::test;

namespace {

template <class Net>
void check_network(int max_batch, std::uint64_t seed, const char* name) {
  tn::params<Net> p;
  tn::init_he(p, seed);
  std::vector<float> in(static_cast<std::size_t>(max_batch * Net::input_shape::size));
  tn::fill_uniform(in, seed + 100);
  const auto want = run_policy<Net, tn::exec::reference_t>(p, in, max_batch);
  const auto one = run_simd<Net>(p, in, max_batch, 1);
  const auto two = run_simd<Net>(p, in, max_batch, 2);
  expect_close(one, want, std::string(name) + " 1 thread batch " + std::to_string(max_batch));
  CHECK(one == two);
  // Batch 1 on a model built for one image, and the first image of the larger batch.
  std::vector<float> in1(in.begin(), in.begin() + Net::input_shape::size);
  const auto single = run_simd<Net>(p, in1, 1, 2);
  expect_close(single, head(want, Net::output_shape::size), std::string(name) + " batch 1");
}

template <class Net>
void check_small(std::uint64_t seed, const char* name) {
  for (int batch : {1, 2, 5}) {
    INFO(name << " batch " << batch);
    check_network<Net>(batch, seed + batch, name);
  }
}

using paper_lrn = tn::lrn<5, std::ratio<1, 10000>, std::ratio<3, 4>, std::ratio<2>>;

// Stride 2, pad 1, floor rounding, 5 -> 20 channels, fused max pool with ceil rounding.
struct net_stride_pad
    : tn::network<tn::input<5, 17, 19>, tn::conv2d<20, tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::floor_mode>,
                  tn::relu, tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>, tn::flatten, tn::dense<7>> {};

// Groups with 2 input and 3 output channels per group, fused LRN and floor-rounded pool, softmax.
struct net_groups
    : tn::network<tn::input<6, 15, 15>, tn::conv2d<9, tn::kernel<3>, tn::pad<1>, tn::groups<3>>, tn::relu, tn::lrn<3>,
                  tn::max_pool<tn::kernel<2>, tn::stride<2>, tn::floor_mode>,
                  tn::conv2d<12, tn::kernel<3>, tn::groups<3>>, tn::relu, tn::flatten, tn::dense<5>, tn::softmax> {};

// Groups whose channels fill 2 and 3 vectors; fused average pool with padding and ceil rounding.
struct net_wide_groups
    : tn::network<tn::input<32, 9, 9>, tn::conv2d<64, tn::kernel<3>, tn::pad<1>, tn::groups<2>>, tn::relu,
                  tn::conv2d<96, tn::kernel<1>, tn::groups<2>>,
                  tn::avg_pool<tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::ceil_mode>, tn::flatten, tn::dense<10>> {};

// Non-square kernel, stride and pad; stride-1 average pool; adaptive pool; two dense layers.
struct net_odd : tn::network<tn::input<3, 23, 29>,
                             tn::conv2d<50, tn::kernel<5, 3>, tn::stride<2, 3>, tn::pad<2, 1>, tn::floor_mode>,
                             tn::relu, tn::avg_pool<tn::kernel<2>>, tn::adaptive_avg_pool<3, 4>, tn::flatten,
                             tn::dense<17>, tn::relu, tn::dense<3>> {};

// A spatial output (converted back to NCHW), convolutions without ReLU, pad larger than the kernel half.
struct net_spatial_out : tn::network<tn::input<4, 12, 12>, tn::conv2d<33, tn::kernel<3>, tn::pad<2>>,
                                     tn::conv2d<7, tn::kernel<2>, tn::stride<2>, tn::floor_mode>> {};

// Standalone max pool with padding, ReLU and LRN; a 100-channel conv (a partial block); a flattened
// NHWC tensor through ReLU and softmax to the output (flatten order must be C, H, W).
struct net_standalone
    : tn::network<tn::input<16, 10, 10>, tn::max_pool<tn::kernel<3>, tn::stride<1>, tn::pad<1>>, tn::relu, paper_lrn,
                  tn::conv2d<100, tn::kernel<3>>, tn::flatten, tn::relu, tn::softmax> {};

// A flat input.
struct net_flat : tn::network<tn::input<37>, tn::dense<19>, tn::relu, tn::dropout<50>, tn::dense<23>, tn::softmax> {};

// A long row: several tiles, edge tiles on both sides; a 1x5 kernel with a 1x2 stride.
struct net_long_rows : tn::network<tn::input<8, 6, 70>, tn::conv2d<16, tn::kernel<3>, tn::pad<1>>, tn::relu,
                                   tn::conv2d<40, tn::kernel<1, 5>, tn::stride<1, 2>, tn::pad<0, 2>, tn::floor_mode>,
                                   tn::relu, tn::avg_pool<tn::kernel<2>, tn::stride<2>, tn::floor_mode>> {};

// conv1's shape in small: 3 channels, 11x11, stride 4.
struct net_conv1_like : tn::network<tn::input<3, 35, 35>, tn::conv2d<24, tn::kernel<11>, tn::stride<4>>, tn::relu,
                                    tn::max_pool<tn::kernel<3>, tn::stride<2>>, tn::flatten, tn::dense<4>> {};

// 3x3 / stride 1 / pad 1 layers take the Winograd path: odd sizes, 20 -> 70 -> 24 channels, fused pool; the
// second on 9 x 10 after the pool (25 output tiles, the least exec::simd takes Winograd for).
struct net_winograd : tn::network<tn::input<20, 19, 21>, tn::conv2d<70, tn::kernel<3>, tn::pad<1>>, tn::relu,
                                  tn::max_pool<tn::kernel<2>, tn::stride<2>, tn::floor_mode>,
                                  tn::conv2d<24, tn::kernel<3>, tn::pad<1>>, tn::flatten, tn::dense<5>> {};
static_assert(tn::exec::simd_detail::build<tn::exec::simd_detail::nhwc_layout<20, 19, 21>,
                                           tn::fusion::stages_t<net_winograd>, xsimd::default_arch>::exec::winograd);

}  // namespace

TEST_CASE("simd matches reference: stride, pad, floor and ceil rounding") {
  check_small<net_stride_pad>(1, "stride_pad");
}
TEST_CASE("simd matches reference: small groups, fused lrn") { check_small<net_groups>(2, "groups"); }
TEST_CASE("simd matches reference: groups of whole vectors, fused avg pool") {
  check_small<net_wide_groups>(3, "wide_groups");
}
TEST_CASE("simd matches reference: non-square windows, adaptive pool") { check_small<net_odd>(4, "odd"); }
TEST_CASE("simd matches reference: spatial output") { check_small<net_spatial_out>(5, "spatial_out"); }
TEST_CASE("simd matches reference: standalone layers, flattened softmax") {
  check_small<net_standalone>(6, "standalone");
}
TEST_CASE("simd matches reference: flat input") { check_small<net_flat>(7, "flat"); }
TEST_CASE("simd matches reference: long rows") { check_small<net_long_rows>(8, "long_rows"); }
TEST_CASE("simd matches reference: conv1-like stride 4") { check_small<net_conv1_like>(9, "conv1_like"); }

TEST_CASE("simd matches reference: winograd layers") { check_small<net_winograd>(10, "winograd"); }

TEST_CASE("simd matches reference: zoo lenet5") { check_network<tn::zoo::lenet5>(3, 21, "lenet5"); }
TEST_CASE("simd matches reference: zoo seed_alexnet") { check_network<tn::zoo::seed_alexnet>(3, 22, "seed_alexnet"); }
TEST_CASE("simd matches reference: zoo torchvision_alexnet") {
  check_network<tn::zoo::torchvision_alexnet>(3, 23, "torchvision_alexnet");
}
TEST_CASE("simd matches reference: zoo caffe_alexnet") {
  check_network<tn::zoo::caffe_alexnet>(3, 24, "caffe_alexnet");
}

TEST_CASE("simd rejects bad sizes with clear errors") {
  tn::params<tn::zoo::lenet5> p;
  tn::exec::simd<> zero;
  zero.threads = 0;
  CHECK_THROWS_WITH_AS((tn::model<tn::zoo::lenet5, tn::exec::simd<>>(p, 2, zero)),
                       "typenet: exec::simd: threads must be at least 1, got 0", std::invalid_argument);
  tn::model<tn::zoo::lenet5, tn::exec::simd<>> m(p, 2);
  std::vector<float> in(3 * 1024), out(3 * 10);
  CHECK_THROWS_AS(m.forward(in.data(), out.data(), 3), std::invalid_argument);
  CHECK_THROWS_WITH_AS(m.program().run(in.data(), out.data(), 3), "typenet: exec::simd: batch 3 is outside 1..2",
                       std::invalid_argument);
}
