// exec::simd<Arch, precision::bf16> and its kernels (kernels/simd/bf16.hpp).
//
// Two kinds of check:
//  * the kernels against double-precision sums of the same bf16-rounded inputs and weights: only the fp32
//    accumulation differs, so the bound is tight (a few float ulps of the sum of |terms|), and a tap, a pair,
//    a padding row or a tail that is wrong shows at once;
//  * whole networks against exec::reference in fp32: here bf16 rounding of weights and activations is the
//    error, bounded relative to the largest output (see bf16_bound below for the derivation).
// Skipped (doctest skip) on a CPU without AVX512_BF16; compiled only where TYPENET_HAS_BF16.
#include <ratio>

#include <typenet/zoo/alexnet.hpp>
#include <typenet/zoo/lenet.hpp>

#include "bf16_util.hpp"
#include "chain_nets.hpp"

namespace tn = typenet;
namespace ks = typenet::kernels::simd;
using namespace typenet::test;

TEST_CASE("bf16: rounding to nearest even, NaN and denormals as vcvtneps2bf16") {
  CHECK(ks::bf16_round(1.0f) == 0x3f80);
  CHECK(ks::bf16_round(-2.0f) == 0xc000);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1); just above it rounds up.
  CHECK(ks::bf16_round(1.0f + 1.0f / 256) == 0x3f80);
  CHECK(ks::bf16_round(1.0f + 1.0f / 256 + 1.0f / 65536) == 0x3f81);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: to even (up).
  CHECK(ks::bf16_round(1.0f + 3.0f / 256) == 0x3f82);
  CHECK(std::isnan(ks::bf16_to_float(ks::bf16_round(std::nanf("")))));
  CHECK(ks::bf16_round(std::numeric_limits<float>::infinity()) == 0x7f80);
  CHECK(ks::bf16_round(1e-40f) == 0);  // a denormal flushes to zero
  CHECK(ks::bf16_round(3.0e38f) == 0x7f62);
  CHECK(ks::stored_channels(3) == 4);
  CHECK(ks::stored_channels(96) == 96);
}

#if TYPENET_HAS_BF16

