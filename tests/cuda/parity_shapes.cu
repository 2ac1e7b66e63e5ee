// tests/cuda/parity_shapes.cu: exec::cuda against exec::reference on layer shapes chosen to reach every
// kernel path: rectangular kernels, strides and pads, floor and ceil rounding, groups, LRN with a
// non-3/4 beta, max and average pooling (padded, ceil), adaptive pooling, stand-alone ReLU / pool / LRN
// stages, channel counts that are not tile multiples, k-split GEMMs, flat inputs, dense + softmax.
// Batches are drawn at random (fixed seed) from 1..9 per network.
#define DOCTEST_CONFIG_IMPLEMENT
#include "cuda_test_util.hpp"

#include <random>
#include <ratio>

namespace tn = typenet;
using typenet::exec::cuda_math;
using typenet_cuda_test::check_parity;

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

std::vector<int> random_batches(std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_int_distribution<int> d(1, 9);
  return {1, d(g), d(g)};
}

template <class Net>
void both(const char* name, std::uint64_t seed) {
  const std::vector<int> batches = random_batches(seed);
  check_parity<Net>(name, seed, batches, {cuda_math::fp32, cuda_math::tf32, cuda_math::tf32x3});
}

}  // namespace

TEST_CASE("cuda parity: conv floor, avg pool ceil+pad, dense softmax") { both<net_a>("net_a", 21); }
TEST_CASE("cuda parity: groups, lrn, 130 channels, adaptive pool") { both<net_b>("net_b", 22); }
TEST_CASE("cuda parity: flat input, dense, softmax") { both<net_c>("net_c", 23); }
TEST_CASE("cuda parity: stand-alone relu, pool, lrn") { both<net_d>("net_d", 24); }
TEST_CASE("cuda parity: k split") { both<net_e>("net_e", 25); }
TEST_CASE("cuda parity: grouped conv + lrn + ceil pool fused") { both<net_f>("net_f", 26); }

TYPENET_CUDA_TEST_MAIN
