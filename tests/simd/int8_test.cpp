// The int8 kernels (kernels/simd/int8.hpp) and their quantisation helpers.
//
// Two kinds of check:
//  * bit for bit against a scalar model of the same arithmetic: the exact integer sum of (q - z) wq over the
//    taps inside the input, then the documented fp32 epilogue (one fma, ReLU, quantisation). A wrong tap,
//    quad, padding row, zero-point correction or tail changes whole integers, so equality is the test;
//  * the float output against the fp32 convolution / product in double, within the error the quantisation
//    of inputs and weights allows (derived below), so that a wrong scale cannot pass with a matching model.
// The program (exec::simd<Arch, precision::int8>) against the fp32 reference, with the bound derived at
// int8_bound (int8_util.hpp), and exec::calibrate against the fp32 program's own values.
// Skipped (doctest skip) on a CPU without AVX512_VNNI; the kernels are compiled only where TYPENET_HAS_VNNI.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <typenet/core/params.hpp>
#include <typenet/io/int8.hpp>
#include <typenet/kernels/simd/conv2d.hpp>
#include <typenet/kernels/simd/int8.hpp>
#include <typenet/typenet.hpp>
#include <typenet/zoo/alexnet.hpp>
#include <typenet/zoo/lenet.hpp>

#include "chain_nets.hpp"
#include "int8_util.hpp"
#include "simd_util.hpp"

namespace tn = typenet;
namespace ks = typenet::kernels::simd;
using namespace typenet::test;

TEST_CASE("int8: activation and weight quantisation") {
  const ks::act_quant a = ks::act_quant_for_range(-1.0f, 3.0f);
  CHECK(a.scale == doctest::Approx(4.0 / 255).epsilon(1e-7));
  CHECK(a.zero == 64);                                             // nearbyint(1 / (4 / 255)) = nearbyint(63.75)
  const ks::act_quant relu = ks::act_quant_for_range(0.5f, 2.0f);  // the range is widened to hold 0
  CHECK(relu.zero == 0);
  CHECK(relu.scale == doctest::Approx(2.0 / 255).epsilon(1e-7));
  const ks::act_quant neg = ks::act_quant_for_range(-2.0f, -1.0f);
  CHECK(neg.zero == 255);
  CHECK(ks::act_quant_for_range(0.0f, 0.0f).scale == 1.0f);

  CHECK(ks::quantize_u8(0.0f, 0.5f, 64) == 64);
  CHECK(ks::quantize_u8(5.0f, 0.5f, 64) == 66);  // 2.5 rounds to even: 2
  CHECK(ks::quantize_u8(7.0f, 0.5f, 64) == 68);  // 3.5 -> 4
  CHECK(ks::quantize_u8(1e30f, 0.5f, 64) == 255);
  CHECK(ks::quantize_u8(-1e30f, 0.5f, 64) == 0);
  CHECK(ks::quantize_u8(std::numeric_limits<float>::infinity(), 1.0f, 0) == 255);
  CHECK(ks::quantize_u8(std::nanf(""), 1.0f, 10) == 0);
  // The kernels' u8 epilogue on a scaled value t = v / s' + z': the activation and the u8 range as one clamp.
  const ks::out_quant q{0.5f, 64};  // s' = 2, z' = 64
  CHECK(ks::requantize_u8<ks::epilogue_none>(-5.0f, q) == 0);
  CHECK(ks::requantize_u8<ks::epilogue_none>(300.0f, q) == 255);
  CHECK(ks::requantize_u8<ks::epilogue_none>(70.5f, q) == 70);  // to even
  CHECK(ks::requantize_u8<ks::epilogue_none>(71.5f, q) == 72);
  CHECK(ks::requantize_u8<ks::epilogue_relu>(10.0f, q) == 64);  // ReLU: value 0 is z'
  CHECK(ks::requantize_u8<ks::epilogue_relu>(100.0f, q) == 100);
  CHECK(ks::requantize_u8<ks::epilogue_relu6>(10.0f, q) == 64);
  CHECK(ks::requantize_u8<ks::epilogue_relu6>(100.0f, q) == 67);  // ReLU6: value 6 is 6 / 2 + 64
  CHECK(ks::requantize_u8<ks::epilogue_relu6>(500.0f, ks::out_quant{100.0f, 10}) == 255);
  CHECK(ks::requantize_u8<ks::epilogue_relu>(std::nanf(""), q) == 0);

  const float w[] = {0.5f, -1.27f, 0.0f};
  CHECK(ks::weight_scale(w, 3) == doctest::Approx(0.01).epsilon(1e-6));
  const float zeros[] = {0.0f, -0.0f};
  CHECK(ks::weight_scale(zeros, 2) == 1.0f);
  CHECK(ks::quantize_s8(-1.27f, 100.0f) == -127);
  CHECK(ks::quantize_s8(-5.0f, 100.0f) == -127);  // clamped: -128 is never produced
  CHECK(ks::quantize_s8(0.5f, 1.0f) == 0);        // ties to even
  CHECK(ks::quantize_s8(1.5f, 1.0f) == 2);
  CHECK(ks::quantize_s8(-2.5f, 1.0f) == -2);
  CHECK(ks::quad_channels(3) == 4);
  CHECK(ks::quad_channels(8) == 8);
  CHECK(ks::quad_channels(9) == 12);
}

