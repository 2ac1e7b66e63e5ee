// tests/cuda/parity_graph.cu: exec::cuda's graph program (networks with blocks: residual joins, concat,
// batch norm folded into the convolutions, depthwise convolutions, relu6) against exec::reference, in fp32,
// tf32, tf32x3, fp16 and bf16 (ResNet-50: fp32 and tf32x3), with Winograd and with direct convolutions, at batch 1 and
// an odd batch of 3. The small networks of tests/graph_nets.hpp reach each path on its own; the zoo networks
// (ResNet-18/50, MobileNetV2, SqueezeNet 1.1) check them together at full size. Batch-norm statistics are random and
// far from (0, 1).
#define DOCTEST_CONFIG_IMPLEMENT
#include <limits>
#include <memory>

#include "../graph_nets.hpp"
#include "cuda_test_util.hpp"

#include <typenet/zoo/mobilenet.hpp>
#include <typenet/zoo/resnet.hpp>
#include <typenet/zoo/squeezenet.hpp>

namespace tn = typenet;
namespace zoo = typenet::zoo;
namespace gn = typenet::test::graph_nets;
using typenet::exec::cuda_math;
using typenet_cuda_test::check_parity;
using typenet_cuda_test::conv_algo;
using typenet_cuda_test::forward;
const std::vector<cuda_math> all_maths{cuda_math::fp32, cuda_math::tf32, cuda_math::tf32x3, cuda_math::fp16,
                                       cuda_math::bf16};

template <class Net>
using cuda_program = typename tn::model<Net, tn::exec::cuda>::program_type;

namespace {
template <class Net>
void check_graph(const char* name, std::uint64_t seed, std::vector<int> batches = {1, 3},
                 std::vector<cuda_math> maths = all_maths, bool cuda_graphs = true) {
  const auto p = std::make_unique<tn::params<Net>>(gn::random_params<Net>(seed));
  check_parity<Net>(name, *p, seed, std::move(batches), std::move(maths), typenet_cuda_test::both_convs, cuda_graphs);
}
}  // namespace

TEST_CASE("cuda graph: every layer of the test networks and the zoo runs a CUDA kernel") {
  CHECK(cuda_program<gn::residual_net>::fallback_layers().empty());
  CHECK(cuda_program<gn::depthwise_net>::fallback_layers().empty());
  CHECK(cuda_program<gn::concat_net>::fallback_layers().empty());
  CHECK(cuda_program<gn::fallback_net>::fallback_layers().empty());  // NCHW: softmax reads the flat value
  CHECK(cuda_program<gn::flat_fallback_net>::fallback_layers().empty());
  CHECK(cuda_program<zoo::resnet50>::fallback_layers().empty());
  CHECK(cuda_program<zoo::mobilenet_v2>::fallback_layers().empty());
  CHECK(cuda_program<zoo::squeezenet1_1>::fallback_layers().empty());
  // The same fused op lists as exec::simd's (tests/simd/graph_test.cpp derives the counts).
  CHECK(cuda_program<gn::residual_net>::fused_ops == 7);
  CHECK(cuda_program<gn::depthwise_net>::fused_ops == 10);
  CHECK(cuda_program<gn::concat_net>::fused_ops == 10);
}

TEST_CASE("cuda graph: residual blocks (Winograd and direct, identity and projection shortcuts)") {
  check_graph<gn::residual_net>("residual_net", 11);
}
TEST_CASE("cuda graph: depthwise convolutions and an inverted residual") {
  check_graph<gn::depthwise_net>("depthwise_net", 12);
}
TEST_CASE("cuda graph: concat, stand-alone batch norm, relu6 and join") {
  check_graph<gn::concat_net>("concat_net", 13);
}
TEST_CASE("cuda graph: softmax and relu6 after flatten") {
  check_graph<gn::fallback_net>("fallback_net", 14);
  check_graph<gn::flat_fallback_net>("flat_fallback_net", 16);
}

TEST_CASE("cuda graph: the zoo's networks with blocks") {
  check_graph<zoo::resnet18>("resnet18", 21);
  check_graph<zoo::resnet50>("resnet50", 22, {1, 3}, {cuda_math::fp32, cuda_math::tf32x3});
  check_graph<zoo::mobilenet_v2>("mobilenet_v2", 23);
  check_graph<zoo::squeezenet1_1>("squeezenet1_1", 24);
}

