// Helpers shared by the SIMD-policy tests: run a network with a policy, compare with a tolerance.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <typenet/exec/reference.hpp>
#include <typenet/exec/simd.hpp>
#include <typenet/typenet.hpp>

namespace typenet::test {

/// The tolerance of every simd-vs-reference comparison: |simd - ref| <= atol + rtol * |ref|.
inline constexpr double atol = 1e-4, rtol = 1e-3;

template <class Net, class Policy>
std::vector<float> run_policy(const params<Net>& p, const std::vector<float>& in, int batch,
                              const Policy& policy = Policy{}) {
  model<Net, Policy> m(p, batch, policy);
  std::vector<float> out(static_cast<std::size_t>(batch * Net::output_shape::size));
  m.forward(std::span<const float>(in), std::span<float>(out), batch);
  return out;
}

template <class Net>
std::vector<float> run_simd(const params<Net>& p, const std::vector<float>& in, int batch, int threads) {
  exec::simd<> policy;
  policy.threads = threads;
  return run_policy<Net>(p, in, batch, policy);
}

/// Checks every element; reports the first mismatch and the number of mismatches.
inline void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  REQUIRE(got.size() == want.size());
  std::size_t bad = 0, first = 0;
  double worst = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = std::abs(double(got[i]) - double(want[i]));
    const double lim = atol + rtol * std::abs(double(want[i]));
    if (!(d <= lim)) {
      if (bad == 0) first = i;
      ++bad;
    }
    if (d > worst) worst = d;
  }
  INFO(what << ": " << bad << " of " << got.size() << " outside atol 1e-4 + rtol 1e-3; max |diff| " << worst);
  if (bad != 0) INFO("first at " << first << ": simd " << got[first] << " vs reference " << want[first]);
  CHECK(bad == 0);
}

/// One NaN and one +inf in image 0 of a batch of 2 (image 1 finite): run(in) (the policy under test, batch 2)
/// must give non-finite outputs exactly where exec::reference does, of the same class (NaN or infinity).
template <class Net, class Run>
void check_nonfinite_as_reference(const params<Net>& p, Run&& run, const std::string& name) {
  std::vector<float> in(2 * Net::input_shape::size);
  fill_uniform(in, 22);
  in[3] = std::numeric_limits<float>::quiet_NaN();
  in[Net::input_shape::size / 2] = std::numeric_limits<float>::infinity();
  const auto want = run_policy<Net, exec::reference_t>(p, in, 2);
  const std::vector<float> got = run(in);
  REQUIRE(got.size() == want.size());
  std::size_t want_nonfinite = 0, mismatched = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    want_nonfinite += std::isfinite(want[i]) ? 0 : 1;
    mismatched += (std::isnan(want[i]) != std::isnan(got[i]) || std::isinf(want[i]) != std::isinf(got[i])) ? 1 : 0;
  }
  INFO(name << ": " << want_nonfinite << " non-finite outputs in the reference, " << mismatched
            << " outputs of another class under the policy");
  CHECK(want_nonfinite > 0);
  CHECK(mismatched == 0);
}

/// The first `batch` images of a larger batch's outputs.
inline std::vector<float> head(const std::vector<float>& v, std::size_t n) { return {v.begin(), v.begin() + n}; }

/// The unit roundoff of float, 2^-24: kernel tolerances are derived from it.
inline constexpr double unit_roundoff = 1.0 / 16777216.0;

/// n images of c x h x w from NCHW (x) to NHWC (y, already sized).
inline void to_nhwc(const std::vector<float>& x, std::vector<float>& y, int n, int c, int h, int w) {
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c; ++ch)
      for (int p = 0; p < h * w; ++p)
        y[(std::size_t(b) * h * w + p) * c + ch] = x[(std::size_t(b) * c + ch) * h * w + p];
}

/// max |got - want| / max |want| (infinite where NaN appears in one and not the other).
inline double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  double d = 0, m = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i]) != std::isnan(want[i])) return INFINITY;
    d = std::max(d, double(std::abs(got[i] - want[i])));
    m = std::max(m, double(std::abs(want[i])));
  }
  return d / m;
}

/// The logits of a network that ends in softmax, recovered from its probabilities: log p centred per image
/// (softmax does not see a shift of the logits, so they are known up to one constant per image). The bound
/// is about logits: an error of d in a logit changes its probability by a factor exp(d), so probabilities
/// compared directly would show the logits' absolute error, not their relative one.
inline std::vector<float> centred_logits(const std::vector<float>& probs, int classes) {
  std::vector<float> z(probs.size());
  for (std::size_t i = 0; i < probs.size(); i += std::size_t(classes)) {
    double mean = 0;
    for (int k = 0; k < classes; ++k) mean += std::log(double(probs[i + k])) / classes;
    for (int k = 0; k < classes; ++k) z[i + k] = float(std::log(double(probs[i + k])) - mean);
  }
  return z;
}