#if TYPENET_HAS_VNNI

namespace {

const bool no_vnni = !ks::cpu_has_vnni();

std::vector<float> random_values(std::size_t n, std::uint64_t seed, float scale = 1.0f, float shift = 0.0f) {
  std::vector<float> v(n);
  tn::fill_uniform(v, seed);
  for (float& x : v) x = x * scale + shift;
  return v;
}

template <class Epilogue>
float activation(float v) {
  if constexpr (std::is_same_v<Epilogue, ks::epilogue_relu>) return v < 0 ? 0.0f : v;
  if constexpr (std::is_same_v<Epilogue, ks::epilogue_relu6>) return v < 0 ? 0.0f : (v > 6 ? 6.0f : v);
  return v;
}

/// The quantisation of the residuals added in these tests (a ResNet join: the shortcut's own range).
const ks::act_quant res_act{0.015f, 91};

/// The next tensor's quantisation used for u8 outputs in these tests.
const ks::act_quant out_act{0.02f, 37};

/// Per-output-channel scales and s8 weights of a [F][K] weight matrix, as the kernels must quantise them.
struct quantised_weights {
  std::vector<float> scale;
  std::vector<std::int8_t> q;
};
quantised_weights quantise(const std::vector<float>& w, int F, std::size_t K) {
  quantised_weights r{std::vector<float>(F), std::vector<std::int8_t>(w.size())};
  for (int f = 0; f < F; ++f) {
    r.scale[f] = ks::weight_scale(w.data() + f * K, K);
    for (std::size_t k = 0; k < K; ++k) r.q[f * K + k] = ks::quantize_s8(w[f * K + k], 1.0f / r.scale[f]);
  }
  return r;
}

/// The scalar model of what a conv or dense kernel stores for one output: acc the exact integer sum (the
/// stored inputs minus their zero point, times the s8 weights), mul and bias the channel's constants, and
/// with Add a residual term r (the stored residual minus its zero point) of scale rs. An fp32 output is
/// Epilogue(fma(r, rs, fma(acc, mul, bias))); a u8 output folds the output's scale and zero point into the
/// constants first (ks::requantize_u8).
template <class Out, class Epilogue, bool Add = false>
Out model_of(std::int64_t acc, float mul, float bias, int r = 0, float rs = 0) {
  if constexpr (std::is_same_v<Out, float>) {
    float v = ks::int8_dequantize_acc(std::int32_t(acc), mul, bias);
    if constexpr (Add) v = std::fma(float(r), rs, v);
    return activation<Epilogue>(v);
  } else {
    const ks::out_quant oq{1.0f / out_act.scale, out_act.zero};
    float t =
        ks::int8_dequantize_acc(std::int32_t(acc), mul * oq.inv_scale, std::fma(bias, oq.inv_scale, float(oq.zero)));
    if constexpr (Add) t = std::fma(float(r), rs * oq.inv_scale, t);
    return ks::requantize_u8<Epilogue>(t, oq);
  }
}

/// Compares one output with the scalar model (bit for bit) and, for fp32 outputs, with ref, the fp32 layer
/// in double, within err_bound, its quantisation error bound. Counts disagreements.
template <class Out>
void compare(Out got, Out model, double ref, double err_bound, int& bad_model, int& bad_ref, double& worst) {
  if (!(got == model)) ++bad_model;
  if constexpr (std::is_same_v<Out, float>) {
    const double d = std::abs(double(got) - ref);
    worst = std::max(worst, d / err_bound);
    if (!(d <= err_bound)) ++bad_ref;
  }
}

/// check_conv's comparison of y (Fs stored outputs per pixel) with the scalar model of the quantised
/// arithmetic (exactly) and with fp32 (within the quantisation bound).
template <class Geo, class Out, class Epilogue, bool Add, int Fs>
void verify_conv(const char* what, const std::vector<float>& x, const std::vector<float>& w,
                 const std::vector<float>& bias, const std::vector<int>& xq, const quantised_weights& wq,
                 const ks::act_quant& a, const std::vector<std::uint8_t>& res, const std::vector<Out>& y) {
  constexpr int C = Geo::c, H = Geo::h, W = Geo::w, F = Geo::f, OH = Geo::oh, OW = Geo::ow;
  constexpr int Cg = Geo::cg, Fg = Geo::fg, KH = Geo::kh, KW = Geo::kw;
  constexpr int batch = 2, Rs = ks::quad_channels(F);
  int bad_model = 0, bad_ref = 0;
  double worst = 0;
  for (int n = 0; n < batch; ++n)
    for (int f = 0; f < F; ++f)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          const int g = f / Fg;
          std::int64_t acc = 0;
          double ref = bias[f], bound = 0;
          for (int c = 0; c < Cg; ++c)
            for (int kh = 0; kh < KH; ++kh)
              for (int kx = 0; kx < KW; ++kx) {
                const int ih = oh * Geo::sh - Geo::ph + kh, iw = ow * Geo::sw - Geo::pw + kx;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const std::size_t xi = ((std::size_t(n) * C + g * Cg + c) * H + ih) * W + iw;
                const std::size_t wi = ((std::size_t(f) * Cg + c) * KH + kh) * KW + kx;
                acc += std::int64_t(xq[xi] - a.zero) * wq.q[wi];
                ref += double(x[xi]) * w[wi];
                // |x w - s (q - z) sw wq| <= |w| s/2 + |x| sw/2 + s sw/4 (each rounding within half a step).
                bound += std::abs(w[wi]) * a.scale / 2 + std::abs(x[xi]) * wq.scale[f] / 2 + a.scale * wq.scale[f] / 4;
              }
          int r = 0;
          if constexpr (Add) {
            r = int(res[((std::size_t(n) * OH + oh) * OW + ow) * Rs + f]) - res_act.zero;
            ref += double(res_act.scale) * r;
          }
          const Out model = model_of<Out, Epilogue, Add>(acc, a.scale * wq.scale[f], bias[f], r, res_act.scale);
          const std::size_t at = ((std::size_t(n) * OH + oh) * OW + ow) * Fs + f;
          compare(y[at], model, double(activation<Epilogue>(float(ref))), bound + 1e-5 * std::abs(ref), bad_model,
                  bad_ref, worst);
        }
  // The stored padding channels of a u8 output hold the output's zero point.
  if constexpr (!std::is_same_v<Out, float>)
    for (std::size_t p = 0; p < std::size_t(batch) * OH * OW; ++p)
      for (int f = F; f < Fs; ++f) bad_model += y[p * Fs + f] != out_act.zero;
  INFO(std::string(what) << ": " << bad_model << " outputs differ from the scalar model, " << bad_ref
                         << " outside the quantisation bound (worst |diff| / bound " << worst << ")");
  CHECK(bad_model == 0);
  CHECK(bad_ref == 0);
}

