// exec::simd<Arch, precision::bf16> on graph networks (exec/simd/bf16_graph.hpp) and the bf16 kernel paths
// it added: the residual join in the direct and Winograd bf16 convolutions, and the depthwise kernel on
// bf16 storage.
//
//  * Kernels, exactly: with the same bf16 inputs, a kernel with the residual must give what the kernel
//    without it gives plus the residual, then the epilogue, then one rounding (the same fp32 operations in
//    the same order); the depthwise kernel on bf16 storage must give the fp32 kernel's result on the widened
//    inputs, rounded once. Any wrong tap, pixel, channel, residual offset or rounding shows as a mismatch.
//  * Networks against exec::reference in fp32, held to bf16_bound (bf16_util.hpp): the small graph networks
//    of tests/graph_nets.hpp, which reach every op kind (residual, projection shortcut, Winograd, depthwise
//    with stride 1 and 2, 5x5, channel tails, concat with odd channel counts, stand-alone batch norm, joins,
//    reference fallbacks), and ResNet-18, MobileNetV2 and SqueezeNet 1.1 with random batch-norm statistics.
// Skipped on a CPU without AVX512_BF16; compiled only where TYPENET_HAS_BF16.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <typenet/zoo/mobilenet.hpp>
#include <typenet/zoo/resnet.hpp>
#include <typenet/zoo/squeezenet.hpp>

#include "../graph_nets.hpp"
#include "bf16_util.hpp"

#if TYPENET_HAS_BF16

namespace tn = typenet;
namespace ks = typenet::kernels::simd;
using namespace typenet::test;
using namespace typenet::test::graph_nets;