/// A network run in a reduced precision against exec::reference's fp32 output `want`: run(threads) gives its
/// output; within `bound` of the reference (max |diff| / max |reference|), not equal to it (the precision
/// rounds), and the same with 1 and 2 threads. A network that ends in softmax is judged on its logits
/// (centred_logits).
template <class Net, class Run>
void check_reduced(const std::vector<float>& want, Run&& run, double bound, bool softmax, const std::string& what) {
  const std::vector<float> one = run(1), two = run(2);
  constexpr int classes = int(Net::output_shape::size);
  const double err =
      softmax ? relative_error(centred_logits(one, classes), centred_logits(want, classes)) : relative_error(one, want);
  MESSAGE(what << ": max |got - fp32 reference| / max |reference| = " << err << " (bound " << bound << ")");
  CHECK(err <= bound);
  CHECK(err > 0);
  CHECK(one == two);
}

/// A convolution kernel's test case for geometry Geo (kernels/simd/conv2d.hpp's conv_geometry; depthwise is
/// groups = channels): random weights in PyTorch's layout [F][C/G][KH][KW], bias, input (NHWC) and residual
/// (NHWC, the output's shape), and the check of a kernel's output against a double-precision sum.
template <class Geo>
struct conv_case {
  static constexpr int C = Geo::c, H = Geo::h, W = Geo::w, F = Geo::f, OH = Geo::oh, OW = Geo::ow;
  static constexpr int KH = Geo::kh, KW = Geo::kw, Cg = Geo::cg, Fg = Geo::fg;
  int batch;
  std::vector<float> w, bias, in, res;

  conv_case(int images, std::uint64_t seed)
      : batch(images),
        w(std::size_t(F) * Cg * KH * KW),
        bias(F),
        in(std::size_t(images) * H * W * C),
        res(std::size_t(images) * OH * OW * F) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(-2.f, 2.f);
    for (auto* v : {&w, &bias, &in, &res})
      for (float& x : *v) x = u(rng);
  }

  /// An output buffer for the kernel: res.size() floats of NaN (an output never written shows), then 64
  /// sentinels that must survive it.
  std::vector<float> output() const {
    std::vector<float> out(res.size() + 64, std::numeric_limits<float>::quiet_NaN());
    std::fill(out.begin() + std::ptrdiff_t(res.size()), out.end(), sentinel);
    return out;
  }

  /// out = clamp(conv(in) + bias [+ res if add], lo, hi), each output within (KH * KW * C/G + 3) * u * sum
  /// |terms| of the double sum (u = 2^-24: a float sum of that many terms), and no sentinel overwritten.
  void expect(const std::vector<float>& out, bool add, double lo, double hi, const std::string& what) const {
    std::size_t bad = 0;
    std::string first;
    for (int n = 0; n < batch; ++n)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow)
          for (int f = 0; f < F; ++f) {
            const double want = sum(n, oh, ow, f, add, lo, hi);
            const std::size_t at = ((std::size_t(n) * OH + oh) * OW + ow) * F + f;
            if (std::abs(double(out[at]) - want) <= tolerance(n, oh, ow, f, add)) continue;
            if (bad++ == 0)
              first = "first mismatch at image " + std::to_string(n) + ", row " + std::to_string(oh) + ", column " +
                      std::to_string(ow) + ", channel " + std::to_string(f) + ": " + std::to_string(out[at]) + " vs " +
                      std::to_string(want);
          }
    const auto overrun =
        std::count_if(out.begin() + std::ptrdiff_t(res.size()), out.end(), [](float v) { return v != sentinel; });
    INFO(what << ", batch " << batch << ", add " << add << "; " << bad << " wrong; " << first);
    CHECK(bad == 0);
    CHECK(overrun == 0);
  }

 private:
  static constexpr float sentinel = -12345.f;

  // Calls term(product) for each product of output (n, oh, ow, f)'s sum.
  template <class Term>
  void each_term(int n, int oh, int ow, int f, Term&& term) const {
    const int g = f / Fg;
    for (int kh = 0; kh < KH; ++kh)
      for (int kw = 0; kw < KW; ++kw) {
        const int ih = oh * Geo::sh - Geo::ph + kh, iw = ow * Geo::sw - Geo::pw + kw;
        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
        for (int c = 0; c < Cg; ++c)
          term(double(in[((std::size_t(n) * H + ih) * W + iw) * C + g * Cg + c]) *
               double(w[((std::size_t(f) * Cg + c) * KH + kh) * KW + kw]));
      }
  }
  double sum(int n, int oh, int ow, int f, bool add, double lo, double hi) const {
    double s = bias[std::size_t(f)];
    each_term(n, oh, ow, f, [&](double t) { s += t; });
    if (add) s += res[((std::size_t(n) * OH + oh) * OW + ow) * F + f];
    return std::min(std::max(s, lo), hi);
  }
  double tolerance(int n, int oh, int ow, int f, bool add) const {
    double mag = std::abs(double(bias[std::size_t(f)]));
    each_term(n, oh, ow, f, [&](double t) { mag += std::abs(t); });
    if (add) mag += std::abs(double(res[((std::size_t(n) * OH + oh) * OW + ow) * F + f]));
    return (double(KH) * KW * Cg + 3.0) * unit_roundoff * mag + 1e-30;
  }
};

}  // namespace typenet::test