/// The int8 convolution kernel check_conv tests: conv_int8_kernel, or conv_amx_int8_kernel (Amx).
template <class Geo, class Out, bool Amx, std::int64_t Segment>
struct kernel_for {
  using type = ks::conv_int8_kernel<Geo, Out>;
};
#if TYPENET_HAS_AMX_INT8
template <class Geo, class Out, std::int64_t Segment>
struct kernel_for<Geo, Out, true, Segment> {
  using type = ks::conv_amx_int8_kernel<Geo, Out, Segment>;
};
#endif

/// conv_int8_kernel (with Amx: conv_amx_int8_kernel) on one geometry (batch 2) with an input quantised with
/// a nonzero zero point (the padding correction matters). conv_int8_kernel runs every item split in two ranges
/// as two threads would; the AMX kernel is split as exec::simd splits it: by work units into 3 threads' shares,
/// each over a workspace filled with NaN, then (the same outputs again) by blocks of 32 output channels into
/// 2 shares. With Add, a random u8 residual (quantised as res_act, stored like a u8 output: its padding
/// channels hold its zero point) is joined: the model adds fma(float(r - z), s, conv) before the activation,
/// the fp32 reference s (r - z).
template <class Geo, class Out, class Epilogue = ks::epilogue_none, bool Add = false, bool Amx = false,
          std::int64_t Segment = ks::amx_segment_bytes>
