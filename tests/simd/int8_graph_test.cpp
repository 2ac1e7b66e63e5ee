// exec::simd<Arch, precision::int8> on graph networks (exec/simd/int8_graph.hpp) and exec::calibrate for
// them. (The residual join of conv_int8_kernel is checked bit for bit in int8_test.cpp.)
//
//  * Networks against exec::reference in fp32, held to int8_bound (int8_util.hpp), calibrated on their own
//    inputs and a few more: the small graph networks of tests/graph_nets.hpp, which reach every op kind
//    (residual joins with identity and projection shortcuts, relu6, depthwise convolutions, concat, pools,
//    stand-alone batch norm, joins, reference fallbacks), a network with channel counts that quads cannot
//    serve, and ResNet-18, MobileNetV2 and SqueezeNet 1.1 with random batch-norm statistics.
//  * The max pool kernel on u8 storage, exactly against the fp32 kernel on the same integers; the depthwise
//    kernel on u8 storage against a scalar computation of the same quantised arithmetic.
//  * exec::calibrate: one range per value of the plan, the input's and the logits' the extremes of the
//    images and of the fp32 program's output; a wrong count of ranges is an error.
// Skipped on a CPU without AVX512_VNNI; compiled only where TYPENET_HAS_VNNI.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <typenet/io/int8.hpp>
#include <typenet/kernels/simd/depthwise.hpp>
#include <typenet/kernels/simd/pool.hpp>
#include <typenet/zoo/mobilenet.hpp>
#include <typenet/zoo/resnet.hpp>
#include <typenet/zoo/squeezenet.hpp>

#include "../graph_nets.hpp"
#include "int8_util.hpp"

#if TYPENET_HAS_VNNI

namespace tn = typenet;
namespace ks = typenet::kernels::simd;
using namespace typenet::test;
using namespace typenet::test::graph_nets;