namespace {

const bool no_bf16 = !ks::cpu_has_bf16();

float widen(ks::bf16_t v) { return ks::bf16_to_float(v); }

/// Random bf16 values (as bf16 bits), uniform in [-scale, scale] before rounding.
std::vector<ks::bf16_t> random_bf16(std::size_t n, std::uint64_t seed, float scale = 1.0f) {
  std::vector<float> v(n);
  tn::fill_uniform(v, seed);
  std::vector<ks::bf16_t> r(n);
  for (std::size_t i = 0; i < n; ++i) r[i] = ks::bf16_round(v[i] * scale);
  return r;
}

template <class Epilogue>
float apply(float v) {
  if constexpr (std::is_same_v<Epilogue, ks::epilogue_none>)
    return v;
  else if constexpr (std::is_same_v<Epilogue, ks::epilogue_relu>)
    return v < 0 ? 0.f : v;
  else
    return v < 0 ? 0.f : (v > 6 ? 6.f : v);
}

template <int C, int H, int W, int F, int K, int S, int P, int G = 1>
using geo = ks::conv_geometry<C, H, W, F, (H + 2 * P - K) / S + 1, (W + 2 * P - K) / S + 1, K, K, S, S, P, P, G>;

/// A residual in a kernel's output layout, pixels x Fs values of which the first F per pixel are real: a
/// bf16 one holds random bf16 values and stores its padding channel as 0; a float one holds values that are
/// not bf16 values (floats are added as they are).
template <class Out>
std::vector<Out> random_residual(std::size_t pixels, int F, int Fs, std::uint64_t seed) {
  std::vector<Out> res(pixels * Fs);
  const auto r16 = random_bf16(res.size(), seed, 2.f);
  for (std::size_t i = 0; i < res.size(); ++i) {
    if constexpr (std::is_same_v<Out, float>)
      res[i] = widen(r16[i]) * 1.37f;
    else
      res[i] = int(i % Fs) >= F ? ks::bf16_t{0} : r16[i];
  }
  return res;
}

/// Outputs y (with the residual) that differ from plain (the kernel's fp32 output without it, F per pixel)
/// plus the residual, then the epilogue, then (bf16 Out) one rounding; a bf16 padding channel must be 0.
template <class Out, class Epilogue>
int residual_mismatches(const std::vector<Out>& y, const std::vector<float>& plain, const std::vector<Out>& res,
                        std::size_t pixels, int F, int Fs) {
  int bad = 0;
  for (std::size_t p = 0; p < pixels; ++p)
    for (int f = 0; f < Fs; ++f) {
      const std::size_t at = p * Fs + f;
      if constexpr (std::is_same_v<Out, float>) {
        bad += y[at] != apply<Epilogue>(plain[p * F + f] + res[at]);
      } else {
        const float want = f < F ? apply<Epilogue>(plain[p * F + f] + widen(res[at])) : 0.f;
        bad += y[at] != ks::bf16_round(want);
      }
    }
  return bad;
}

/// conv_bf16_kernel with the residual against the same kernel without it (fp32 output) plus the residual,
/// then the epilogue, then the rounding: equal bit for bit. Batch 2, items split in two ranges.
template <class Geo, class Out, class Epilogue>
void check_conv_residual(const char* what) {
  using K = ks::conv_bf16_kernel<Geo, Out>;
  using Kf = ks::conv_bf16_kernel<Geo, float>;
  constexpr int batch = 2, F = Geo::f, Fs = K::Fs;
  const std::size_t pixels = std::size_t(batch) * Geo::oh * Geo::ow;
  auto x = random_bf16(std::size_t(batch) * Geo::h * Geo::w * K::Cs, 41);
  if (K::Cs != Geo::c)
    for (std::size_t p = 0; p < std::size_t(batch) * Geo::h * Geo::w; ++p) x[p * K::Cs + Geo::c] = 0;
  std::vector<float> w(static_cast<std::size_t>(F) * Geo::cg * Geo::kh * Geo::kw), bias(F);
  tn::fill_uniform(w, 42);
  tn::fill_uniform(bias, 43);
  auto packed = tn::detail::make_aligned_floats(std::int64_t(K::packed_elems / 2 + 1));
  auto packed_bias = tn::detail::make_aligned_floats(std::int64_t(K::packed_bias_floats));
  auto* pw = reinterpret_cast<ks::bf16_t*>(packed.get());
  K::pack(w.data(), bias.data(), pw, packed_bias.get());  // the same packing for both outputs
  const std::vector<ks::bf16_t> zeros(K::zero_elems + 32, 0);
  std::vector<float> plain(pixels * F);
  Kf::template run<ks::epilogue_none>(pw, packed_bias.get(), x.data(), plain.data(), zeros.data(), batch, 0,
                                      Kf::items(batch));
  const auto res = random_residual<Out>(pixels, F, Fs, 44);
  std::vector<Out> y(pixels * Fs, Out(5));
  const std::int64_t items = K::items(batch), mid = items / 3;
  K::template run<Epilogue, true>(pw, packed_bias.get(), x.data(), y.data(), zeros.data(), batch, 0, mid, res.data());
  K::template run<Epilogue, true>(pw, packed_bias.get(), x.data(), y.data(), zeros.data(), batch, mid, items,
                                  res.data());
  const int bad = residual_mismatches<Out, Epilogue>(y, plain, res, pixels, F, Fs);
  INFO(std::string(what) << ": " << bad << " outputs differ from conv + residual, epilogue, rounding");
  CHECK(bad == 0);
}

#if TYPENET_HAS_AMX
/// conv_amx_kernel with the residual against itself without it (fp32 output) plus the residual: bit for bit.
/// Batch 2, the work units split in two ranges.
template <class Geo, class Out, class Epilogue>
void check_amx_residual(const char* what) {
  using K = ks::conv_amx_kernel<Geo, Out>;
  using Kf = ks::conv_amx_kernel<Geo, float>;
  constexpr int batch = 2, F = Geo::f, Fs = K::Fs;
  const std::size_t pixels = std::size_t(batch) * Geo::oh * Geo::ow;
  const auto x = random_bf16(std::size_t(batch) * Geo::h * Geo::w * K::Cs, 41);
  std::vector<float> w(static_cast<std::size_t>(F) * Geo::c * Geo::kh * Geo::kw), bias(F);
  tn::fill_uniform(w, 42);
  tn::fill_uniform(bias, 43);
  auto packed = tn::detail::make_aligned_floats(std::int64_t(K::packed_elems / 2 + 1));
  auto packed_bias = tn::detail::make_aligned_floats(std::int64_t(K::packed_bias_floats));
  auto* pw = reinterpret_cast<ks::bf16_t*>(packed.get());
  K::pack(w.data(), bias.data(), pw, packed_bias.get());  // the same packing for both outputs
  auto ws = tn::detail::make_aligned_floats(std::int64_t(K::workspace_floats));
  std::vector<float> plain(pixels * F);
  Kf::template run<ks::epilogue_none>(pw, packed_bias.get(), x.data(), plain.data(), ws.get(), 0, Kf::units(batch), 0,
                                      Kf::blocks);
  const auto res = random_residual<Out>(pixels, F, Fs, 44);
  std::vector<Out> y(pixels * Fs, Out(5));
  const std::int64_t units = K::units(batch), mid = units / 3;
  K::template run<Epilogue, true>(pw, packed_bias.get(), x.data(), y.data(), ws.get(), 0, mid, 0, K::blocks,
                                  res.data());
  K::template run<Epilogue, true>(pw, packed_bias.get(), x.data(), y.data(), ws.get(), mid, units, 0, K::blocks,
                                  res.data());
  const int bad = residual_mismatches<Out, Epilogue>(y, plain, res, pixels, F, Fs);
  INFO(std::string(what) << ": " << bad << " outputs differ from conv + residual, epilogue, rounding");
  CHECK(bad == 0);
}
#endif

/// winograd_bf16 with the residual against itself without it (fp32 output) plus the residual.
template <int C, int H, int W, int F, class Out, class Epilogue>
void check_winograd_residual(const char* what) {
  using K = ks::winograd_bf16<C, H, W, F, Out>;
  using Kf = ks::winograd_bf16<C, H, W, F, float>;
  constexpr int batch = 2, Fs = K::Fs;
  const std::size_t pixels = std::size_t(batch) * H * W;
  const auto x = random_bf16(pixels * K::Cs, 51);
  std::vector<float> w(static_cast<std::size_t>(F) * C * 9), bias(F);
  tn::fill_uniform(w, 52);
  tn::fill_uniform(bias, 53);
  auto packed = tn::detail::make_aligned_floats(std::int64_t(K::packed_elems / 2 + 1));
  auto* pw = reinterpret_cast<ks::bf16_t*>(packed.get());
  K::pack(w.data(), pw);
  auto workspace = tn::detail::make_aligned_floats(std::int64_t(K::workspace_floats_per_part));
  std::vector<float> plain(pixels * F);
  Kf::template run_tiles<ks::epilogue_none>(pw, bias.data(), x.data(), plain.data(), workspace.get(), 0,
                                            Kf::tiles(batch));
  const auto res = random_residual<Out>(pixels, F, Fs, 54);
  std::vector<Out> y(pixels * Fs, Out(5));
  const std::int64_t tiles = K::tiles(batch), mid = tiles / 3;
  K::template run_tiles<Epilogue, true>(pw, bias.data(), x.data(), y.data(), workspace.get(), 0, mid, res.data());
  K::template run_tiles<Epilogue, true>(pw, bias.data(), x.data(), y.data(), workspace.get(), mid, tiles, res.data());
  const int bad = residual_mismatches<Out, Epilogue>(y, plain, res, pixels, F, Fs);
  INFO(std::string(what) << ": " << bad << " outputs differ from Winograd + residual, epilogue, rounding");
  CHECK(bad == 0);
}

/// depthwise_kernel on bf16 storage against the fp32 kernel on the widened inputs (and residual), rounded.
template <class Geo, class Epilogue, bool Add>
void check_depthwise(const char* what) {
  using K16 = ks::depthwise_kernel<Geo, xsimd::default_arch, ks::bf16_t>;
  using K32 = ks::depthwise_kernel<Geo, xsimd::default_arch, float>;
  constexpr int batch = 2, C = Geo::c;
  const auto x16 = random_bf16(std::size_t(batch) * Geo::h * Geo::w * C, 61, 3.f);
  const auto r16 = random_bf16(std::size_t(batch) * Geo::oh * Geo::ow * C, 62, 3.f);
  std::vector<float> x32(x16.size()), r32(r16.size());
  for (std::size_t i = 0; i < x16.size(); ++i) x32[i] = widen(x16[i]);
  for (std::size_t i = 0; i < r16.size(); ++i) r32[i] = widen(r16[i]);
  std::vector<float> w(static_cast<std::size_t>(C) * Geo::kh * Geo::kw), bias(C);
  tn::fill_uniform(w, 63);
  tn::fill_uniform(bias, 64);
  auto packed = tn::detail::make_aligned_floats(std::int64_t(K32::packed_floats));
  auto packed_bias = tn::detail::make_aligned_floats(std::int64_t(K32::packed_bias_floats));
  K32::pack(w.data(), bias.data(), packed.get(), packed_bias.get());
  std::vector<float> y32(r32.size());
  std::vector<ks::bf16_t> y16(r16.size(), 0x7fc0);
  const std::int64_t items = K32::items(batch), mid = items / 2 + 1;
  K32::template run<Epilogue, Add>(packed.get(), packed_bias.get(), x32.data(), y32.data(), 0, items, r32.data());
  K16::template run<Epilogue, Add>(packed.get(), packed_bias.get(), x16.data(), y16.data(), 0, mid, r16.data());
  K16::template run<Epilogue, Add>(packed.get(), packed_bias.get(), x16.data(), y16.data(), mid, items, r16.data());
  int bad = 0;
  for (std::size_t i = 0; i < y32.size(); ++i) bad += y16[i] != ks::bf16_round(y32[i]);
  INFO(std::string(what) << ": " << bad << " of " << y32.size() << " outputs differ from the fp32 kernel's, rounded");
  CHECK(bad == 0);
}

/// pool_kernel on bf16 storage against the fp32 kernel on the widened inputs, rounded once (a max pool is
/// then exact).
template <class Geo, ks::pool_op Op>
void check_pool(const char* what) {
  using K16 = ks::pool_kernel<Geo, Op, xsimd::default_arch, ks::bf16_t>;
  using K32 = ks::pool_kernel<Geo, Op, xsimd::default_arch, float>;
  constexpr int batch = 2;
  auto x16 = random_bf16(std::size_t(batch) * Geo::h * Geo::w * Geo::c, 71, 4.f);
  x16[5] = 0x7fc0;  // a NaN: a max pool propagates it
  std::vector<float> x32(x16.size());
  for (std::size_t i = 0; i < x16.size(); ++i) x32[i] = widen(x16[i]);
  std::vector<float> y32(std::size_t(batch) * Geo::oh * Geo::ow * Geo::c);
  std::vector<ks::bf16_t> y16(y32.size(), 0x1234);
  const std::int64_t items = K32::items(batch), mid = items / 2;
  K32::run(x32.data(), y32.data(), 0, items);
  K16::run(x16.data(), y16.data(), 0, mid);
  K16::run(x16.data(), y16.data(), mid, items);
  int bad = 0, nan = 0;
  for (std::size_t i = 0; i < y32.size(); ++i) {
    nan += std::isnan(y32[i]);
    bad += std::isnan(y32[i]) ? !std::isnan(widen(y16[i])) : y16[i] != ks::bf16_round(y32[i]);
  }
  INFO(std::string(what) << ": " << bad << " of " << y32.size() << " outputs differ from the fp32 kernel's, rounded");
  CHECK(bad == 0);
  CHECK(nan > 0);
}

/// A graph network in bf16 against the fp32 reference: within bf16_bound(layers), not exact (it rounds),
/// and the same with 1 and 2 threads.
/// (A network that ends in softmax is judged on its logits, as in bf16_test.cpp: centred_logits.)
template <class Net>
void check_graph(int batch, std::uint64_t seed, int layers, const std::string& name, bool softmax = false) {
  const auto p = random_params<Net>(seed);
  std::vector<float> in(std::size_t(batch) * Net::input_shape::size);
  tn::fill_uniform(in, seed + 100);
  check_reduced<Net>(
      run_policy<Net, tn::exec::reference_t>(p, in, batch),
      [&](int threads) { return run_bf16<Net>(p, in, batch, threads); }, bf16_bound(layers), softmax,
      "bf16 " + name + " batch " + std::to_string(batch));
}

template <class Net>
using bf16_program = typename tn::model<Net, tn::exec::simd<xsimd::default_arch, tn::precision::bf16>>::program_type;

}  // namespace