void check_conv(const char* what, float lo = -1.0f, float hi = 1.0f) {
  using K = typename kernel_for<Geo, Out, Amx, Segment>::type;
  constexpr int C = Geo::c, H = Geo::h, W = Geo::w, F = Geo::f, OH = Geo::oh, OW = Geo::ow;
  constexpr int Cg = Geo::cg, KH = Geo::kh, KW = Geo::kw;
  constexpr int batch = 2;
  constexpr std::size_t per_output = std::size_t{Cg} * KH * KW;
  const auto x = random_values(std::size_t(batch) * C * H * W, 41, (hi - lo) / 2, (hi + lo) / 2);  // NCHW
  const auto w = random_values(std::size_t(F) * per_output, 42, 0.5f);
  const auto bias = random_values(F, 43);
  const ks::act_quant a = ks::act_quant_for_range(lo, hi);
  const float inv = 1.0f / a.scale;
  // Stored input: NHWC, K::Cs channels (the padding ones hold a value that must not matter).
  std::vector<std::uint8_t> xs(std::size_t(batch) * H * W * K::Cs, 201);
  std::vector<int> xq(x.size());
  for (int n = 0; n < batch; ++n)
    for (int c = 0; c < C; ++c)
      for (int p = 0; p < H * W; ++p) {
        const std::size_t i = (std::size_t(n) * C + c) * H * W + p;
        xq[i] = ks::quantize_u8(x[i], inv, a.zero);
        xs[(std::size_t(n) * H * W + p) * K::Cs + c] = std::uint8_t(xq[i]);
      }
  const quantised_weights wq = quantise(w, F, per_output);
  std::vector<std::int8_t> packed(K::packed_bytes + 64);
  auto* pw =
      reinterpret_cast<std::int8_t*>((reinterpret_cast<std::uintptr_t>(packed.data()) + 63) & ~std::uintptr_t{63});
  std::vector<std::int32_t> sums(K::sum_ints);
  std::vector<float> mul(K::channel_floats), pbias(K::channel_floats);
  K::pack(w.data(), bias.data(), a.scale, pw, sums.data(), mul.data(), pbias.data());
  const ks::int8_weights kw{pw, sums.data(), mul.data(), pbias.data()};
  constexpr int Rs = ks::quad_channels(F);
  std::vector<std::uint8_t> res(std::size_t(batch) * OH * OW * Rs);
  for (std::size_t i = 0; i < res.size(); ++i)
    res[i] = int(i % Rs) < F ? std::uint8_t((i * 2654435761u >> 7) % 256) : std::uint8_t(res_act.zero);
  const ks::out_quant oq{1.0f / out_act.scale, out_act.zero};
  for (int split = 0; split < (Amx ? 2 : 1); ++split) {
    std::vector<Out> y(std::size_t(batch) * OH * OW * K::Fs, Out(3));
    if constexpr (Amx) {
#if TYPENET_HAS_AMX_INT8
      auto ws = tn::detail::make_aligned_floats(std::int64_t(K::workspace_floats) * 3);
      std::fill_n(ws.get(), K::workspace_floats * 3, std::nanf(""));
      const int n = split == 0 ? 3 : 2;
      for (int t = 0; t < n; ++t) {
        float* wt = ws.get() + std::size_t(t) * K::workspace_floats;
        const auto u = tn::detail::split(split == 0 ? K::units(batch) : K::blocks, t, n);
        if (split == 0)
          K::template run<Epilogue, Add>(kw, xs.data(), a.zero, y.data(), oq, wt, u.begin, u.end, 0, K::blocks,
                                         res.data(), res_act);
        else
          K::template run<Epilogue, Add>(kw, xs.data(), a.zero, y.data(), oq, wt, 0, K::units(batch), int(u.begin),
                                         int(u.end), res.data(), res_act);
      }
#endif
    } else {
      const std::vector<std::uint8_t> pad(K::pad_bytes, std::uint8_t(a.zero));
      const std::int64_t items = K::items(batch), mid = items / 3;
      K::template run<Epilogue, Add>(kw, xs.data(), a.zero, y.data(), oq, pad.data(), batch, 0, mid, res.data(),
                                     res_act);
      K::template run<Epilogue, Add>(kw, xs.data(), a.zero, y.data(), oq, pad.data(), batch, mid, items, res.data(),
                                     res_act);
    }
    verify_conv<Geo, Out, Epilogue, Add, K::Fs>(what, x, w, bias, xq, wq, a, res, y);
  }
}

template <int C, int H, int W, int F, int K, int S, int P, int G = 1, int KW = K, int SW = S, int PW = P>
using geo = ks::conv_geometry<C, H, W, F, (H + 2 * P - K) / S + 1, (W + 2 * PW - KW) / SW + 1, K, KW, S, SW, P, PW, G>;

}  // namespace

TEST_CASE("int8 conv kernel: the exact integer sum and the epilogue, against a scalar model and fp32" *
          doctest::skip(no_vnni)) {
  check_conv<geo<3, 35, 35, 24, 11, 4, 0>, float, ks::epilogue_relu>("conv1-like, C = 3 (stored 4)");
  check_conv<geo<3, 35, 35, 24, 11, 4, 0>, std::uint8_t>("conv1-like, u8 out");
  check_conv<geo<1, 12, 12, 6, 5, 1, 0>, std::uint8_t>("lenet conv1, C = 1", 0.0f, 1.0f);
  check_conv<geo<16, 13, 13, 100, 3, 1, 1>, float>("pad 1, 100 outputs (a partial block)");
  check_conv<geo<16, 13, 13, 100, 3, 1, 1>, std::uint8_t, ks::epilogue_relu>("pad 1, u8 out, relu", -0.3f, 2.0f);
  check_conv<geo<8, 6, 70, 40, 1, 1, 0, 1, 5, 2, 2>, float>("1x5 kernel, stride 1x2, pad 0x2, long rows");
  check_conv<geo<5, 17, 19, 33, 3, 2, 1>, std::uint8_t>("stride 2, C = 5 (stored 8), F = 33");
  check_conv<geo<5, 17, 19, 33, 3, 2, 1>, float>("stride 2, C = 5, float out", -2.0f, 0.5f);
  check_conv<geo<32, 9, 9, 64, 3, 1, 1, 2>, float>("groups 2, 16 -> 32 per group");
  check_conv<geo<48, 11, 11, 96, 5, 1, 2, 2>, std::uint8_t, ks::epilogue_relu>("groups 2, 24 -> 48, pad 2");
  check_conv<geo<4, 12, 12, 33, 3, 1, 2>, float>("pad larger than the kernel half");
  check_conv<geo<8, 10, 9, 24, 1, 1, 0>, std::uint8_t>("1x1, 8 -> 24");
  check_conv<geo<64, 7, 7, 96, 1, 2, 0>, float>("1x1 stride 2");
  // The residual join (ResNet's blocks): 1x1 and 3x3, u8 and float outputs, a partial block and padding
  // channels (F = 33: stored 36), ReLU after the join.
  check_conv<geo<16, 7, 9, 64, 1, 1, 0>, std::uint8_t, ks::epilogue_relu, true>("1x1 + residual, relu");
  check_conv<geo<12, 9, 8, 33, 3, 1, 1>, std::uint8_t, ks::epilogue_none, true>("3x3 + residual, F = 33");
  check_conv<geo<8, 10, 10, 100, 3, 2, 1>, float, ks::epilogue_relu6, true>("3x3/2 + residual, float out, relu6");
}