namespace {

const bool no_vnni = !ks::cpu_has_vnni();

/// The ranges of Net calibrated on `in` (batch images) and 6 more images from the same distribution, so that
/// no value saturates (the bound assumes the calibrated ranges hold the values).
template <class Net>
std::vector<tn::exec::tensor_range> calibrated(const tn::params<Net>& p, const std::vector<float>& in, int batch,
                                               std::uint64_t seed) {
  std::vector<float> cal(std::size_t(6) * Net::input_shape::size);
  tn::fill_uniform(cal, seed + 200);
  cal.insert(cal.end(), in.begin(), in.end());
  return tn::exec::calibrate<Net>(p, cal, 6 + batch);
}

/// A graph network in int8 against the fp32 reference: within int8_bound(layers), not exact (it
/// quantises), and the same with 1 and 2 threads. (A network that ends in softmax is judged on its logits.)
template <class Net>
void check_graph(int batch, std::uint64_t seed, int layers, const std::string& name, bool softmax = false) {
  const auto p = random_params<Net>(seed);
  std::vector<float> in(std::size_t(batch) * Net::input_shape::size);
  tn::fill_uniform(in, seed + 100);
  const auto ranges = calibrated<Net>(p, in, batch, seed);
  check_reduced<Net>(
      run_policy<Net, tn::exec::reference_t>(p, in, batch),
      [&](int threads) { return run_int8<Net>(p, in, batch, threads, ranges); }, int8_bound(layers), softmax,
      "int8 " + name + " batch " + std::to_string(batch));
}

/// pool_kernel's max pool on u8 storage against the fp32 kernel on the same integers as floats: equal (a max
/// of integers is exact either way). Batch 2, rows split in two ranges.
template <class Geo>
void check_max_pool_u8(const char* what) {
  using K8 = ks::pool_kernel<Geo, ks::pool_op::max, xsimd::default_arch, std::uint8_t>;
  using K32 = ks::pool_kernel<Geo, ks::pool_op::max, xsimd::default_arch, float>;
  constexpr int batch = 2;
  std::vector<std::uint8_t> x8(std::size_t(batch) * Geo::h * Geo::w * Geo::c);
  for (std::size_t i = 0; i < x8.size(); ++i) x8[i] = std::uint8_t((i * 2654435761u >> 9) % 256);
  const std::vector<float> x32(x8.begin(), x8.end());
  std::vector<float> y32(std::size_t(batch) * Geo::oh * Geo::ow * Geo::c);
  std::vector<std::uint8_t> y8(y32.size() + 1, 7);
  const std::int64_t items = K32::items(batch), mid = items / 2;
  K32::run(x32.data(), y32.data(), 0, items);
  K8::run(x8.data(), y8.data(), 0, mid);
  K8::run(x8.data(), y8.data(), mid, items);
  int bad = 0;
  for (std::size_t i = 0; i < y32.size(); ++i) bad += float(y8[i]) != y32[i];
  INFO(std::string(what) << ": " << bad << " of " << y32.size() << " outputs differ from the fp32 kernel's");
  CHECK(bad == 0);
  CHECK(y8.back() == 7);  // nothing written past the end
}

/// depthwise_kernel on u8 storage (u8_affine_io, the scales and zero point folded by its fold()) against a scalar
/// double computation of the same quantised arithmetic: y = relu6(b[c] + sum over the window of
/// w[c][t] * s_in * (q - z_in)), quantised with the output's scale and zero point. The kernel sums in float, so a
/// result that lands within rounding of a half step may round the other way: at most 1 apart, and rarely. Batch 2,
/// items split in two ranges.
template <class Geo>
void check_depthwise_u8(const char* what) {
  using K = ks::depthwise_kernel<Geo, xsimd::default_arch, std::uint8_t>;
  constexpr int batch = 2, C = Geo::c, taps = Geo::kh * Geo::kw;
  // Inputs in [-2.6, 2.5], so that some sums pass relu6's ceiling; 6 / 0.03 + 9 = 209: the ceiling lies inside
  // the u8 range, so the clamp's upper end is relu6's own.
  const ks::act_quant in_q{0.02f, 131}, out_q{0.03f, 9};
  std::vector<std::uint8_t> x(std::size_t(batch) * Geo::h * Geo::w * C);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::uint8_t((i * 2654435761u >> 9) % 256);
  std::vector<float> w(std::size_t(C) * taps), b(C);
  tn::fill_uniform(w, 11);
  tn::fill_uniform(b, 12);
  std::vector<float> ws(w), bs(b);
  ks::u8_affine_io::fold(ws, bs, in_q.scale, ks::out_quant_of(out_q));
  const auto packed = tn::detail::make_aligned_floats(std::int64_t(K::packed_floats));  // aligned loads
  const auto packed_bias = tn::detail::make_aligned_floats(std::int64_t(K::packed_bias_floats));
  K::pack(ws.data(), bs.data(), packed.get(), packed_bias.get());
  const std::size_t outs = std::size_t(batch) * Geo::oh * Geo::ow * C;
  std::vector<std::uint8_t> y(outs + 1, 7);
  const ks::u8_affine_io io(in_q.zero, ks::out_quant_of(out_q));
  const std::int64_t items = K::items(batch), mid = items / 2;
  K::template run<ks::epilogue_relu6, false>(packed.get(), packed_bias.get(), x.data(), y.data(), 0, mid, nullptr, io);
  K::template run<ks::epilogue_relu6, false>(packed.get(), packed_bias.get(), x.data(), y.data(), mid, items, nullptr,
                                             io);
  int off_by_one = 0, worse = 0, inside = 0, ceiling = 0;
  for (int n = 0; n < batch; ++n)
    for (int oy = 0; oy < Geo::oh; ++oy)
      for (int ox = 0; ox < Geo::ow; ++ox)
        for (int c = 0; c < C; ++c) {
          double sum = b[std::size_t(c)];
          for (int ky = 0; ky < Geo::kh; ++ky)
            for (int kx = 0; kx < Geo::kw; ++kx) {
              const int iy = oy * Geo::sh - Geo::ph + ky, ix = ox * Geo::sw - Geo::pw + kx;
              if (iy < 0 || iy >= Geo::h || ix < 0 || ix >= Geo::w) continue;
              const int q = x[((std::size_t(n) * Geo::h + iy) * Geo::w + ix) * C + c];
              sum += double(w[std::size_t(c) * taps + ky * Geo::kw + kx]) * in_q.scale * (q - in_q.zero);
            }
          const float v = float(std::clamp(sum, 0.0, 6.0));
          const int want = ks::quantize_u8(v, 1.0f / out_q.scale, out_q.zero);
          const int got = y[((std::size_t(n) * Geo::oh + oy) * Geo::ow + ox) * C + c];
          inside += v > 0.f && v < 6.f && want < 255;
          ceiling += sum > 6.1;
          off_by_one += std::abs(got - want) == 1;
          worse += std::abs(got - want) > 1;
        }
  INFO(std::string(what) << ": " << worse << " outputs more than 1 apart, " << off_by_one << " 1 apart, of " << outs
                         << " (" << inside << " not clamped, " << ceiling << " past relu6's ceiling)");
  CHECK(inside * 4 >= int(outs));  // the sums cover the output's range, not only its clamps
  CHECK(ceiling >= 10);            // enough sums past 6 that a missing upper clamp shows (16 - 72 in the cases below)
  CHECK(worse == 0);
  CHECK(off_by_one * 100 <= int(outs));
  CHECK(y.back() == 7);  // nothing written past the end
}

}  // namespace