TEST_CASE("bf16 conv kernels: the residual join, bit for bit" * doctest::skip(no_bf16)) {
  check_conv_residual<geo<16, 9, 11, 48, 1, 1, 0>, ks::bf16_t, ks::epilogue_relu>("1x1, bf16 out, relu");
  check_conv_residual<geo<8, 9, 11, 24, 1, 1, 0>, float, ks::epilogue_none>("1x1, fp32 out");
  check_conv_residual<geo<6, 13, 12, 33, 3, 2, 1>, ks::bf16_t, ks::epilogue_relu6>("3x3/2, F = 33 (odd), relu6");
  check_conv_residual<geo<3, 15, 15, 100, 3, 1, 1>, ks::bf16_t, ks::epilogue_none>(
      "C = 3 (stored 4), 100 outputs (a partial block)");
  check_conv_residual<geo<32, 9, 9, 64, 3, 1, 1, 2>, ks::bf16_t, ks::epilogue_relu>("groups 2");
  check_winograd_residual<16, 11, 10, 16, ks::bf16_t, ks::epilogue_relu>("Winograd 16 -> 16, odd tiles, relu");
  check_winograd_residual<24, 9, 9, 33, ks::bf16_t, ks::epilogue_none>("Winograd 24 -> 33 (odd F)");
  check_winograd_residual<16, 8, 10, 100, float, ks::epilogue_relu6>("Winograd fp32 out, partial f-block, relu6");
}

