// exec::simd on networks with blocks: the fused op list (batch norm folded, residual join and activation in
// a convolution's epilogue) against exec::reference, which evaluates every layer literally. Small networks
// that reach each path: Winograd and direct convolutions with a residual, a projection shortcut, depthwise
// convolutions (strides 1 and 2, 3x3 and 5x5, channel counts that leave a vector tail), concat, batch norm
// and relu6 on their own, a join no convolution absorbs, and a layer the policy has no kernel for.
// Batch-norm statistics are random and far from (0, 1), so a fold that drops a term shows.
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <typenet/zoo/networks.hpp>

#include "../graph_nets.hpp"
#include "simd_util.hpp"

namespace tn = typenet;
using namespace typenet::test;
using namespace typenet::test::graph_nets;

namespace {

template <class Net>
using simd_program = typename tn::model<Net, tn::exec::simd<>>::program_type;

/// simd against reference at batch 1 and 3, with 1 and 2 threads; inputs uniform in [-scale, scale].
template <class Net>
void check_against_reference(const std::string& name, std::uint64_t seed, float scale = 1.f) {
  const auto p = random_params<Net>(seed);
  for (int batch : {1, 3}) {
    std::vector<float> in(std::size_t(batch) * Net::input_shape::size);
    tn::fill_uniform(in, seed + std::uint64_t(batch));
    for (float& x : in) x *= scale;
    const auto want = run_policy<Net, tn::exec::reference_t>(p, in, batch);
    for (int threads : {1, 2})
      expect_close(run_simd<Net>(p, in, batch, threads), want,
                   name + " batch " + std::to_string(batch) + ", " + std::to_string(threads) + " thread(s)");
  }
}

}  // namespace

TEST_CASE("simd graph: the fused op list") {
  // residual_net: conv1+bn+relu, conv2+bn+join+relu; conv+bn+relu6, the shortcut conv+bn, conv+bn+join+relu;
  // the pool; the dense layer.
  CHECK(simd_program<residual_net>::fused_ops == 7);
  // depthwise_net: 4 conv+bn+relu6, 1 conv+bn+join (projection), 1 depthwise+bn+join+relu6, 1x1 conv,
  // 5x5 depthwise + relu, dense + (batch norm + relu on the flat vector).
  CHECK(simd_program<depthwise_net>::fused_ops == 10);
  // concat_net: conv+relu, two branch convs + relu, the join, the pool, bn+relu6, the residual's pool and
  // relu6, the join + relu, the dense layer.
  CHECK(simd_program<concat_net>::fused_ops == 10);
  CHECK(simd_program<residual_net>::fallback_layers().empty());
  CHECK(simd_program<depthwise_net>::fallback_layers().empty());
  CHECK(simd_program<concat_net>::fallback_layers().empty());
  REQUIRE(simd_program<fallback_net>::fallback_layers().size() == 1);
  CHECK(simd_program<fallback_net>::fallback_layers()[0] == "2 (softmax)");
  REQUIRE(simd_program<flat_fallback_net>::fallback_layers().size() == 1);
  CHECK(simd_program<flat_fallback_net>::fallback_layers()[0] == "2 (relu6)");
  const std::string text = tn::describe<fallback_net, tn::exec::simd<>>();
  CHECK(text.find("policy: exec::reference's kernel for 1 layer(s): 2 (softmax)") != std::string::npos);
  CHECK(tn::describe<residual_net, tn::exec::simd<>>().find("policy: its own kernels for every layer") !=
        std::string::npos);
}

// staged_net reaches three stages at a step of 4 (the default, 16, would need a 128 MB batch to).
namespace typenet::exec::simd_graph {
template <>
inline constexpr std::int64_t stage_step<lowered<test::graph_nets::staged_net>> = 4;
}  // namespace typenet::exec::simd_graph