TEST_CASE("cuda graph: every kernel launched on its own (policy cuda_graphs = false)") {
  check_graph<gn::residual_net>("residual_net graphs=off", 11, {1, 3}, {cuda_math::fp32}, false);
  check_graph<gn::depthwise_net>("depthwise_net graphs=off", 12, {1, 3}, {cuda_math::fp32}, false);
  check_graph<gn::concat_net>("concat_net graphs=off", 13, {1, 3}, {cuda_math::fp32}, false);
  check_graph<zoo::mobilenet_v2>("mobilenet_v2 graphs=off", 23, {1, 3}, {cuda_math::fp32}, false);
}

TEST_CASE("cuda graph: a moved program replays the graphs it captured, and captures new ones") {
  using Net = gn::residual_net;
  const auto p = std::make_unique<tn::params<Net>>(gn::random_params<Net>(17));
  constexpr auto in_size = Net::input_shape::size, out_size = Net::output_shape::size;
  std::vector<float> in(4 * in_size);
  tn::fill_uniform(in, 18);
  tn::model<Net, tn::exec::reference_t> ref(*p, 4);
  const auto want = forward(ref, in, 4);
  cuda_program<Net> first(*p, 4);
  std::vector<float> got(4 * out_size);
  first.run(in.data(), got.data(), 2);  // captures batch 2
  cuda_program<Net> moved(std::move(first));
  for (int b : {2, 4}) {  // batch 2 replayed, batch 4 captured by the moved program
    std::fill(got.begin(), got.end(), -12345.f);
    moved.run(in.data(), got.data(), b);
    const std::vector<float> g(got.begin(), got.begin() + b * out_size), w(want.begin(), want.begin() + b * out_size);
    const auto c = typenet_cuda_test::compare(g, w, typenet_cuda_test::fp32_tolerance);
    INFO("batch " << b << ": max |diff| " << c.max_abs_diff << ", failures " << c.failures);
    CHECK(c.failures == 0);
  }
}

TEST_CASE("cuda graph: NaN and infinity pass through folded batch norm, relu6 and the joins") {
  // One NaN and one +inf in image 0; image 1 finite. The reference decides which outputs are non-finite.
  auto check = [](auto net_tag, const char* name) {
    using Net = typename decltype(net_tag)::type;
    const auto p = std::make_unique<tn::params<Net>>(gn::random_params<Net>(31));
    std::vector<float> in(2 * Net::input_shape::size);
    tn::fill_uniform(in, 32);
    in[3] = std::numeric_limits<float>::quiet_NaN();
    in[Net::input_shape::size / 2] = std::numeric_limits<float>::infinity();
    tn::model<Net, tn::exec::reference_t> ref(*p, 2);
    const auto want = forward(ref, in, 2);
    for (cuda_math math : all_maths) {
      tn::model<Net, tn::exec::cuda> gpu(*p, 2, typenet_cuda_test::policy_for(math, conv_algo::winograd));
      const auto got = forward(gpu, in, 2);
      std::size_t want_nonfinite = 0, mismatched = 0;
      for (std::size_t i = 0; i < want.size(); ++i) {
        want_nonfinite += std::isfinite(want[i]) ? 0 : 1;
        mismatched += (std::isnan(want[i]) != std::isnan(got[i]) || std::isinf(want[i]) != std::isinf(got[i])) ? 1 : 0;
      }
      INFO(std::string(name) << " " << std::string(typenet_cuda_test::math_name(math)) << ": " << want_nonfinite
                             << " non-finite outputs in the reference, " << mismatched
                             << " outputs of another class under cuda");
      CHECK(want_nonfinite > 0);
      CHECK(mismatched == 0);
    }
  };
  check(std::type_identity<gn::depthwise_net>{}, "depthwise_net");
  check(std::type_identity<gn::concat_net>{}, "concat_net");
  check(std::type_identity<gn::residual_net>{}, "residual_net");
}

TYPENET_CUDA_TEST_MAIN