#if TYPENET_HAS_AMX
TEST_CASE("bf16 AMX conv kernel: the residual join, bit for bit" * doctest::skip(!ks::amx_enable())) {
  check_amx_residual<geo<64, 9, 11, 48, 1, 1, 0>, ks::bf16_t, ks::epilogue_relu>("1x1, bf16 out, relu");
  check_amx_residual<geo<32, 13, 12, 33, 3, 2, 1>, ks::bf16_t, ks::epilogue_relu6>("3x3/2, F = 33 (odd), relu6");
  check_amx_residual<geo<64, 7, 7, 100, 3, 1, 1>, float, ks::epilogue_none>("3x3/1 on 7 x 7, fp32 out, F = 100");
  check_amx_residual<geo<24, 9, 8, 40, 3, 1, 1>, ks::bf16_t, ks::epilogue_relu>("3x3/1, C = 24 (gathered), relu");
}
#endif

TEST_CASE("bf16 depthwise kernel: the fp32 kernel's result rounded once" * doctest::skip(no_bf16)) {
  check_depthwise<geo<48, 11, 13, 48, 3, 1, 1, 48>, ks::epilogue_relu6, false>("3x3/1, 48 channels, relu6");
  check_depthwise<geo<48, 11, 13, 48, 3, 1, 1, 48>, ks::epilogue_none, true>("3x3/1 with the residual");
  check_depthwise<geo<32, 14, 15, 32, 3, 2, 1, 32>, ks::epilogue_relu, false>("3x3/2, relu");
  check_depthwise<geo<20, 9, 9, 20, 5, 1, 2, 20>, ks::epilogue_relu6, true>("5x5, 20 channels (a tail)");
  check_depthwise<geo<40, 7, 7, 40, 3, 1, 1, 40>, ks::epilogue_relu, true>("7x7 map, 40 channels (a tail)");
}

