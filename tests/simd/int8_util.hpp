// Helpers shared by the int8 program's tests (int8_test.cpp, int8_graph_test.cpp): run a network with
// exec::simd<Arch, precision::int8>, and the error bound its outputs are held to against the fp32 reference.
#pragma once
#include <vector>

#include "simd_util.hpp"

namespace typenet::test {

/// The bound of an int8 network against fp32: max |int8 - ref| <= bound * max |ref| with
/// bound = (layers + 1) * 2 * (1/510 + 1/254), `layers` the conv and dense layers. Why: a layer's input
/// errs by at most half a step of its calibrated range (range / 510) and each weight by half a step of its
/// output channel's largest weight (max |w| / 254), so a product errs by at most (1/510 + 1/254) of
/// max |x| max |w|; summed over a layer's terms that is within a small factor (the 2) of the largest output
/// for these He-initialised layers, and ReLU, pooling and LRN do not enlarge an error relative to the
/// largest value, so the layers' errors add (the + 1: the quantised network input). Measured (-s): 0.1-0.5
/// of this; a wrong tap, zero point or scale errs by whole terms and lands far outside.
inline constexpr double int8_bound(int layers) { return (layers + 1) * 2.0 * (1.0 / 510 + 1.0 / 254); }

using int8_policy = exec::simd<xsimd::default_arch, precision::int8>;

#if TYPENET_HAS_VNNI
template <class Net>
std::vector<float> run_int8(const params<Net>& p, const std::vector<float>& in, int batch, int threads,
                            const std::vector<exec::tensor_range>& ranges) {
  int8_policy policy;
  policy.threads = threads;
  policy.ranges = ranges;
  return run_policy<Net>(p, in, batch, policy);
}
#endif

}  // namespace typenet::test