#if TYPENET_HAS_AMX_INT8
TEST_CASE("int8 AMX conv kernel: the exact integer sum and the epilogue, against a scalar model and fp32" *
          doctest::skip(no_vnni || !ks::cpu_has_amx_int8() || !ks::amx_enable())) {
  // Flat (stride 1, channels whole steps of 64): padded copies of whole images per segment, 1x1 in place.
  check_conv<geo<64, 13, 13, 100, 3, 1, 1>, float, ks::epilogue_none, false, true>("3x3 pad 1, F = 100");
  check_conv<geo<64, 7, 7, 64, 3, 1, 1>, std::uint8_t, ks::epilogue_relu, false, true>("3x3 pad 1, 7 x 7, relu", -0.3f,
                                                                                       2.0f);
  check_conv<geo<128, 9, 11, 33, 5, 1, 2>, std::uint8_t, ks::epilogue_none, true, true>("5x5 pad 2 + residual");
  check_conv<geo<64, 7, 9, 64, 1, 1, 0>, std::uint8_t, ks::epilogue_relu, true, true>("1x1 + residual, relu");
  check_conv<geo<2048, 6, 6, 40, 1, 1, 0>, float, ks::epilogue_relu6, false, true>("1x1, C = 2048: segments");
  check_conv<geo<64, 6, 40, 40, 1, 1, 0, 1, 5, 1, 2>, float, ks::epilogue_none, false, true>("1x5 kernel, pad 0x2");
  // Small segments: a padded image in parts (8 KB: 32 grid pixels each), the gathered rows in many segments.
  // (With the default, the 7 x 7 case above copies both images into one segment.)
  check_conv<geo<64, 20, 20, 32, 3, 1, 1>, std::uint8_t, ks::epilogue_none, true, true, 8192>("3x3, 8 KB segments");
  check_conv<geo<64, 7, 7, 64, 3, 1, 1>, float, ks::epilogue_relu, false, true, 6144>("3x3, segments of 32 pixels");
  check_conv<geo<3, 35, 35, 24, 7, 2, 3>, std::uint8_t, ks::epilogue_none, false, true, 4096>("stem-like, 4 KB");
  // Gathered windows: strides, channels that are not whole steps.
  check_conv<geo<3, 35, 35, 24, 11, 4, 0>, float, ks::epilogue_relu, false, true>("conv1-like, C = 3 (stored 4)");
  check_conv<geo<3, 35, 35, 24, 7, 2, 3>, std::uint8_t, ks::epilogue_relu, false, true>("stem-like 7x7/2 pad 3");
  check_conv<geo<5, 17, 19, 33, 3, 2, 1>, std::uint8_t, ks::epilogue_none, false, true>("stride 2, C = 5, F = 33");
  check_conv<geo<24, 9, 10, 40, 1, 1, 0>, std::uint8_t, ks::epilogue_none, false, true>("1x1, C = 24");
  check_conv<geo<96, 15, 15, 64, 1, 2, 0>, float, ks::epilogue_none, false, true>("1x1 stride 2, C = 96");
  check_conv<geo<8, 10, 10, 100, 3, 2, 1>, float, ks::epilogue_relu6, true, true>("3x3/2 + residual, relu6");
  check_conv<geo<4, 12, 12, 33, 3, 1, 2>, float, ks::epilogue_none, false, true>("pad larger than the kernel half");
}
#endif