namespace {

const bool no_bf16 = !ks::cpu_has_bf16();

float round_trip(float v) { return ks::bf16_to_float(ks::bf16_round(v)); }

std::vector<float> random_values(std::size_t n, std::uint64_t seed, float scale = 1.0f) {
  std::vector<float> v(n);
  tn::fill_uniform(v, seed);
  for (float& x : v) x = round_trip(x * scale);
  return v;
}

/// Runs conv_bf16_kernel on one geometry (batch 2, every item) and compares it with double sums of the
/// same bf16 values: |got - want| <= 8 * 2^-24 * sum |terms| (+ for a bf16 output, its rounding: 2^-8 |want|).
/// A convolution kernel K (conv_bf16_kernel's or conv_amx_kernel's interface) on one geometry, `batch` images,
/// against double sums of the same bf16 values; run(packed, bias, x, y) computes every output.
template <class Geo, class Out, class Epilogue, class K, class Run>
void check_conv_kernel(const char* what, int batch, Run&& run) {
  constexpr int C = Geo::c, H = Geo::h, W = Geo::w, F = Geo::f, OH = Geo::oh, OW = Geo::ow;
  constexpr int Cg = Geo::cg, Fg = Geo::fg, KH = Geo::kh, KW = Geo::kw;
  const auto x = random_values(std::size_t(batch) * C * H * W, 11);  // NCHW
  const auto w = random_values(std::size_t(F) * Cg * KH * KW, 12, 0.5f);
  const auto bias = random_values(F, 13);
  // Stored input: NHWC, K::Cs channels (the padding one holds garbage that must not matter: zero weights).
  std::vector<ks::bf16_t> xs(std::size_t(batch) * H * W * K::Cs, ks::bf16_round(7.0f));
  for (int n = 0; n < batch; ++n)
    for (int c = 0; c < C; ++c)
      for (int p = 0; p < H * W; ++p)
        xs[(std::size_t(n) * H * W + p) * K::Cs + c] = ks::bf16_round(x[(std::size_t(n) * C + c) * H * W + p]);
  auto packed = tn::detail::make_aligned_floats(std::int64_t(K::packed_elems / 2 + 1));
  auto packed_bias = tn::detail::make_aligned_floats(std::int64_t(K::packed_bias_floats));
  auto* pw = reinterpret_cast<ks::bf16_t*>(packed.get());
  K::pack(w.data(), bias.data(), pw, packed_bias.get());
  std::vector<Out> y(std::size_t(batch) * OH * OW * K::Fs);
  run(static_cast<const ks::bf16_t*>(pw), static_cast<const float*>(packed_bias.get()),
      static_cast<const ks::bf16_t*>(xs.data()), y.data());
  int bad = 0;
  double worst = 0;
  for (int n = 0; n < batch; ++n)
    for (int f = 0; f < F; ++f)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          const int g = f / Fg;
          double sum = bias[f], mag = std::abs(bias[f]);
          for (int c = 0; c < Cg; ++c)
            for (int kh = 0; kh < KH; ++kh)
              for (int kw = 0; kw < KW; ++kw) {
                const int ih = oh * Geo::sh - Geo::ph + kh, iw = ow * Geo::sw - Geo::pw + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const double t = double(x[((std::size_t(n) * C + g * Cg + c) * H + ih) * W + iw]) *
                                 w[((std::size_t(f) * Cg + c) * KH + kh) * KW + kw];
                sum += t;
                mag += std::abs(t);
              }
          if (std::is_same_v<Epilogue, ks::epilogue_relu>) sum = std::max(sum, 0.0);
          const std::size_t at = ((std::size_t(n) * OH + oh) * OW + ow) * K::Fs + f;
          double got;
          if constexpr (std::is_same_v<Out, float>)
            got = y[at];
          else
            got = ks::bf16_to_float(y[at]);
          const double lim = 8 * unit_roundoff * mag + (std::is_same_v<Out, float> ? 0.0 : std::abs(sum) / 256);
          const double d = std::abs(got - sum);
          worst = std::max(worst, d);
          if (!(d <= lim)) ++bad;
        }
  // The stored padding channel of a bf16 output is 0.
  if constexpr (!std::is_same_v<Out, float>) {
    if (K::Fs != F)
      for (std::size_t p = 0; p < std::size_t(batch) * OH * OW; ++p) {
        if (y[p * K::Fs + F] != 0) ++bad;
      }
  }
  INFO(std::string(what) << ": " << bad << " outputs outside the bound; max |diff| " << worst);
  CHECK(bad == 0);
}

/// conv_bf16_kernel on one geometry, batch 2, every item.
template <class Geo, class Out, class Epilogue = ks::epilogue_none>
void check_conv(const char* what) {
  using K = ks::conv_bf16_kernel<Geo, Out>;
  std::vector<ks::bf16_t> zeros(K::zero_elems + 32, 0);
  check_conv_kernel<Geo, Out, Epilogue, K>(what, 2,
                                           [&](const ks::bf16_t* pw, const float* pb, const ks::bf16_t* x, Out* y) {
                                             K::template run<Epilogue>(pw, pb, x, y, zeros.data(), 2, 0, K::items(2));
                                           });
}

template <int C, int H, int W, int F, int K, int S, int P, int G = 1, int KW = K, int SW = S, int PW = P>
using geo = ks::conv_geometry<C, H, W, F, (H + 2 * P - K) / S + 1, (W + 2 * PW - KW) / SW + 1, K, KW, S, SW, P, PW, G>;

}  // namespace