namespace {

/// The stages of Net's program: where each begins and the images a chunk of it may hold.
template <class Net>
void check_stages(const std::vector<std::size_t>& begin, const std::vector<std::int64_t>& limit) {
  constexpr auto place = simd_program<Net>::stages::place;
  REQUIRE(place.count == static_cast<int>(begin.size()));
  for (std::size_t s = 0; s < begin.size(); ++s) {
    CHECK(place.begin[s] == begin[s]);
    CHECK(place.limit[s] == limit[s]);
  }
  CHECK(place.begin[begin.size()] == simd_program<Net>::fused_ops);
}

/// Net's program built for max_batch, run at `batch`, against exec::reference (and time_ops's pass against
/// run's).
template <class Net>
void check_batches(const std::string& name, std::uint64_t seed, int max_batch, int batch) {
  const auto p = random_params<Net>(seed);
  std::vector<float> in(std::size_t(batch) * Net::input_shape::size);
  tn::fill_uniform(in, seed + 1);
  tn::model<Net, tn::exec::simd<>> m(p, max_batch);
  std::vector<float> want(std::size_t(batch) * Net::output_shape::size), got(want.size());
  m.forward(in.data(), want.data(), batch);
  expect_close(want, run_policy<Net, tn::exec::reference_t>(p, in, batch),
               name + " batch " + std::to_string(batch) + " of " + std::to_string(max_batch));
  const auto t = m.program().time_ops(in.data(), got.data(), batch, 2);
  CHECK(got == want);
  CHECK(t.size() == simd_program<Net>::fused_ops);
}

}  // namespace

TEST_CASE("simd graph: stages run chunks of images sized to their values") {
  // tail_net: the 4 x 512 x 512 input (2^20 floats) allows 2 images per 2^21-float chunk, the pool (reading the
  // 8 x 128 x 128 map) 16: less than 16 times 2, so no stage of its own; the vector ops after it 2^21 / 16.
  CHECK(simd_program<tail_net>::chunk_images == 2);
  CHECK(simd_program<tail_net>::fused_ops == 8);
  check_stages<tail_net>({0, 2}, {2, 131072});
  {
    tn::model<tail_net, tn::exec::simd<>> m(random_params<tail_net>(1), 5);
    REQUIRE(m.program().stage_count() == 2);
    CHECK(m.program().stage_images(0) == 2);
    CHECK(m.program().stage_images(1) == 5);  // the whole batch: need not be a multiple of 2
  }
  // Batch 5 in chunks of 2, 2, 1, then the vector ops once over all 5.
  check_batches<tail_net>("tail_net", 33, 5, 5);
  check_batches<tail_net>("tail_net", 34, 5, 3);
  // staged_net (stage_step 4 above): the 8 x 240 x 240 input: 4 images; the residual block over 8 x 120 x 120
  // and the convolution after it: 18; the dense layer (reads 16 x 30 x 30 floats): 145.
  check_stages<staged_net>({0, 1, 4}, {4, 18, 145});
  tn::model<staged_net, tn::exec::simd<>> m(random_params<staged_net>(2), 21);
  REQUIRE(m.program().stage_count() == 3);
  CHECK(m.program().stage_images(0) == 4);
  CHECK(m.program().stage_images(1) == 16);  // 18 allowed: a multiple of 4, so no chunk of 4 straddles two
  CHECK(m.program().stage_images(2) == 21);
  // Batch 21: stage 0 over [0, 4) ... [12, 16), stage 1 over [0, 16) (the block's input, written by stage 0
  // into stage 1's arena at each chunk's image), stage 0 over [16, 20) and [20, 21), stage 1 over [16, 21),
  // stage 2 over [0, 21). Batches 18 and 1: partial chunks.
  check_batches<staged_net>("staged_net", 35, 21, 21);
  check_batches<staged_net>("staged_net", 36, 21, 18);
  check_batches<staged_net>("staged_net", 37, 21, 1);
  // max_batch 14: stage 1's chunk is the whole batch, which need not be a multiple of 4 (one chunk: [0, 14)).
  tn::model<staged_net, tn::exec::simd<>> m14(random_params<staged_net>(4), 14);
  CHECK(m14.program().stage_images(0) == 4);
  CHECK(m14.program().stage_images(1) == 14);
  CHECK(m14.program().stage_images(2) == 14);
  check_batches<staged_net>("staged_net", 40, 14, 14);
  // The zoo. ResNet-50: from layer4.0.conv3 (op 47) on, the ops touch at most 7 x 7 x 2048 floats per value:
  // 2^21 / 100,352 = 20 images, not 16 x 2, but at least 8 x 2, and they are weight-bound: 12.0 M weight floats
  // (with the classifier's) over a chunk of 2 is 6.0 M per image, at least 4 x the 1.13 M activation floats they
  // touch, and layer4.0.conv3's own 1.05 M / 2 at least 2 x its 225,792; before op 47 the ops allow 10 at most.
  // Then the classifier (op 55: 2^21 / 2,048). ResNet-18: from layer3.0.conv2 (op 13, 14 x 14 x 256 maps) on
  // 2^21 / 50,176 = 41 images, at least 16 x 2; layer2.1.conv2 (op 10, 20 images allowed from there) would be
  // weight-bound with what follows it, but not on its own (147,456 / 2 weight floats per image against 301,056).
  // MobileNetV2: one image at 112 x 112 and 56 x 56, 18 from features.7's projection (op 20), the classifier.
  // SqueezeNet: one stage.
  check_stages<tn::zoo::resnet50>({0, 47, 55}, {2, 20, 1024});
  check_stages<tn::zoo::resnet18>({0, 13, 22}, {2, 41, 2097});
  check_stages<tn::zoo::mobilenet_v2>({0, 20, 53}, {1, 18, 1638});
  check_stages<tn::zoo::squeezenet1_1>({0}, {2});
  // A max_batch the first stage's chunk holds: every op in one stage over one arena (staging's `whole`).
  tn::model<staged_net, tn::exec::simd<>> small(random_params<staged_net>(3), 4);
  REQUIRE(small.program().stage_count() == 1);
  CHECK(small.program().stage_images(0) == 4);
  check_batches<staged_net>("staged_net", 38, 4, 4);
  check_batches<staged_net>("staged_net", 39, 4, 3);
}

