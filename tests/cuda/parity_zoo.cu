// tests/cuda/parity_zoo.cu: exec::cuda against exec::reference on every zoo network, batch 1 and an odd
// batch of 3, in fp32 and tf32x3 (atol 1e-4 + rtol 1e-3), TF32 and fp16 (1e-2 relative to the output's
// largest value) and bf16 (4e-2 of it), each with Winograd convolutions (exec::cuda's default) and with
// direct ones (.winograd = false).
// lenet5 also runs at batches 128, 131 and 256, where the dense layers take 128-image column tiles (the
// AlexNets' reference passes at such batches would take minutes; parity_shapes covers larger dense layers).
// Also one NaN pixel through each AlexNet (the layer-by-layer non-finite tests are in nonfinite.cu; this one
// is here because this translation unit compiles the AlexNets' programs anyway).
#define DOCTEST_CONFIG_IMPLEMENT
#include <limits>

#include "../simd/nonfinite_util.hpp"
#include "cuda_test_util.hpp"

#include <typenet/zoo/alexnet.hpp>
#include <typenet/zoo/lenet.hpp>

namespace tn = typenet;
namespace zoo = typenet::zoo;
namespace nf = typenet::test::nonfinite;
using typenet::exec::cuda_math;
using typenet_cuda_test::check_parity;
using typenet_cuda_test::conv_algo;
using typenet_cuda_test::forward;
using typenet_cuda_test::tolerances;
const std::vector<cuda_math> all_maths{cuda_math::fp32, cuda_math::tf32, cuda_math::tf32x3, cuda_math::fp16,
                                       cuda_math::bf16};

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

namespace {

/// One NaN pixel in image 0 of a batch of 2: every output of image 0 is NaN under the reference and
/// exec::cuda (default policy, each math); image 1 matches the reference.
template <class Net>
void check_nan_pixel(const char* name, std::uint64_t seed) {
  tn::params<Net> p;
  tn::init_he(p, seed);
  constexpr auto e = nf::extents_of<typename Net::input_shape>();
  constexpr std::size_t image = Net::input_shape::size, outputs = Net::output_shape::size;
  std::vector<float> in(2 * image);
  tn::fill_uniform(in, seed + 1);
  in[(std::size_t(e.c > 1 ? 1 : 0) * e.h + e.h / 2) * e.w + e.w / 3] = std::numeric_limits<float>::quiet_NaN();
  tn::model<Net, tn::exec::reference_t> ref(p, 2);
  const auto want = forward(ref, in, 2);
  for (cuda_math math : all_maths) {
    for (conv_algo algo : {conv_algo::winograd, conv_algo::direct}) {
      tn::model<Net, tn::exec::cuda> gpu(p, 2, typenet_cuda_test::policy_for(math, algo));
      const auto got = forward(gpu, in, 2);
      std::size_t want_nan = 0, got_nan = 0;
      for (std::size_t i = 0; i < outputs; ++i) {
        want_nan += std::isnan(want[i]) ? 1 : 0;
        got_nan += std::isnan(got[i]) ? 1 : 0;
      }
      const std::vector<float> w1(want.begin() + outputs, want.end());
      double atol, rtol;
      tolerances(math, w1, atol, rtol);
      const nf::report rest = nf::compare(std::vector<float>(got.begin() + outputs, got.end()), w1, atol, rtol);
      std::printf("nonfinite %-20s %-6s conv=%-8s: image 0 NaN reference %zu, cuda %zu of %zu; image 1: %s\n", name,
                  typenet_cuda_test::math_name(math), typenet_cuda_test::conv_name(algo), want_nan, got_nan, outputs,
                  rest.describe().c_str());
      std::fflush(stdout);
      INFO(std::string(name) << " " << std::string(typenet_cuda_test::math_name(math)) << " conv "
                             << std::string(typenet_cuda_test::conv_name(algo)) << ": NaN in image 0: reference "
                             << want_nan << ", cuda " << got_nan << " of " << outputs
                             << "; image 1: " << rest.describe());
      CHECK(want_nan == outputs);
      CHECK(got_nan == outputs);
      CHECK(rest.ok({}));
    }
  }
}

}  // namespace

TEST_CASE("cuda non-finite: one NaN pixel through the zoo AlexNets") {
  check_nan_pixel<tn::zoo::seed_alexnet>("seed_alexnet", 51);
  check_nan_pixel<tn::zoo::torchvision_alexnet>("torchvision_alexnet", 52);
  check_nan_pixel<tn::zoo::caffe_alexnet>("caffe_alexnet", 53);
}

TEST_CASE("cuda non-finite: one NaN pixel through the zoo AlexNets") {
  check_nan_pixel<zoo::seed_alexnet>("seed_alexnet", 51);
  check_nan_pixel<zoo::torchvision_alexnet>("torchvision_alexnet", 52);
  check_nan_pixel<zoo::caffe_alexnet>("caffe_alexnet", 53);
}

TYPENET_CUDA_TEST_MAIN