namespace {

/// dense_int8_kernel<In, Out> at one batch size (every part of 3), against the scalar model and fp32.
template <int N, int Out, class OutT, class Epilogue = ks::epilogue_none>
void check_dense(int batch, const char* what) {
  constexpr int In = ks::quad_channels(N);
  using K = ks::dense_int8_kernel<In, Out, OutT>;
  const auto x = random_values(std::size_t(batch) * N, 51, 1.5f, 0.5f);  // [-1, 2]
  const auto w = random_values(std::size_t(Out) * N, 52, 0.2f);
  const auto bias = random_values(Out, 53);
  const ks::act_quant a = ks::act_quant_for_range(-1.0f, 2.0f);
  std::vector<std::uint8_t> xs(std::size_t(batch) * In, 99);
  std::vector<int> xq(x.size());
  for (int b = 0; b < batch; ++b)
    for (int i = 0; i < N; ++i) {
      xq[b * N + i] = ks::quantize_u8(x[b * N + i], 1.0f / a.scale, a.zero);
      xs[std::size_t(b) * In + i] = std::uint8_t(xq[b * N + i]);
    }
  // The kernel takes weights in the stored input order: [Out][In], the padding columns zero.
  std::vector<float> ws(static_cast<std::size_t>(Out) * In, 0.0f);
  for (int o = 0; o < Out; ++o) std::copy(w.begin() + o * N, w.begin() + (o + 1) * N, ws.begin() + o * In);
  const quantised_weights wq = quantise(w, Out, N);
  std::vector<std::int8_t> packed(K::packed_bytes + 64);
  std::vector<std::int32_t> sums(K::channel_floats);
  std::vector<float> mul(K::channel_floats), pbias(K::channel_floats);
  K::pack(ws.data(), bias.data(), a.scale, packed.data(), sums.data(), mul.data(), pbias.data());
  const ks::int8_weights kw{packed.data(), sums.data(), mul.data(), pbias.data()};
  std::vector<std::uint32_t> panel(K::panel_quads(batch) + 1);
  if (batch > 1) K::make_panel(xs.data(), panel.data(), batch, 0, ks::ceil_div(batch, K::tile_rows) * K::tile_rows);
  std::vector<OutT> y(std::size_t(batch) * K::Outs, OutT(3));
  const ks::out_quant oq{1.0f / out_act.scale, out_act.zero};
  for (int part = 0; part < 3; ++part)
    K::template run<Epilogue>(kw, a.zero, xs.data(), panel.data(), y.data(), oq, batch, part, 3);
  int bad_model = 0, bad_ref = 0;
  double worst = 0;
  for (int b = 0; b < batch; ++b)
    for (int o = 0; o < Out; ++o) {
      std::int64_t acc = 0;
      double ref = bias[o], bound = 0;
      for (int i = 0; i < N; ++i) {
        acc += std::int64_t(xq[b * N + i] - a.zero) * wq.q[std::size_t(o) * N + i];
        const double xv = x[b * N + i], wv = w[std::size_t(o) * N + i];
        ref += xv * wv;
        bound += std::abs(wv) * a.scale / 2 + std::abs(xv) * wq.scale[o] / 2 + a.scale * wq.scale[o] / 4;
      }
      const OutT model = model_of<OutT, Epilogue>(acc, a.scale * wq.scale[o], bias[o]);
      compare(y[std::size_t(b) * K::Outs + o], model, double(activation<Epilogue>(float(ref))),
              bound + 1e-5 * std::abs(ref), bad_model, bad_ref, worst);
    }
  if constexpr (!std::is_same_v<OutT, float>)
    for (int b = 0; b < batch; ++b)
      for (int o = Out; o < K::Outs; ++o) bad_model += y[std::size_t(b) * K::Outs + o] != out_act.zero;
  INFO(std::string(what) << ", batch " << batch << ": " << bad_model << " outputs differ from the scalar model, "
                         << bad_ref << " outside the quantisation bound (worst |diff| / bound " << worst << ")");
  CHECK(bad_model == 0);
  CHECK(bad_ref == 0);
}

}  // namespace

TEST_CASE("int8 dense kernel: GEMV and GEMM against a scalar model and fp32" * doctest::skip(no_vnni)) {
  for (int batch : {1, 2, 8, 11}) {
    check_dense<256, 100, float>(batch, "256 -> 100 (a partial block)");
    check_dense<30, 64, std::uint8_t, ks::epilogue_relu>(batch, "30 (stored 32) -> 64, u8 out, relu");
    check_dense<36, 10, std::uint8_t>(batch, "36 (an odd count of quads) -> 10 (stored 12)");
    check_dense<1000, 33, float, ks::epilogue_relu>(batch, "1000 -> 33, relu");
  }
}

TEST_CASE("int8: quantize_row and dequantize_row as the scalar helpers" * doctest::skip(no_vnni)) {
  const ks::act_quant a{0.5f, 64};
  std::vector<float> x = random_values(37, 61, 80.0f);
  x[3] = std::nanf("");
  x[4] = std::numeric_limits<float>::infinity();
  x[5] = -std::numeric_limits<float>::infinity();
  x[6] = 5.0f;  // a tie
  x[36] = -3e9f;
  std::vector<std::uint8_t> q(x.size() + 1, 7);
  ks::quantize_row(x.data(), q.data(), std::int64_t(x.size()), a);
  for (std::size_t i = 0; i < x.size(); ++i) {
    INFO("element " << i << " = " << x[i]);
    CHECK(int(q[i]) == int(ks::quantize_u8(x[i], 1.0f / a.scale, a.zero)));
  }
  CHECK(q[x.size()] == 7);  // nothing written past the end
  std::vector<float> back(x.size() + 1, -1.0f);
  ks::dequantize_row(q.data(), back.data(), std::int64_t(x.size()), a);
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(back[i] == a.scale * float(int(q[i]) - a.zero));
  CHECK(back[x.size()] == -1.0f);
}