TEST_CASE("bf16 pool kernel: the fp32 kernel's result rounded once" * doctest::skip(no_bf16)) {
  using max_ceil = ks::pool_geometry<24, 11, 11, 5, 5, 3, 3, 2, 2, 0, 0>;  // 3x3/2 ceil mode, a channel tail
  check_pool<max_ceil, ks::pool_op::max>("max 3x3/2, ceil, 24 channels");
  using max_pad = ks::pool_geometry<64, 12, 12, 6, 6, 3, 3, 2, 2, 1, 1>;  // ResNet's stem pool
  check_pool<max_pad, ks::pool_op::max>("max 3x3/2, pad 1, 64 channels");
  using avg_pad = ks::pool_geometry<18, 7, 7, 4, 4, 3, 3, 2, 2, 1, 1>;
  check_pool<avg_pad, ks::pool_op::average>("average 3x3/2, pad 1, 18 channels");
}

TEST_CASE("bf16 graph program: every op kind against the fp32 reference" * doctest::skip(no_bf16)) {
  for (int batch : {1, 3}) {
    check_graph<residual_net>(batch, 11, 6, "residual_net");
    check_graph<depthwise_net>(batch, 12, 9, "depthwise_net");
    check_graph<concat_net>(batch, 13, 4, "concat_net");
    check_graph<fallback_net>(batch, 14, 1, "fallback_net (logits from its softmax)", true);
    check_graph<flat_fallback_net>(batch, 16, 2, "flat_fallback_net");
    check_graph<odd_net>(batch, 17, 5, "odd_net");
    check_graph<tail_net>(batch, 18, 5, "tail_net (chunks of 2 images, the classifier once per batch)", true);
  }
  // The reference fallbacks are the fp32 program's, named the same way.
  CHECK(bf16_program<fallback_net>::fallback_layers() ==
        tn::model<fallback_net, tn::exec::simd<>>::program_type::fallback_layers());
  CHECK(bf16_program<fallback_net>::reference_fallback);
  CHECK(bf16_program<residual_net>::fallback_layers().empty());
  CHECK(bf16_program<concat_net>::fused_ops == 10);
}

