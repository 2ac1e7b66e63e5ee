// One NaN pixel in image 0 of every zoo network makes every output of image 0 NaN under exec::simd as under
// exec::reference (issue 10: with max pooling's NaN test broken, the AlexNets gave finite outputs), and
// image 1 (finite) matches the reference. Its own file: the zoo networks take long to compile, and
// tools/mutate.py rebuilds the per-layer tests (nonfinite_test.cpp) for each mutant.
#include <cmath>
#include <limits>

#include <typenet/zoo/alexnet.hpp>
#include <typenet/zoo/lenet.hpp>

#include "nonfinite_util.hpp"
#include "simd_util.hpp"

namespace tn = typenet;
namespace nf = typenet::test::nonfinite;
using namespace typenet::test;

namespace {

/// One NaN pixel in image 0 of a batch of 2: every output of image 0 is NaN under both policies; image 1
/// matches the reference.
template <class Net>
void check_nan_pixel(const char* name, std::uint64_t seed) {
  tn::params<Net> p;
  tn::init_he(p, seed);
  constexpr auto e = nf::extents_of<typename Net::input_shape>();
  constexpr std::size_t image = Net::input_shape::size, outputs = Net::output_shape::size;
  std::vector<float> in(2 * image);
  tn::fill_uniform(in, seed + 1);
  in[(std::size_t(e.c > 1 ? 1 : 0) * e.h + e.h / 2) * e.w + e.w / 3] = std::numeric_limits<float>::quiet_NaN();
  const auto want = run_policy<Net, tn::exec::reference_t>(p, in, 2);
  const auto got = run_simd<Net>(p, in, 2, 2);
  std::size_t want_nan = 0, got_nan = 0;
  for (std::size_t i = 0; i < outputs; ++i) {
    want_nan += std::isnan(want[i]) ? 1 : 0;
    got_nan += std::isnan(got[i]) ? 1 : 0;
  }
  INFO(std::string(name) << ": image 0 has " << outputs << " outputs; NaN: reference " << want_nan << ", simd "
                         << got_nan);
  CHECK(want_nan == outputs);
  CHECK(got_nan == outputs);
  expect_close(std::vector<float>(got.begin() + outputs, got.end()),
               std::vector<float>(want.begin() + outputs, want.end()), std::string(name) + " image 1");
}

}  // namespace

TEST_CASE("simd non-finite: one NaN pixel through the zoo networks") {
  check_nan_pixel<tn::zoo::seed_alexnet>("seed_alexnet", 51);
  check_nan_pixel<tn::zoo::torchvision_alexnet>("torchvision_alexnet", 52);
  check_nan_pixel<tn::zoo::caffe_alexnet>("caffe_alexnet", 53);
  check_nan_pixel<tn::zoo::lenet5>("lenet5", 54);
}