namespace {

using chain::ends_in;

/// Net in int8 against the fp32 reference on `batch` inputs, calibrated on those inputs and 6 others from
/// the same distribution (so that no value saturates: the bound assumes the calibrated ranges hold the
/// values; saturation is tested below); 1 and 2 threads equal.
template <class Net>
void check_network(int batch, std::uint64_t seed, int layers, const char* name, ends_in end = ends_in::logits) {
  tn::params<Net> p;
  tn::init_he(p, seed);
  std::vector<float> in(static_cast<std::size_t>(batch * Net::input_shape::size));
  tn::fill_uniform(in, seed + 100);
  std::vector<float> cal(static_cast<std::size_t>(6 * Net::input_shape::size));
  tn::fill_uniform(cal, seed + 200);
  cal.insert(cal.end(), in.begin(), in.end());
  const auto ranges = tn::exec::calibrate<Net>(p, cal, 6 + batch);
  const auto want = run_policy<Net, tn::exec::reference_t>(p, in, batch);
  const auto one = run_int8<Net>(p, in, batch, 1, ranges);
  const auto two = run_int8<Net>(p, in, batch, 2, ranges);
  const double err = chain::logit_error(one, want, int(Net::output_shape::size), end);
  MESSAGE(chain::error_line("int8", name, batch, err, int8_bound(layers), end));
  CHECK(err <= int8_bound(layers));
  CHECK(err > 0);  // it does quantise: an fp32 program by mistake would show here
  CHECK(one == two);
}

}  // namespace

TEST_CASE("int8 program: every stage kind against the fp32 reference" * doctest::skip(no_vnni)) {
  chain::every_stage_kind([](auto net, auto... args) { check_network<typename decltype(net)::type>(args...); });
}

TEST_CASE("int8 program: the zoo chains against the fp32 reference" * doctest::skip(no_vnni)) {
  chain::zoo_chains([](auto net, auto... args) { check_network<typename decltype(net)::type>(args...); });
}

