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

}  // namespace typenet::test