TEST_CASE("bf16 graph program: ResNet-18, MobileNetV2 and SqueezeNet 1.1 against the fp32 reference" *
          doctest::skip(no_bf16)) {
  check_graph<tn::zoo::resnet18>(1, 1, 21, "resnet18");
  check_graph<tn::zoo::mobilenet_v2>(1, 2, 53, "mobilenet_v2");
  check_graph<tn::zoo::squeezenet1_1>(2, 3, 26, "squeezenet1_1");
}

TEST_CASE("bf16 graph program: NaN and infinity propagate as in the fp32 reference" * doctest::skip(no_bf16)) {
  auto check = [](auto net_tag, const std::string& name) {
    using Net = typename decltype(net_tag)::type;
    const auto p = random_params<Net>(21);
    check_nonfinite_as_reference<Net>(
        p, [&](const std::vector<float>& in) { return run_bf16<Net>(p, in, 2, 2); }, name);
  };
  check(std::type_identity<residual_net>{}, "residual_net");
  check(std::type_identity<depthwise_net>{}, "depthwise_net");
  check(std::type_identity<concat_net>{}, "concat_net");
}

TEST_CASE("bf16 graph program: time_ops computes what forward computes" * doctest::skip(no_bf16)) {
  const auto p = random_params<concat_net>(31);
  std::vector<float> in(3 * concat_net::input_shape::size), a(3 * concat_net::output_shape::size), b(a.size());
  tn::fill_uniform(in, 32);
  tn::exec::simd<xsimd::default_arch, tn::precision::bf16> policy;
  policy.threads = 2;
  tn::model<concat_net, decltype(policy)> m(p, 3, policy);
  m.forward(in.data(), a.data(), 3);
  const auto times = m.program().time_ops(in.data(), b.data(), 3, 2);
  REQUIRE(times.size() == 10);
  CHECK(times.front().name == "0 (conv2d 8, kernel 1x1) +relu");
  CHECK(times.back().name == "9 (dense 6)");
  CHECK(a == b);
}

#endif  // TYPENET_HAS_BF16
