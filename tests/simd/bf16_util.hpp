// Helpers shared by the bf16 program's tests (bf16_test.cpp, bf16_graph_test.cpp): run a network with
// exec::simd<Arch, precision::bf16>, and the error bound its outputs are held to against the fp32 reference.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "simd_util.hpp"

namespace typenet::test {

/// The bound of a bf16 network against fp32: max |bf16 - ref| <= bound * max |ref| with
/// bound = (layers + 1) * 2u, u = 2^-9 the unit roundoff of bf16 and `layers` the conv and dense layers.
/// Why: a layer rounds its input and its weights to bf16 (relative error <= u each), so each product errs by
/// at most about 2u, and a sum of such products by at most 2u of the sum of |terms|; for these He-initialised
/// layers that sum is within a small factor of the largest output, and ReLU, pooling and LRN do not enlarge
/// an error relative to the largest value, so the errors of the layers add up (the +1: the rounding of the
/// last stored activation and of the result). Measured (printed with -s): 0.05-0.4 of this on the small
/// networks, 0.2-0.3 on the zoo networks (seed AlexNet 1.0 %, bound 3.5 %).
inline constexpr double bf16_bound(int layers) { return (layers + 1) * 2.0 / 512.0; }

#if TYPENET_HAS_BF16

template <class Net>
std::vector<float> run_bf16(const params<Net>& p, const std::vector<float>& in, int batch, int threads) {
  exec::simd<xsimd::default_arch, precision::bf16> policy;
  policy.threads = threads;
  return run_policy<Net>(p, in, batch, policy);
}
#endif

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

}  // namespace typenet::test
