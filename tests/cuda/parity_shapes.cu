// tests/cuda/parity_shapes.cu: exec::cuda against exec::reference on layer shapes chosen to reach every
// kernel path: rectangular kernels, strides and pads, floor and ceil rounding, groups, LRN with a
// non-3/4 beta, max and average pooling (padded, ceil), adaptive pooling, stand-alone ReLU / pool / LRN
// stages, channel counts that are not tile multiples, k-split GEMMs, flat inputs, dense + softmax, and
// Winograd's edges (stride-1 3x3 / 5x5 convolutions, padded and not, on output sizes that are no multiple
// of a tile). Every network runs in every math, with Winograd convolutions and with direct ones.
// Batches are drawn at random (fixed seed) from 1..9 per network. The large-batch cases run batches 127,
// 128, 131 and 256, where exec::cuda's dense layers switch to 128-image column tiles (from 128 on; 131
// leaves a partial tile of 3) and the default policy's Winograd switch is passed: dense layers with row,
// k and column edges, a k-split dense layer, and conv + dense networks, with the default policy too.
#define DOCTEST_CONFIG_IMPLEMENT
#include "cuda_test_util.hpp"

#include <random>
#include <ratio>

namespace tn = typenet;
using typenet::exec::cuda_math;
using typenet_cuda_test::check_parity;
using typenet_cuda_test::conv_algo;

namespace {

struct net_a : tn::network<tn::input<3, 17, 19>,
                           tn::conv2d<5, tn::kernel<3, 2>, tn::stride<2, 1>, tn::pad<1, 0>, tn::floor_mode>, tn::relu,
                           tn::avg_pool<tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::ceil_mode>,  //
                           tn::flatten, tn::dense<7>, tn::softmax> {};

struct net_b : tn::network<tn::input<8, 12, 12>, tn::conv2d<12, tn::kernel<3>, tn::pad<1>, tn::groups<4>>, tn::lrn<3>,
                           tn::max_pool<tn::kernel<2>, tn::stride<2>>,  //
                           tn::conv2d<130, tn::kernel<1>>, tn::relu,    // 130 channels: two row tiles
                           tn::adaptive_avg_pool<4, 3>, tn::flatten, tn::dense<33>, tn::relu, tn::dense<5>> {};

struct net_c : tn::network<tn::input<300>, tn::dense<70>, tn::relu, tn::dropout<50>, tn::dense<129>, tn::softmax> {};

struct net_d
    : tn::network<tn::input<4, 9, 9>, tn::relu,                                      // stand-alone relu
                  tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>,         // stand-alone pool
                  tn::lrn<4, std::ratio<1, 2>, std::ratio<1, 2>, std::ratio<3, 2>>,  // beta 1/2
                  tn::conv2d<6, tn::kernel<5>, tn::stride<3>, tn::pad<2>, tn::floor_mode>, tn::flatten, tn::dense<3>> {
};

// Few output values and a long k: the GEMMs split k across blocks.
struct net_e : tn::network<tn::input<256, 4, 4>, tn::conv2d<32, tn::kernel<3>, tn::pad<1>>, tn::relu, tn::flatten,
                           tn::dense<10>> {};

// Grouped conv with LRN and ceil max-pool fused (the caffe stage shape, small), then avg pool.
struct net_f
    : tn::network<tn::input<6, 15, 15>, tn::conv2d<70, tn::kernel<5>, tn::stride<2>, tn::pad<2>, tn::groups<2>>,
                  tn::relu, tn::lrn<5, std::ratio<1, 10000>, std::ratio<3, 4>, std::ratio<2>>,
                  tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>,
                  tn::conv2d<9, tn::kernel<2>, tn::floor_mode>, tn::avg_pool<tn::kernel<2>>> {};

// Winograd's edges: 3x3 without padding and 5x5 / 3x3 with it, on 9 x 12 outputs (no multiple of 2, 4 or
// 6 in one direction), 3 input channels, 130 output channels (two row tiles), a 5x5 without padding last.
struct net_g : tn::network<tn::input<3, 11, 14>, tn::conv2d<16, tn::kernel<3>>, tn::relu,  // 16 x 9 x 12
                           tn::conv2d<20, tn::kernel<5>, tn::pad<2>>, tn::relu,            // 20 x 9 x 12
                           tn::conv2d<130, tn::kernel<3>, tn::pad<1>>, tn::relu,           // 130 x 9 x 12
                           tn::conv2d<7, tn::kernel<5>>, tn::flatten, tn::dense<5>> {};    // 7 x 5 x 8

// Dense layers only: 1000 and 130 rows (no multiple of the 128-row tile), k = 2304 and 1000 (1000 is no
// multiple of the k tile), softmax at the end.
struct net_h : tn::network<tn::input<2304>, tn::dense<1000>, tn::relu, tn::dense<130>, tn::softmax> {};

// A long k and few outputs: the dense GEMM splits k across blocks.
struct net_i : tn::network<tn::input<4096>, tn::dense<10>> {};

std::vector<int> random_batches(std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_int_distribution<int> d(1, 9);
  return {1, d(g), d(g)};
}

// Every math; check_parity runs each with Winograd and with direct convolutions.
template <class Net>
void both(const char* name, std::uint64_t seed) {
  const std::vector<int> batches = random_batches(seed);
  check_parity<Net>(name, seed, batches,
                    {cuda_math::fp32, cuda_math::tf32, cuda_math::tf32x3, cuda_math::fp16, cuda_math::bf16});
}

}  // namespace

