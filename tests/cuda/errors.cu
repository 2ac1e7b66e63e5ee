// tests/cuda/errors.cu: the error paths of exec::cuda, runnable with or without a GPU.
// Without a usable GPU, building a program throws typenet::cuda_error naming the problem (never a hang or
// a crash). With one, a max_batch too large for the device's memory throws a cuda_error naming the
// allocation, and bad batches throw std::invalid_argument; nothing is left half-built. The trainer
// (train/cuda.hpp) refuses a reduced-precision math and, without a GPU, throws the same cuda_error.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <typenet/cuda.hpp>
#include <typenet/train/cuda.hpp>
#include <typenet/zoo/lenet.hpp>

#include "../halve_layer.hpp"
#include "doc_cuda.cu"  // docs/cuda.md's example (its function is compiled here, not called)

namespace tn = typenet;
using tn::zoo::lenet5;
// AlexNet's first layer alone: large activations (about 445,000 floats per image) at the cost of compiling
// one convolution's kernels rather than a whole AlexNet's.
using big_conv = tn::network<tn::input<3, 227, 227>, tn::conv2d<96, tn::kernel<11>, tn::stride<4>>, tn::relu>;
// Named layers (a string literal in the type) in a chain and in a graph network: nvcc's host stub cannot
// spell such a type in a kernel's template arguments, so these must compile (exec/cuda.hpp's spelled_t).
using named_chain = tn::network<tn::input<3, 16, 16>, tn::named<"features", tn::conv2d<8, tn::kernel<3>>>, tn::relu,
                                tn::flatten, tn::named<"fc", tn::dense<4>>>;
using named_graph = tn::network<
    tn::input<4, 8, 8>,
    tn::residual<tn::seq<tn::named<"conv", tn::conv2d<4, tn::kernel<3>, tn::pad<1>, tn::no_bias>>, tn::batch_norm>,
                 tn::identity, tn::relu6>,
    tn::concat<tn::named<"a", tn::conv2d<2, tn::kernel<1>>>, tn::conv2d<3, tn::kernel<3>, tn::pad<1>, tn::groups<1>>>,
    tn::flatten, tn::dense<3>>;

namespace {
bool gpu_present() {
  int count = 0;
  const bool ok = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  (void)cudaGetLastError();
  return ok;
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("exec::cuda without a GPU: building a program throws a clear cuda_error") {
  if (gpu_present()) {
    MESSAGE("a GPU is present: the no-device path is not reachable here");
    return;
  }
  tn::params<lenet5> p;
  std::string what;
  try {
    tn::model<lenet5, tn::exec::cuda> m(p, 4);
    FAIL("building exec::cuda's program without a GPU did not throw");
  } catch (const tn::cuda_error& e) {
    what = e.what();
    CHECK(e.code() != cudaSuccess);
  }
  MESSAGE(what);
  CHECK(contains(what, "typenet: exec::cuda: no usable CUDA device"));
  CHECK(contains(what, "cudaGetDeviceCount"));
  // A second attempt fails the same way (no sticky state, no hang).
  CHECK_THROWS_AS((tn::model<lenet5, tn::exec::cuda>(p, 1)), tn::cuda_error);
}

TEST_CASE("exec::cuda training: a math other than fp32 is refused; without a GPU, a clear cuda_error") {
  tn::params<lenet5> p;
  tn::exec::cuda tf32;
  tf32.math = tn::exec::cuda_math::tf32;
  try {
    tn::train::trainer<lenet5, tn::exec::cuda> t(p, 4, {}, tf32);
    FAIL("a tf32 trainer was built");
  } catch (const std::invalid_argument& e) {
    CHECK(contains(e.what(), "typenet: training with exec::cuda computes in fp32; policy.math is tf32"));
  }
  if (gpu_present()) return;
  try {
    tn::train::trainer<lenet5, tn::exec::cuda> t(p, 4);
    FAIL("building exec::cuda's trainer without a GPU did not throw");
  } catch (const tn::cuda_error& e) {
    CHECK(contains(e.what(), "typenet: exec::cuda: no usable CUDA device"));
  }
}

TEST_CASE("exec::cuda: max_batch and batch are checked before any device work") {
  tn::params<lenet5> p;
  CHECK_THROWS_AS((tn::exec::cuda::program<lenet5>(p, 0, {})), std::invalid_argument);
  CHECK_THROWS_AS((tn::exec::cuda::program<big_conv>(tn::params<big_conv>{}, 1 << 30, {})), std::invalid_argument);
  CHECK_THROWS_AS((tn::exec::cuda::program<named_chain>(tn::params<named_chain>{}, 0, {})), std::invalid_argument);
  CHECK_THROWS_AS((tn::exec::cuda::program<named_graph>(tn::params<named_graph>{}, 0, {})), std::invalid_argument);
}

TEST_CASE("exec::cuda with a GPU: out of device memory is a clear cuda_error; bad batches are rejected") {
  if (!gpu_present()) {
    MESSAGE("no GPU: the out-of-memory path needs one");
    return;
  }
  tn::params<big_conv> p;
  std::string what;
  try {
    // 500000 images need at least 830 GiB of activations (input and output): more than any GPU has.
    tn::model<big_conv, tn::exec::cuda> m(p, 500000);
    FAIL("an activation buffer of over 830 GiB was allocated");
  } catch (const tn::cuda_error& e) {
    what = e.what();
    CHECK(e.code() == cudaErrorMemoryAllocation);
  }
  MESSAGE(what);
  CHECK(contains(what, "cannot allocate"));
  CHECK(contains(what, "max_batch 500000"));
  // The device is still usable afterwards.
  tn::params<lenet5> q;
  tn::init_he(q, 3);
  tn::model<lenet5, tn::exec::cuda> m(q, 2);
  std::vector<float> in(2 * 32 * 32, 0.5f), out(2 * 10, 0.f);
  m.forward(in, out, 2);
  CHECK(out[0] == out[10]);  // two equal images give equal outputs
  CHECK_THROWS_AS(m.forward(in.data(), out.data(), 3), std::invalid_argument);
}

TEST_CASE("exec::cuda: a layer of one's own runs on its reference kernel (found in its own namespace)") {
  using custom = tn::network<tn::input<8>, tn::dense<8>, mine::halve, tn::dense<3>>;
  tn::params<custom> p;
  tn::init_he(p, 5);
  if (!gpu_present()) {
    CHECK_THROWS_AS((tn::model<custom, tn::exec::cuda>(p, 2)), tn::cuda_error);
    return;
  }
  std::vector<float> in(2 * 8), got(2 * 3), want(2 * 3);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i % 5) - 2.f;
  tn::model<custom, tn::exec::cuda>(p, 2).forward(in, got, 2);
  tn::model<custom, tn::exec::reference_t>(p, 2).forward(in, want, 2);
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-5).scale(1e-6));
}

TEST_CASE("exec::cuda: the trainer of a network with a layer of one's own builds, or fails cleanly") {
  // It compiles (the layer runs on the host between the GPU's kernels); cuda.train_parity checks its steps
  // against the reference trainer on a GPU.
  using custom = tn::network<tn::input<8>, tn::dense<8>, mine::halve, tn::dense<3>>;
  tn::params<custom> p;
  tn::init_he(p, 6);
  if (!gpu_present()) {
    CHECK_THROWS_AS((tn::train::trainer<custom, tn::exec::cuda>(p, 2)), tn::cuda_error);
    return;
  }
  tn::train::trainer<custom, tn::exec::cuda> t(p, 2);
  CHECK(t.kernels().fallback_layers() == std::vector<std::string>{"1 (halve)"});
}