TEST_CASE("int8 max pool kernel on u8 storage: the fp32 kernel's result, exactly" * doctest::skip(no_vnni)) {
  check_max_pool_u8<ks::pool_geometry<64, 12, 12, 6, 6, 3, 3, 2, 2, 1, 1>>("ResNet's stem pool, 3x3/2 pad 1");
  check_max_pool_u8<ks::pool_geometry<24, 11, 11, 5, 5, 3, 3, 2, 2, 0, 0>>("3x3/2 ceil, 24 channels (a tail)");
  check_max_pool_u8<ks::pool_geometry<12, 9, 9, 9, 9, 3, 3, 1, 1, 1, 1>>("3x3/1 pad 1, 12 channels");
}

TEST_CASE("int8 depthwise kernel on u8 storage: the quantised arithmetic, to within one step" *
          doctest::skip(no_vnni)) {
  // (C, H, W, F, OH, OW, KH, KW, SH, SW, PH, PW, G)
  check_depthwise_u8<ks::conv_geometry<32, 14, 14, 32, 14, 14, 3, 3, 1, 1, 1, 1, 32>>("3x3/1 pad 1, 32 channels");
  check_depthwise_u8<ks::conv_geometry<24, 15, 15, 24, 8, 8, 3, 3, 2, 2, 1, 1, 24>>("3x3/2 pad 1, 24 channels");
  check_depthwise_u8<ks::conv_geometry<20, 9, 21, 20, 9, 21, 3, 3, 1, 1, 1, 1, 20>>("3x3/1, 20 channels, wide rows");
  check_depthwise_u8<ks::conv_geometry<16, 9, 9, 16, 5, 5, 5, 5, 2, 2, 2, 2, 16>>("5x5/2 pad 2, 16 channels");
}

TEST_CASE("int8 graph program: a max pool's output takes its input's scale and zero point") {
  using low = tn::exec::simd_graph::lowered<concat_net>;
  std::vector<ks::act_quant> q;
  for (int v = 0; v < low::values; ++v) q.push_back({0.01f * float(v + 1), v % 200});
  const auto tied = tn::exec::simd_int8_graph::tie_max_pools<low, xsimd::default_arch>(q);
  int pools = 0;
  for (std::size_t i = 0; i < low::op_count; ++i) {
    const auto& op = low::ops[i];
    const bool native = [&]<std::size_t... I>(std::index_sequence<I...>) {
      return ((I == i && tn::exec::simd_int8_graph::exec_for<low, I, xsimd::default_arch>::native_pool) || ...);
    }
    (std::make_index_sequence<low::op_count>{});
    const ks::act_quant want = native ? q[std::size_t(op.inputs[0])] : q[std::size_t(op.output)];
    INFO("op " << i << ", value " << op.output);
    CHECK(tied[std::size_t(op.output)].scale == want.scale);
    CHECK(tied[std::size_t(op.output)].zero == want.zero);
    pools += native;
  }
  CHECK(pools == 2);  // the ceil-mode pool after the concat, and the pool in the residual body
}

TEST_CASE("int8 graph program: every op kind against the fp32 reference" * doctest::skip(no_vnni)) {
  for (int batch : {1, 3}) {
    check_graph<residual_net>(batch, 11, 6, "residual_net");
    check_graph<depthwise_net>(batch, 12, 9, "depthwise_net");
    check_graph<concat_net>(batch, 13, 4, "concat_net");
    check_graph<fallback_net>(batch, 14, 1, "fallback_net (logits from its softmax)", true);
    check_graph<flat_fallback_net>(batch, 16, 2, "flat_fallback_net");
    check_graph<odd_net>(batch, 17, 5, "odd_net");
    check_graph<tail_net>(batch, 18, 5, "tail_net (chunks of 2 images, the classifier once per batch)", true);
  }
}