TEST_CASE("bf16 conv kernel: against double sums of the same bf16 values" * doctest::skip(no_bf16)) {
  check_conv<geo<3, 35, 35, 24, 11, 4, 0>, float, ks::epilogue_relu>("conv1-like, C = 3 (stored 4)");
  check_conv<geo<3, 35, 35, 24, 11, 4, 0>, ks::bf16_t>("conv1-like, bf16 out");
  check_conv<geo<1, 12, 12, 6, 5, 1, 0>, ks::bf16_t>("lenet conv1, C = 1");
  check_conv<geo<16, 13, 13, 100, 3, 1, 1>, float>("pad 1, 100 outputs (a partial block)");
  check_conv<geo<16, 13, 13, 100, 3, 1, 1>, ks::bf16_t, ks::epilogue_relu>("pad 1, bf16 out, relu");
  check_conv<geo<8, 6, 70, 40, 1, 1, 0, 1, 5, 2, 2>, float>("1x5 kernel, stride 1x2, pad 0x2, long rows");
  check_conv<geo<5, 17, 19, 33, 3, 2, 1>, ks::bf16_t>("stride 2, C = 5, F = 33 (odd)");
  check_conv<geo<32, 9, 9, 64, 3, 1, 1, 2>, float>("groups 2, 16 -> 32 per group");
  check_conv<geo<48, 11, 11, 96, 5, 1, 2, 2>, ks::bf16_t, ks::epilogue_relu>("groups 2, 24 -> 48, pad 2");
  check_conv<geo<4, 12, 12, 33, 3, 1, 2>, float>("pad larger than the kernel half");
  check_conv<geo<8, 10, 9, 24, 1, 1, 0>, ks::bf16_t>("1x1, 8 -> 24 (one pixel per pair run)");
  check_conv<geo<6, 11, 11, 8, 1, 1, 0>, float, ks::epilogue_relu>("1x1, 6 -> 8, relu");
  check_conv<geo<64, 7, 7, 96, 1, 2, 0>, ks::bf16_t>("1x1 stride 2");
}

#if TYPENET_HAS_AMX

namespace {

/// conv_amx_kernel on one geometry, 3 images, split as exec::simd splits it: by work units into `parts`
/// threads' shares, then (the same outputs again) by blocks of 32 output channels into 2 shares.
template <class Geo, class Out, class Epilogue = ks::epilogue_none, std::int64_t Segment = ks::amx_segment_bytes>
void check_amx_conv(const char* what, int parts) {
  using K = ks::conv_amx_kernel<Geo, Out, Segment>;
  constexpr int batch = 3;
  auto ws = tn::detail::make_aligned_floats(std::int64_t(K::workspace_floats) * std::max(parts, 2));
  // NaN where the kernel must write before it reads (zero borders, the zeros that round windows up).
  std::fill_n(ws.get(), K::workspace_floats * std::size_t(std::max(parts, 2)), std::nanf(""));
  for (const bool by_blocks : {false, true})
    check_conv_kernel<Geo, Out, Epilogue, K>(
        what, batch, [&](const ks::bf16_t* pw, const float* pb, const ks::bf16_t* x, Out* y) {
          const int n = by_blocks ? 2 : parts;
          for (int t = 0; t < n; ++t) {
            float* w = ws.get() + std::size_t(t) * K::workspace_floats;
            if (by_blocks) {
              const auto r = tn::detail::split(K::blocks, t, n);
              K::template run<Epilogue>(pw, pb, x, y, w, 0, K::units(batch), int(r.begin), int(r.end));
            } else {
              const auto r = tn::detail::split(K::units(batch), t, n);
              K::template run<Epilogue>(pw, pb, x, y, w, r.begin, r.end, 0, K::blocks);
            }
          }
        });
}

}  // namespace

