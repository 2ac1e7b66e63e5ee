// tests/cuda/parity_zoo.cu: exec::cuda against exec::reference on every zoo network, batch 1 and an odd
// batch of 3, in fp32 and tf32x3 (atol 1e-4 + rtol 1e-3) and TF32 (1e-2 relative to the output's largest
// value), each with Winograd convolutions (exec::cuda's default) and with direct ones (.winograd = false).
// lenet5 also runs at batches 128, 131 and 256, where the dense layers take 128-image column tiles (the
// AlexNets' reference passes at such batches would take minutes; parity_shapes covers larger dense layers).
#define DOCTEST_CONFIG_IMPLEMENT
#include "cuda_test_util.hpp"

#include <typenet/zoo/networks.hpp>

namespace zoo = typenet::zoo;
using typenet::exec::cuda_math;
using typenet_cuda_test::check_parity;
const std::vector<cuda_math> all_maths{cuda_math::fp32, cuda_math::tf32, cuda_math::tf32x3};

TEST_CASE("cuda parity: lenet5") { check_parity<zoo::lenet5>("lenet5", 11, {1, 3, 5}, all_maths); }
TEST_CASE("cuda parity: lenet5 at batches 128, 131, 256 (128-image dense column tiles)") {
  check_parity<zoo::lenet5>("lenet5", 15, {128, 131, 256}, all_maths,
                            {typenet_cuda_test::conv_algo::winograd, typenet_cuda_test::conv_algo::direct,
                             typenet_cuda_test::conv_algo::automatic});
}
TEST_CASE("cuda parity: seed_alexnet") { check_parity<zoo::seed_alexnet>("seed_alexnet", 12, {1, 3}, all_maths); }
TEST_CASE("cuda parity: torchvision_alexnet") {
  check_parity<zoo::torchvision_alexnet>("torchvision_alexnet", 13, {1, 3}, all_maths);
}
TEST_CASE("cuda parity: caffe_alexnet") { check_parity<zoo::caffe_alexnet>("caffe_alexnet", 14, {1, 3}, all_maths); }

TYPENET_CUDA_TEST_MAIN