TEST_CASE("cuda parity: conv floor, avg pool ceil+pad, dense softmax") { both<net_a>("net_a", 21); }
TEST_CASE("cuda parity: groups, lrn, 130 channels, adaptive pool") { both<net_b>("net_b", 22); }
TEST_CASE("cuda parity: flat input, dense, softmax") { both<net_c>("net_c", 23); }
TEST_CASE("cuda parity: stand-alone relu, pool, lrn") { both<net_d>("net_d", 24); }
TEST_CASE("cuda parity: k split") { both<net_e>("net_e", 25); }
TEST_CASE("cuda parity: grouped conv + lrn + ceil pool fused") { both<net_f>("net_f", 26); }
TEST_CASE("cuda parity: winograd edges (odd sizes, unpadded, 5x5, 130 channels)") { both<net_g>("net_g", 27); }
TEST_CASE("cuda parity: the policy's default switches from direct to Winograd with the batch") {
  // With F(4,.) tiles net_g's first three convolutions (9 x 12 outputs) have 9 tiles, the last (5 x 8) 4:
  // at batch 1 and 9 all four run direct, at 40 the first three take Winograd (360 columns) and the last
  // does not (160), at 64 all four do (tf32: the 3x3 layers with F(2,3) tiles, 5x5 direct). What this
  // checks is parity under the default policy at each of those mixes; cuda_bench shows the timings.
  check_parity<net_g>("net_g", 28, {1, 9, 40, 64},
                      {cuda_math::fp32, cuda_math::tf32, cuda_math::tf32x3, cuda_math::fp16, cuda_math::bf16},
                      {conv_algo::automatic});
}

// Batches around exec::cuda's 128-image dense column tiles: just below (127), exactly one tile (128), a tile
// and a partial one (131), two tiles (256).
const std::vector<int> large_batches{127, 128, 131, 256};
const std::vector<cuda_math> every_math{cuda_math::fp32, cuda_math::tf32, cuda_math::tf32x3, cuda_math::fp16,
                                        cuda_math::bf16};

TEST_CASE("cuda parity, large batches: dense layers in 128-image column tiles (row, k and column edges)") {
  check_parity<net_h>("net_h", 29, large_batches, every_math, {conv_algo::direct});
}
TEST_CASE("cuda parity, large batches: k-split dense layer in 128-image column tiles") {
  check_parity<net_i>("net_i", 30, large_batches, every_math, {conv_algo::direct});
}
TEST_CASE("cuda parity, large batches: conv + dense networks, forced Winograd, direct and the default policy") {
  check_parity<net_b>("net_b", 31, large_batches, every_math,
                      {conv_algo::winograd, conv_algo::direct, conv_algo::automatic});
  check_parity<net_g>("net_g", 32, large_batches, every_math,
                      {conv_algo::winograd, conv_algo::direct, conv_algo::automatic});
}

TYPENET_CUDA_TEST_MAIN