TEST_CASE("bf16 AMX conv kernel: against double sums of the same bf16 values" * doctest::skip(!ks::amx_enable())) {
  check_amx_conv<geo<64, 13, 13, 100, 3, 1, 1>, float>("3x3 pad 1, 13 x 13 (rows of 15 computed), F = 100", 2);
  check_amx_conv<geo<64, 7, 7, 64, 3, 1, 1>, ks::bf16_t, ks::epilogue_relu>("3x3 pad 1, 7 x 7, bf16 out, relu", 3);
  check_amx_conv<geo<32, 9, 11, 33, 5, 1, 2>, ks::bf16_t>("5x5 pad 2, 9 x 11, F = 33 (stored 34)", 2);
  check_amx_conv<geo<96, 10, 10, 17, 3, 1, 0>, float>("3x3 without padding, F = 17", 2);
  check_amx_conv<geo<32, 6, 40, 40, 1, 1, 0, 1, 5, 1, 2>, float>("1x5 kernel, pad 0x2", 2);
  check_amx_conv<geo<64, 7, 7, 96, 1, 1, 0>, ks::bf16_t>("1x1: a thread's pixels across images", 2);
  check_amx_conv<geo<1024, 10, 10, 40, 1, 1, 0>, float, ks::epilogue_relu>("1x1, C = 1024: segments of 128 pixels", 2);
  check_amx_conv<geo<64, 15, 15, 64, 1, 2, 0>, ks::bf16_t>("1x1 stride 2", 2);
  check_amx_conv<geo<128, 17, 17, 48, 3, 2, 1>, float>("3x3 stride 2 pad 1 (rows)", 3);
  check_amx_conv<geo<1024, 9, 9, 32, 3, 2, 1>, float>("3x3 stride 2, C = 1024", 1);
  check_amx_conv<geo<32, 70, 70, 32, 3, 2, 1>, ks::bf16_t>("3x3 stride 2, 35 pixels a row (32 + 3)", 2);
  // Gathered windows where the channels are not whole blocks of 32.
  check_amx_conv<geo<3, 35, 35, 24, 7, 2, 3>, ks::bf16_t, ks::epilogue_relu>("stem-like 7x7/2 pad 3, C = 3", 2);
  check_amx_conv<geo<3, 35, 35, 24, 11, 4, 0>, float>("11x11/4, C = 3 (windows of 44 values)", 1);
  check_amx_conv<geo<24, 9, 10, 40, 1, 1, 0>, ks::bf16_t>("1x1, C = 24", 2);
  check_amx_conv<geo<5, 17, 19, 33, 3, 2, 1>, ks::bf16_t>("stride 2, C = 5, F = 33 (odd)", 3);
  check_amx_conv<geo<48, 6, 70, 40, 1, 1, 0, 1, 5, 2, 2>, float>("1x5 kernel, stride 1x2, pad 0x2", 2);
  check_amx_conv<geo<4, 12, 12, 33, 3, 1, 2>, float>("pad larger than the kernel half, C = 4", 2);
  // Small segments: a padded image in parts of 32 grid pixels (4 KB, 12 KB), the gathered rows in many
  // segments. (With the default, the 7 x 7 case above copies all 3 images into one segment.)
  check_amx_conv<geo<64, 13, 13, 100, 3, 1, 1>, float, ks::epilogue_none, 4096>("3x3, segments of 4 KB", 2);
  check_amx_conv<geo<64, 7, 7, 64, 3, 1, 1>, ks::bf16_t, ks::epilogue_relu, 12288>(
      "3x3, segments of 32 pixels of one image", 2);
  check_amx_conv<geo<3, 35, 35, 24, 7, 2, 3>, ks::bf16_t, ks::epilogue_none, 4096>("stem-like, segments of 4 KB", 3);
  // A dense layer as the bf16 chain program runs it: a 1x1 convolution on 1 x 1 over the batch's rows, the
  // accumulators on the stack (no workspace), output blocks split in 3 parts.
  using dense = geo<2048, 1, 1, 100, 1, 1, 0>;
  using Kd = ks::conv_amx_kernel<dense, ks::bf16_t>;
  for (const int rows : {1, 5, 40})
    check_conv_kernel<dense, ks::bf16_t, ks::epilogue_relu, Kd>(
        "dense 2048 -> 100", rows, [&](const ks::bf16_t* pw, const float* pb, const ks::bf16_t* x, ks::bf16_t* y) {
          for (int part = 0; part < 3; ++part) {
            const auto r = tn::detail::split(Kd::blocks, part, 3);
            Kd::run<ks::epilogue_relu>(pw, pb, x, y, nullptr, 0, rows, int(r.begin), int(r.end));
          }
        });
}

