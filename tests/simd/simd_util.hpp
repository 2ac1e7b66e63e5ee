// Helpers shared by the SIMD-policy tests: run a network with a policy, compare with a tolerance.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
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

}  // namespace typenet::test