namespace {

/// The fused ops of Net's program (staged for a large batch) whose output takes its residual's place.
template <class Net>
int in_place_joins() {
  using low = tn::exec::simd_graph::lowered<Net>;
  constexpr auto place = simd_program<Net>::stages::place;
  int n = 0;
  for (std::size_t i = 0; i < low::op_count; ++i) {
    const int r = low::ops[i].residual;
    const auto v = static_cast<std::size_t>(low::ops[i].output);
    if (place.in_place[v] < 0) continue;
    CHECK(place.in_place[v] == r);
    CHECK(place.home[v] == place.home[static_cast<std::size_t>(r)]);
    CHECK(place.offset[v] == place.offset[static_cast<std::size_t>(r)]);
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("simd graph: a convolution's residual join writes in the residual's place where the residual dies") {
  // residual_net: both blocks (conv2's shortcut is the block's input, read by conv1 before; the strided block's
  // is the projection's output).
  CHECK(in_place_joins<residual_net>() == 2);
  // depthwise_net: the inverted residual's projection; not the depthwise layer whose residual is its input.
  CHECK(in_place_joins<depthwise_net>() == 1);
  // band_net: its one join is the 1x1 convolution over its own input (and a band pair's producer).
  CHECK(in_place_joins<band_net>() == 0);
  CHECK(in_place_joins<staged_net>() == 1);
  // reread_net: the first block's input is read by the concat's second branch after the join; the second
  // block's residual is its convolution's input.
  CHECK(in_place_joins<reread_net>() == 0);
  check_against_reference<reread_net>("reread_net", 19);
  // The zoo: every bottleneck (16) or basic block (8) of ResNet-50 and -18, MobileNetV2's 10 inverted residuals
  // with a shortcut; SqueezeNet has none.
  CHECK(in_place_joins<tn::zoo::resnet50>() == 16);
  CHECK(in_place_joins<tn::zoo::resnet18>() == 8);
  CHECK(in_place_joins<tn::zoo::mobilenet_v2>() == 10);
  CHECK(in_place_joins<tn::zoo::squeezenet1_1>() == 0);
}

TEST_CASE("simd graph: residual blocks (Winograd and direct, identity and projection shortcuts)") {
  check_against_reference<residual_net>("residual_net", 11);
}

TEST_CASE("simd graph: 3x3 convolutions on a 7 x 7 map, direct for few images and Winograd for many") {
  namespace ks = tn::kernels::simd;
  using conv = tn::exec::simd_graph::conv_runner<ks::conv_geometry<16, 7, 7, 16, 7, 7, 3, 3, 1, 1, 1, 1, 1>, 1, true,
                                                 xsimd::default_arch>;
  static_assert(conv::batched && !conv::winograd, "the 7 x 7 layer switches kernels by images per run");
  const auto p = random_params<small_map_net>(23);
  for (int batch : {2, ks::winograd_batched_min - 1, ks::winograd_batched_min, 11}) {
    std::vector<float> in(std::size_t(batch) * small_map_net::input_shape::size);
    tn::fill_uniform(in, 24 + std::uint64_t(batch));
    const auto want = run_policy<small_map_net, tn::exec::reference_t>(p, in, batch);
    for (int threads : {1, 2})
      expect_close(run_simd<small_map_net>(p, in, batch, threads), want,
                   "small_map_net batch " + std::to_string(batch) + ", " + std::to_string(threads) + " thread(s)");
  }
  // One model built for 11 images (both packings) runs 3 (direct) and then 9 (Winograd).
  tn::model<small_map_net, tn::exec::simd<>> m(p, 11);
  for (int batch : {3, 9}) {
    std::vector<float> in(std::size_t(batch) * small_map_net::input_shape::size), got(std::size_t(batch) * 5);
    tn::fill_uniform(in, 40 + std::uint64_t(batch));
    m.forward(in, got, batch);
    expect_close(got, run_policy<small_map_net, tn::exec::reference_t>(p, in, batch),
                 "small_map_net, a model for 11 images, batch " + std::to_string(batch));
  }
}

TEST_CASE("simd graph: depthwise convolutions and an inverted residual") {
  check_against_reference<depthwise_net>("depthwise_net", 12);
  // Inputs 30x larger: most relu6 outputs saturate at 6, so the upper clip is checked too.
  check_against_reference<depthwise_net>("depthwise_net, large inputs", 15, 30.f);
}

TEST_CASE("simd graph: a convolution and the depthwise layer after it run in row bands") {
  using low = tn::exec::simd_graph::lowered<band_net>;
  using arch = xsimd::default_arch;
  namespace sg = tn::exec::simd_graph;
  // Ops: stem, depthwise, expansion, depthwise, 1x1 + join + relu6, depthwise, 1x1, pool, dense.
  REQUIRE(simd_program<band_net>::fused_ops == 9);
  CHECK(sg::band_pair_at<low, 0, arch>());
  CHECK(!sg::band_pair_at<low, 1, arch>());
  CHECK(sg::band_pair_at<low, 2, arch>());
  CHECK(sg::band_pair_at<low, 4, arch>());
  CHECK(!sg::band_pair_at<low, 6, arch>());  // 8 x 32 x 32 floats: below the threshold, and no depthwise after
  // depthwise_net's expansions write at most 48 x 5 x 5 floats: unpaired.
  using dlow = sg::lowered<depthwise_net>;
  CHECK(!sg::band_pair_at<dlow, 2, arch>());
  // A 1x1 expansion on 7 x 7 writes more than the threshold too, but with AVX2 it works in merged rows (one
  // row of 49 pixels), which the bands cannot follow: unpaired there, paired with AVX-512; right either way.
  using wide = tn::network<tn::input<8, 7, 7>, tn::conv2d<5376, tn::kernel<1>>, tn::relu6,
                           tn::conv2d<5376, tn::kernel<3>, tn::pad<1>, tn::groups<5376>>, tn::relu6,
                           tn::adaptive_avg_pool<1>, tn::flatten, tn::dense<3>>;
  using wlow = sg::lowered<wide>;
  using wide_kernel =
      tn::kernels::simd::conv_kernel<tn::kernels::simd::conv_geometry<8, 7, 7, 5376, 7, 7, 1, 1, 1, 1, 0, 0, 1>, arch>;
  CHECK(wlow::band_candidate(0));
  CHECK(sg::band_pair_at<wlow, 0, arch>() == (wide_kernel::row_merge == 1));
  check_against_reference<wide>("wide 1x1 on 7 x 7, then depthwise", 17);
  // Every share boundary: 1, 2 and 3 threads over 1 and 3 images (the shares split images and rows).
  const auto p = random_params<band_net>(41);
  for (int batch : {1, 3}) {
    std::vector<float> in(std::size_t(batch) * band_net::input_shape::size);
    tn::fill_uniform(in, 42 + std::uint64_t(batch));
    const auto want = run_policy<band_net, tn::exec::reference_t>(p, in, batch);
    for (int threads : {1, 2, 3})
      expect_close(run_simd<band_net>(p, in, batch, threads), want,
                   "band_net batch " + std::to_string(batch) + ", " + std::to_string(threads) + " thread(s)");
  }
}

TEST_CASE("simd graph: concat, stand-alone batch norm, relu6 and join") {
  check_against_reference<concat_net>("concat_net", 13);
}

TEST_CASE("simd graph: a layer without a simd kernel runs the reference's") {
  check_against_reference<fallback_net>("fallback_net", 14);
  {  // the model keeps what the fallback layer needs: the params it was built from may be gone
    std::vector<float> in(fallback_net::input_shape::size);
    tn::fill_uniform(in, 17);
    auto p = std::make_unique<tn::params<fallback_net>>(random_params<fallback_net>(18));
    const auto want = run_policy<fallback_net, tn::exec::reference_t>(*p, in, 1);
    tn::model<fallback_net, tn::exec::simd<>> m(*p, 1);
    p.reset();
    std::vector<float> got(fallback_net::output_shape::size);
    m.forward(in.data(), got.data(), 1);
    expect_close(got, want, "fallback_net after its params were destroyed");
  }
  check_against_reference<flat_fallback_net>("flat_fallback_net", 16, 5.f);
}

TEST_CASE("simd graph: NaN and infinity pass through folded batch norm, relu6 and the joins") {
  // One NaN and one +inf in image 0; image 1 finite. The reference decides which outputs are non-finite.
  auto check = [](auto net_tag, const std::string& name) {
    using Net = typename decltype(net_tag)::type;
    const auto p = random_params<Net>(21);
    check_nonfinite_as_reference<Net>(
        p, [&](const std::vector<float>& in) { return run_simd<Net>(p, in, 2, 2); }, name);
  };
  check(std::type_identity<depthwise_net>{}, "depthwise_net");
  check(std::type_identity<concat_net>{}, "concat_net");
}

TEST_CASE("simd graph: time_ops times every fused op and computes what forward computes") {
  const auto p = random_params<residual_net>(31);
  constexpr int batch = 3;
  std::vector<float> in(std::size_t(batch) * residual_net::input_shape::size);
  tn::fill_uniform(in, 32);
  tn::model<residual_net, tn::exec::simd<>> m(p, batch);
  std::vector<float> want(std::size_t(batch) * residual_net::output_shape::size), got(want.size());
  m.forward(in.data(), want.data(), batch);
  const auto t = m.program().time_ops(in.data(), got.data(), batch, 3);
  CHECK(got == want);
  REQUIRE(t.size() == simd_program<residual_net>::fused_ops);
  for (const auto& op : t) {
    INFO(op.name);
    CHECK(op.ms >= 0.0);
    CHECK(std::isfinite(op.ms));
  }
  // The fused ops by their first layer's key, with what was fused into them (see the network in
  // graph_nets.hpp): batch norm folded, the joins and activations in the epilogues.
  const char* const names[] = {"0.0 (conv2d 16, kernel 3x3, pad 1, no bias) +bn +relu",
                               "0.3 (conv2d 16, kernel 3x3, pad 1) +bn +add +relu",
                               "1.0 (conv2d 24, kernel 3x3, stride 2, pad 1, floor, no bias) +bn +relu6",
                               "1.downsample.0 (conv2d 24, kernel 1x1, stride 2, floor, no bias) +bn",
                               "1.3 (conv2d 24, kernel 1x1, no bias) +bn +add +relu",
                               "2 (adaptive_avg_pool 1x1)",
                               "4 (dense 5)"};
  for (std::size_t i = 0; i < t.size(); ++i) CHECK(t[i].name == names[i]);
  CHECK_THROWS_WITH(m.program().time_ops(in.data(), got.data(), batch, 0),
                    "typenet: time_ops: passes must be at least 1");
}