#endif  // TYPENET_HAS_AMX

namespace {

/// winograd_bf16 on one shape (batch 2) against double sums of the same bf16 inputs and weights, per output
/// |got - want| <= 8u * sum |terms| (u = 2^-9; for a bf16 output plus its own rounding, |want| / 256). The
/// kernel rounds V = B^T d B and U = G g G^T to bf16 (relative error <= u each, so <= ~2u per product of
/// the transformed domain), and the transforms' coefficients are 0, +-1/2 and +-1, so these errors are a small
/// multiple of u * sum |terms| of the direct sum: measured 1.0-2.4 u here (printed), hence a bound with 3x to
/// spare. A wrong coefficient, tap or tile errs by the size of whole terms, u^-1 times more.
template <int C, int H, int W, int F, class Out>
void check_winograd(const char* what) {
  using K = ks::winograd_bf16<C, H, W, F, Out>;
  constexpr int batch = 2;
  const auto x = random_values(std::size_t(batch) * C * H * W, 31);  // NCHW, |x| <= 1
  const auto w = random_values(std::size_t(F) * C * 9, 32, 0.5f);    // |w| <= 0.5
  const auto bias = random_values(F, 33);
  std::vector<ks::bf16_t> xs(std::size_t(batch) * H * W * K::Cs, 0);
  for (int n = 0; n < batch; ++n)
    for (int c = 0; c < C; ++c)
      for (int p = 0; p < H * W; ++p)
        xs[(std::size_t(n) * H * W + p) * K::Cs + c] = ks::bf16_round(x[(std::size_t(n) * C + c) * H * W + p]);
  auto packed = tn::detail::make_aligned_floats(std::int64_t(K::packed_elems / 2 + 1));
  auto* pw = reinterpret_cast<ks::bf16_t*>(packed.get());
  K::pack(w.data(), pw);
  auto workspace = tn::detail::make_aligned_floats(std::int64_t(K::workspace_floats_per_part));
  std::vector<Out> y(std::size_t(batch) * H * W * K::Fs, Out(7));
  // Two ranges of tiles, as two threads would run them.
  const std::int64_t tiles = K::tiles(batch), mid = tiles / 3;
  K::template run_tiles<ks::epilogue_none>(pw, bias.data(), xs.data(), y.data(), workspace.get(), 0, mid);
  K::template run_tiles<ks::epilogue_none>(pw, bias.data(), xs.data(), y.data(), workspace.get(), mid, tiles);
  const double bound = 8.0 / 512;
  int bad = 0;
  double worst = 0;
  for (int n = 0; n < batch; ++n)
    for (int f = 0; f < F; ++f)
      for (int oy = 0; oy < H; ++oy)
        for (int ox = 0; ox < W; ++ox) {
          double sum = bias[f], mag = 0;
          for (int c = 0; c < C; ++c)
            for (int kh = 0; kh < 3; ++kh)
              for (int kw = 0; kw < 3; ++kw) {
                const int iy = oy - 1 + kh, ix = ox - 1 + kw;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                const double t = double(x[((std::size_t(n) * C + c) * H + iy) * W + ix]) *
                                 w[((std::size_t(f) * C + c) * 3 + kh) * 3 + kw];
                sum += t;
                mag += std::abs(t);
              }
          const std::size_t at = ((std::size_t(n) * H + oy) * W + ox) * K::Fs + f;
          double got;
          if constexpr (std::is_same_v<Out, float>)
            got = y[at];
          else
            got = ks::bf16_to_float(y[at]);
          const double d = std::abs(got - sum) - (std::is_same_v<Out, float> ? 0.0 : std::abs(sum) / 256);
          worst = std::max(worst, d / mag);
          if (!(d <= bound * mag)) ++bad;
        }
  if constexpr (!std::is_same_v<Out, float>) {
    if (K::Fs != F)
      for (std::size_t p = 0; p < std::size_t(batch) * H * W; ++p) bad += y[p * K::Fs + F] != 0;
  }
  MESSAGE(std::string(what) << ": max |diff| / sum |terms| = " << worst);
  INFO(std::string(what) << ": " << bad << " outputs outside the bound");
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("bf16 Winograd kernel: against double sums of the same bf16 values" * doctest::skip(no_bf16)) {
  check_winograd<16, 13, 13, 64, float>("16 -> 64, odd sizes");
  check_winograd<50, 9, 11, 33, ks::bf16_t>("50 -> 33 (odd F), bf16 out");
  check_winograd<96, 6, 5, 100, float>("96 -> 100, a partial f-block");
  check_winograd<32, 8, 10, 48, ks::bf16_t>("even sizes: every tile whole");
}

namespace {

template <int In, int Out, class OutT, class Epilogue = ks::epilogue_none>
void check_dense(int batch, int parts, const char* what) {
  using K = ks::dense_bf16_kernel<In, Out, OutT>;
  const auto w = random_values(std::size_t(Out) * In, 21, 0.25f);
  const auto bias = random_values(Out, 22);
  const auto x = random_values(std::size_t(batch) * In, 23);
  std::vector<ks::bf16_t> xs(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) xs[i] = ks::bf16_round(x[i]);
  auto packed = tn::detail::make_aligned_floats(std::int64_t(K::packed_elems / 2 + 1));
  auto packed_bias = tn::detail::make_aligned_floats(std::int64_t(K::bias_floats));
  auto* pw = reinterpret_cast<ks::bf16_t*>(packed.get());
  K::pack(w.data(), bias.data(), pw, packed_bias.get());
  std::vector<std::uint32_t> panel(K::panel_pairs(batch));
  K::make_panel(xs.data(), panel.data(), batch, 0, int(panel.size() / (In / 2)));
  std::vector<OutT> y(std::size_t(batch) * K::Outs, OutT(99));
  for (int part = 0; part < parts; ++part)
    K::template run<Epilogue>(pw, packed_bias.get(), xs.data(), panel.data(), y.data(), batch, part, parts);
  int bad = 0;
  for (int b = 0; b < batch; ++b)
    for (int o = 0; o < Out; ++o) {
      double sum = bias[o], mag = std::abs(bias[o]);
      for (int i = 0; i < In; ++i) {
        const double t = double(w[std::size_t(o) * In + i]) * x[std::size_t(b) * In + i];
        sum += t;
        mag += std::abs(t);
      }
      if (std::is_same_v<Epilogue, ks::epilogue_relu>) sum = std::max(sum, 0.0);
      const std::size_t at = std::size_t(b) * K::Outs + o;
      double got;
      if constexpr (std::is_same_v<OutT, float>)
        got = y[at];
      else
        got = ks::bf16_to_float(y[at]);
      const double lim = 8 * unit_roundoff * mag + (std::is_same_v<OutT, float> ? 0.0 : std::abs(sum) / 256);
      if (!(std::abs(got - sum) <= lim)) ++bad;
    }
  if constexpr (!std::is_same_v<OutT, float>) {
    if (K::Outs != Out)
      for (int b = 0; b < batch; ++b) bad += y[std::size_t(b) * K::Outs + Out] != 0;
  }
  INFO(std::string(what) << " batch " << batch << " parts " << parts << ": " << bad << " outputs outside the bound");
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("bf16 dense kernel: GEMV and GEMM against double sums" * doctest::skip(no_bf16)) {
  for (int batch : {1, 2, 7, 8, 9, 19})
    for (int parts : {1, 3}) {
      check_dense<400, 120, ks::bf16_t, ks::epilogue_relu>(batch, parts, "400 -> 120, bf16, relu");
      check_dense<202, 37, float>(batch, parts, "202 -> 37 (odd pairs, partial block)");
      check_dense<96, 23, ks::bf16_t>(batch, parts, "96 -> 23 (odd outputs: stored 24)");
    }
}

namespace {

using chain::ends_in;

template <class Net>
void check_network(int batch, std::uint64_t seed, int layers, const char* name, ends_in end = ends_in::logits) {
  tn::params<Net> p;
  tn::init_he(p, seed);
  std::vector<float> in(static_cast<std::size_t>(batch * Net::input_shape::size));
  tn::fill_uniform(in, seed + 100);
  const auto want = run_policy<Net, tn::exec::reference_t>(p, in, batch);
  const auto one = run_bf16<Net>(p, in, batch, 1);
  const auto two = run_bf16<Net>(p, in, batch, 2);
  const double err = chain::logit_error(one, want, int(Net::output_shape::size), end);
  MESSAGE(chain::error_line("bf16", name, batch, err, bf16_bound(layers), end));
  CHECK(err <= bf16_bound(layers));
  CHECK(err > 0);  // it does round: an fp32 program by mistake would show here
  CHECK(one == two);
}

}  // namespace

TEST_CASE("bf16 program: every stage kind against the fp32 reference" * doctest::skip(no_bf16)) {
  chain::every_stage_kind([](auto net, auto... args) { check_network<typename decltype(net)::type>(args...); });
}

TEST_CASE("bf16 program: the zoo chains against the fp32 reference" * doctest::skip(no_bf16)) {
  chain::zoo_chains([](auto net, auto... args) { check_network<typename decltype(net)::type>(args...); });
}

TEST_CASE("bf16 program: NaN and infinity propagate as in fp32" * doctest::skip(no_bf16)) {
  tn::params<chain::stages> p;
  tn::init_he(p, 9);
  std::vector<float> in(2 * chain::stages::input_shape::size);
  tn::fill_uniform(in, 10);
  in[5] = std::nanf("");
  in[chain::stages::input_shape::size + 7] = std::numeric_limits<float>::infinity();
  const auto want = run_policy<chain::stages, tn::exec::reference_t>(p, in, 2);
  const auto got = run_bf16<chain::stages>(p, in, 2, 2);
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("output " << i << ": bf16 " << got[i] << ", reference " << want[i]);
    CHECK(std::isnan(got[i]) == std::isnan(want[i]));
  }
}

TEST_CASE("bf16 program: batch and thread arguments are checked" * doctest::skip(no_bf16)) {
  tn::params<chain::flat> p;
  tn::init_he(p, 1);
  using policy_t = tn::exec::simd<xsimd::default_arch, tn::precision::bf16>;
  using model_t = tn::model<chain::flat, policy_t>;
  const policy_t policy;
  CHECK_THROWS_WITH_AS(model_t(p, 0, policy), doctest::Contains("max_batch must be at least 1"), std::invalid_argument);
  model_t m(p, 2, policy);
  std::vector<float> in(3 * 37), out(3 * 4);
  CHECK_THROWS_WITH_AS(m.forward(in.data(), out.data(), 3), doctest::Contains("batch 3 is outside 1..2"),
                       std::invalid_argument);
}

#endif  // TYPENET_HAS_BF16

TEST_CASE("bf16 program: a CPU without AVX512_BF16 is an error naming what is missing") {
  CHECK_THROWS_WITH_AS(tn::exec::simd_bf16_detail::check_cpu(false), doctest::Contains("has no AVX512_BF16"),
                       std::runtime_error);
  CHECK_NOTHROW(tn::exec::simd_bf16_detail::check_cpu(true));
}

TEST_CASE("bf16 program compiled with AMX: a CPU or OS without AMX is an error naming it") {
  CHECK_THROWS_WITH_AS(tn::exec::simd_bf16_detail::check_amx(false), doctest::Contains("compiled with AMX"),
                       std::runtime_error);
  CHECK_NOTHROW(tn::exec::simd_bf16_detail::check_amx(true));
}