TEST_CASE("int8 graph program: ResNet-18, MobileNetV2 and SqueezeNet 1.1 against the fp32 reference" *
          doctest::skip(no_vnni)) {
  check_graph<tn::zoo::resnet18>(1, 1, 21, "resnet18");
  check_graph<tn::zoo::mobilenet_v2>(1, 2, 53, "mobilenet_v2");
  check_graph<tn::zoo::squeezenet1_1>(2, 3, 26, "squeezenet1_1");
}

TEST_CASE("int8 calibrate on a graph network: one range per value, the extremes of the fp32 values" *
          doctest::skip(no_vnni)) {
  using net = residual_net;
  const auto p = random_params<net>(41);
  constexpr int count = 5;
  std::vector<float> images(std::size_t(count) * net::input_shape::size);
  tn::fill_uniform(images, 42);
  const auto ranges = tn::exec::calibrate<net>(p, images, count);
  REQUIRE(ranges.size() == tn::exec::int8_tensor_count<net>);
  CHECK(ranges.size() == std::size_t(tn::exec::simd_graph::lowered<net>::values));
  CHECK(ranges[0].lo == *std::min_element(images.begin(), images.end()));
  CHECK(ranges[0].hi == *std::max_element(images.begin(), images.end()));
  // The logits: the last value the program writes, the fp32 program's output on the same images.
  const auto logits = run_simd<net>(p, images, count, 1);
  const auto& out = ranges[std::size_t(tn::exec::simd_graph::lowered<net>::output)];
  CHECK(out.lo == *std::min_element(logits.begin(), logits.end()));
  CHECK(out.hi == *std::max_element(logits.begin(), logits.end()));
  // Every value a fused op writes has a range that is not a single point (random weights, random inputs).
  using low = tn::exec::simd_graph::lowered<net>;
  for (const auto& op : low::ops) {
    INFO("value " << op.output);
    CHECK(ranges[std::size_t(op.output)].lo < ranges[std::size_t(op.output)].hi);
  }
  // The program takes exactly this many ranges.
  int8_policy policy;
  policy.ranges = ranges;
  policy.ranges.pop_back();
  const std::string says = "policy.ranges has " + std::to_string(ranges.size() - 1) + " ranges";
  CHECK_THROWS_WITH_AS((tn::model<net, int8_policy>(p, 1, policy)), doctest::Contains(says.c_str()),
                       std::invalid_argument);
}

TEST_CASE("int8 graph program: ranges saved with the weights and loaded back run the same" * doctest::skip(no_vnni)) {
  using net = concat_net;
  const auto p = random_params<net>(51);
  std::vector<float> x(std::size_t(3) * net::input_shape::size);
  tn::fill_uniform(x, 52);
  const auto ranges = tn::exec::calibrate<net>(p, x, 3);
  REQUIRE(tn::io::int8_range_count<net> == std::int64_t(tn::exec::int8_tensor_count<net>));
  const auto dir = std::filesystem::temp_directory_path() / ("typenet_int8_graph_io_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "w8.safetensors";
  tn::io::save_weights_int8(path, p, ranges);
  tn::params<net> q;
  const auto back = tn::io::load_weights_int8(path, q);
  REQUIRE(back.size() == ranges.size());
  CHECK(run_int8<net>(q, x, 3, 2, back) == run_int8<net>(p, x, 3, 2, ranges));
  // A chain network's count of ranges (its input and 3 stages) for this graph network: an error naming the
  // key and both shapes.
  const std::vector<float> four(8, 0.5f);
  write_with_ranges(dir / "wrong.safetensors", p, {4, 2}, four);
  const std::string says =
      "'typenet.int8.ranges' has shape [4, 2] but the network expects [" + std::to_string(ranges.size()) + ", 2]";
  CHECK_THROWS_WITH_AS(tn::io::load_weights_int8(dir / "wrong.safetensors", q), doctest::Contains(says.c_str()),
                       tn::io::io_error);
  std::filesystem::remove_all(dir);
}

#endif  // TYPENET_HAS_VNNI