TEST_CASE("int8 calibrate: the ranges are the fp32 program's extremes" * doctest::skip(no_vnni)) {
  using net = chain::spatial_out;  // three stages: conv + relu, conv; a spatial output
  tn::params<net> p;
  tn::init_he(p, 21);
  constexpr int count = 19;  // more than one chunk of 16
  std::vector<float> x(count * net::input_shape::size);
  tn::fill_uniform(x, 22);
  const auto r = tn::exec::calibrate<net>(p, x, count);
  REQUIRE(r.size() == tn::exec::int8_tensor_count<net>);
  REQUIRE(r.size() == 3);
  CHECK(r[0].lo == *std::min_element(x.begin(), x.end()));
  CHECK(r[0].hi == *std::max_element(x.begin(), x.end()));
  // The last tensor is the network's output (any layout: the extremes do not depend on it).
  const auto y = run_simd<net>(p, x, count, 1);
  CHECK(r[2].lo == std::min(0.0f, *std::min_element(y.begin(), y.end())));
  CHECK(r[2].hi == std::max(0.0f, *std::max_element(y.begin(), y.end())));
  CHECK(r[1].lo == 0.0f);  // after a ReLU
  CHECK(r[1].hi > 0.0f);

  CHECK_THROWS_WITH_AS(tn::exec::calibrate<net>(p, x, count + 1), doctest::Contains("20 images of 576 floats"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(tn::exec::calibrate<net>(p, x, 0), doctest::Contains("count must be at least 1"),
                       std::invalid_argument);
  x[40] = std::nanf("");
  CHECK_THROWS_WITH_AS(tn::exec::calibrate<net>(p, x, count), doctest::Contains("calibration images hold NaN"),
                       std::invalid_argument);
}

TEST_CASE("int8 program: its ranges are checked against the network" * doctest::skip(no_vnni)) {
  using net = chain::flat;
  tn::params<net> p;
  tn::init_he(p, 1);
  using model_t = tn::model<net, int8_policy>;
  int8_policy policy;
  CHECK_THROWS_WITH_AS(model_t(p, 1, policy), doctest::Contains("policy.ranges has 0 ranges, the network quantises"),
                       std::invalid_argument);
  std::vector<float> x(4 * 37);
  tn::fill_uniform(x, 2);
  policy.ranges = tn::exec::calibrate<net>(p, x, 4);
  policy.ranges[2].lo = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH_AS(model_t(p, 1, policy), doctest::Contains("policy.ranges[2]"), std::invalid_argument);
  policy.ranges = tn::exec::calibrate<net>(p, x, 4);
  CHECK_THROWS_WITH_AS(model_t(p, 0, policy), doctest::Contains("max_batch must be at least 1"), std::invalid_argument);
  model_t m(p, 2, policy);
  std::vector<float> out(3 * 4);
  CHECK_THROWS_WITH_AS(m.forward(x.data(), out.data(), 3), doctest::Contains("batch 3 is outside 1..2"),
                       std::invalid_argument);
}

TEST_CASE("int8 program: NaN and infinity saturate at the ends of the input's range" * doctest::skip(no_vnni)) {
  using net = chain::stages;
  tn::params<net> p;
  tn::init_he(p, 9);
  std::vector<float> cal(4 * net::input_shape::size), in(2 * net::input_shape::size);
  tn::fill_uniform(cal, 10);
  tn::fill_uniform(in, 11);
  const auto ranges = tn::exec::calibrate<net>(p, cal, 4);
  std::vector<float> odd = in, ends = in;
  odd[5] = std::nanf("");
  odd[net::input_shape::size + 7] = std::numeric_limits<float>::infinity();
  odd[net::input_shape::size + 8] = -std::numeric_limits<float>::infinity();
  ends[5] = ranges[0].lo;  // int8 cannot hold NaN: it becomes the bottom of the range
  ends[net::input_shape::size + 7] = ranges[0].hi;
  ends[net::input_shape::size + 8] = ranges[0].lo;
  CHECK(run_int8<net>(p, odd, 2, 2, ranges) == run_int8<net>(p, ends, 2, 2, ranges));
}

#endif  // TYPENET_HAS_VNNI

TEST_CASE("int8 program: a CPU without AVX512_VNNI is an error naming what is missing") {
  CHECK_THROWS_WITH_AS(tn::exec::simd_int8_detail::check_cpu(false), doctest::Contains("has no AVX512_VNNI"),
                       std::runtime_error);
  CHECK_NOTHROW(tn::exec::simd_int8_detail::check_cpu(true));
}

TEST_CASE("int8 program compiled with AMX: a CPU without AMX_INT8 or its tile state is an error naming it") {
  CHECK_THROWS_WITH_AS(tn::exec::simd_int8_detail::check_amx(false, false), doctest::Contains("has no AMX_INT8"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(tn::exec::simd_int8_detail::check_amx(true, false),
                       doctest::Contains("the OS refused its tile state"), std::runtime_error);
  CHECK_NOTHROW(tn::exec::simd_int8_detail::check_amx(true, true));
}

TEST_CASE("int8 ranges saved and loaded with the weights in safetensors, checked like every tensor") {
  using net = chain::spatial_out;
  tn::params<net> p;
  tn::init_he(p, 31);
  std::vector<float> x(5 * net::input_shape::size);
  tn::fill_uniform(x, 32);
  const auto ranges = tn::exec::calibrate<net>(p, x, 5);
  REQUIRE(tn::io::int8_range_count<net> == 3);
  const auto dir = std::filesystem::temp_directory_path() / ("typenet_int8_io_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "w8.safetensors";
  tn::io::save_weights_int8(path, p, ranges);
  tn::params<net> q;
  const auto back = tn::io::load_weights_int8(path, q);
  REQUIRE(back.size() == ranges.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    CHECK(back[i].lo == ranges[i].lo);
    CHECK(back[i].hi == ranges[i].hi);
  }
  CHECK(std::equal(q.data(), q.data() + tn::params<net>::count, p.data()));
#if TYPENET_HAS_VNNI
  if (!no_vnni) CHECK(run_int8<net>(q, x, 5, 2, back) == run_int8<net>(p, x, 5, 2, ranges));
#endif

  // A weights file without ranges, with the wrong number of them, or with a reversed range: errors naming
  // the key and the shapes; the parameters are left as they were.
  const auto plain = dir / "plain.safetensors";
  tn::io::save_weights(plain, p);
  tn::params<net> r;
  tn::init_he(r, 33);
  const tn::params<net> before = r;
  CHECK_THROWS_WITH_AS(tn::io::load_weights_int8(plain, r),
                       doctest::Contains("missing tensor 'typenet.int8.ranges' (expected float32 [3, 2])"),
                       tn::io::io_error);
  const std::vector<float> four(8, 0.5f);
  const auto wrong = dir / "wrong.safetensors";
  write_with_ranges(wrong, p, {4, 2}, four);
  CHECK_THROWS_WITH_AS(tn::io::load_weights_int8(wrong, r),
                       doctest::Contains("'typenet.int8.ranges' has shape [4, 2] but the network expects [3, 2]"),
                       tn::io::io_error);
  const std::vector<float> reversed{0.0f, 1.0f, 2.0f, 1.0f, 0.0f, 1.0f};
  write_with_ranges(wrong, p, {3, 2}, reversed);
  CHECK_THROWS_WITH_AS(tn::io::load_weights_int8(wrong, r), doctest::Contains("typenet.int8.ranges row 1 is [2"),
                       tn::io::io_error);
  CHECK(std::equal(r.data(), r.data() + tn::params<net>::count, before.data()));
  CHECK_THROWS_WITH_AS(tn::io::save_weights_int8(path, p, std::span(ranges).first(2)),
                       doctest::Contains("2 ranges, the network's int8 program quantises 3 tensors"),
                       std::invalid_argument);
  std::filesystem::remove_all(dir);
}
