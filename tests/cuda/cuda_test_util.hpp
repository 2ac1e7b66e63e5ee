// tests/cuda/cuda_test_util.hpp: shared pieces of the gpu tests: the skip rule and the parity check of
// exec::cuda (every math, Winograd and direct convolutions) against exec::reference.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <typenet/cuda.hpp>
#include <typenet/exec/reference.hpp>

namespace typenet_cuda_test {

namespace tn = ::typenet;

/// Exit status CTest reads as "skipped" (SKIP_RETURN_CODE in tests/cuda/CMakeLists.txt).
inline constexpr int skip_code = 77;

/// True when a CUDA device is usable; otherwise prints why on stderr.
inline bool have_gpu() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    std::fprintf(stderr, "SKIPPED: no usable CUDA device (%s); the gpu tests need one\n",
                 e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    (void)cudaGetLastError();
    return false;
  }
  return true;
}

/// How the outputs of two policies are compared.
struct tolerance {
  double atol, rtol;  ///< element-wise: |a - b| <= atol + rtol * |b| + of_max * max |b|
  double scaled;      ///< if > 0 instead: max |a - b| <= scaled * max |b| (TF32's relative error)
  double of_max = 0;  ///< the element-wise bound's share of the largest output (see tf32x3_tolerance)
};
/// fp32 FFMA: a deep network's rounding errors are relative to its activations, not to each output (a
/// logit near zero is a sum of large terms), so the element-wise bound has a share of the largest output:
/// 1e-6, 2.5x the 4.0e-7 that ResNet-50 (max |logit| 231) measured on the H200 (2026-12-04).
inline constexpr tolerance fp32_tolerance{1e-4, 1e-3, 0.0, 1e-6};
/// tf32x3: each operand is a TF32 head plus a TF32 tail and the tail x tail product is dropped, so a
/// product keeps about 21 bits where FFMA keeps 24, and the tensor cores' fp32 accumulation adds its own
/// rounding: measured 1.0e-5 (ResNet-18), 1.7e-5 (ResNet-50) and 1.1e-5 (SqueezeNet 1.1) of max |logit| on
/// the H200 (2026-12-04), 10-50x fp32's error; the share of the largest output is 5e-5, 3x the worst.
inline constexpr tolerance tf32x3_tolerance{1e-4, 1e-3, 0.0, 5e-5};
inline constexpr tolerance tf32_tolerance{0.0, 0.0, 1e-2};
/// fp16 and bf16: cuda_math_relative_bound (fp16 rounds each operand to an 11-bit significand like TF32;
/// bf16 to 8 bits, 8x TF32's rounding of one operand, held to 4x TF32's bound: a bound written on 2026-12-05
/// without a GPU, to be confirmed by the first run on one).
inline constexpr tolerance fp16_tolerance{0.0, 0.0, tn::exec::cuda_math_relative_bound(tn::exec::cuda_math::fp16)};
inline constexpr tolerance bf16_tolerance{0.0, 0.0, tn::exec::cuda_math_relative_bound(tn::exec::cuda_math::bf16)};

struct comparison {
  double max_abs_diff = 0, max_ref = 0;
  long long failures = 0, first_failure = -1;
};

inline comparison compare(const std::vector<float>& got, const std::vector<float>& want, tolerance tol) {
  comparison c;
  for (float w : want) c.max_ref = std::max(c.max_ref, std::fabs(double(w)));
  const double atol = tol.atol + tol.of_max * c.max_ref;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double d = std::fabs(double(got[i]) - double(want[i]));
    c.max_abs_diff = std::max(c.max_abs_diff, std::isnan(d) ? INFINITY : d);
    if (tol.scaled == 0.0 && !(d <= atol + tol.rtol * std::fabs(double(want[i])))) {
      if (c.failures++ == 0) c.first_failure = static_cast<long long>(i);
    }
  }
  if (tol.scaled > 0.0 && !(c.max_abs_diff <= tol.scaled * c.max_ref)) c.failures = 1;
  return c;
}

inline const char* math_name(tn::exec::cuda_math m) { return tn::exec::cuda_math_name(m).data(); }
/// Whether a math's outputs are held to a bound relative to the largest output (operands rounded to TF32,
/// fp16 or bf16) rather than element-wise.
inline bool rounded_math(tn::exec::cuda_math m) { return tn::exec::cuda_math_relative_bound(m) > 0; }
/// How exec::cuda runs the convolutions: Winograd wherever it applies, at every batch (the kernels under
/// test); direct implicit GEMM everywhere; or the policy's default (Winograd from a column count on).
enum class conv_algo { winograd, direct, automatic };
inline const char* conv_name(conv_algo a) {
  return a == conv_algo::winograd ? "winograd" : a == conv_algo::direct ? "direct" : "auto";
}
inline tn::exec::cuda policy_for(tn::exec::cuda_math math, conv_algo a, bool cuda_graphs = true) {
  tn::exec::cuda policy{.math = math, .winograd = a != conv_algo::direct, .cuda_graphs = cuda_graphs};
  if (a == conv_algo::winograd) policy.winograd_min_columns = 0;
  return policy;
}

/// The tolerance of one math and convolution algorithm. Winograd (stride-1 3x3 / 5x5 convolutions) is held
/// to the same bounds as the direct implicit GEMM.
inline tolerance tolerance_for(tn::exec::cuda_math math, conv_algo /*algo*/) {
  using M = tn::exec::cuda_math;
  return math == M::tf32     ? tf32_tolerance
         : math == M::tf32x3 ? tf32x3_tolerance
         : math == M::fp16   ? fp16_tolerance
         : math == M::bf16   ? bf16_tolerance
                             : fp32_tolerance;
}

/// Both convolution algorithms of exec::cuda: Winograd where it applies, then direct.
inline const std::vector<conv_algo> both_convs{conv_algo::winograd, conv_algo::direct};

/// Runs Net on exec::reference and on exec::cuda (each of maths, each convolution algorithm) for each
/// batch size and checks parity: fp32 and tf32x3 element-wise (tolerance_for), tf32 within 1e-2 of the
/// largest output. Weights p; inputs uniform in [-1, 1) from the seed. The reference runs once per
/// network; each (math, conv) pair builds its own program and runs every batch on the first images; a
/// graph network's program then runs every batch again (its captured CUDA graphs replayed) on the last
/// images, which differ from the first wherever the batch is smaller than the largest.
template <class Net>
void check_parity(const char* name, const tn::params<Net>& p, std::uint64_t seed, std::vector<int> batches,
                  std::vector<tn::exec::cuda_math> maths, std::vector<conv_algo> convs = both_convs,
                  bool cuda_graphs = true) {
  int max_batch = 1;
  for (int b : batches) max_batch = std::max(max_batch, b);
  constexpr auto in_size = Net::input_shape::size, out_size = Net::output_shape::size;
  std::vector<float> in(static_cast<std::size_t>(max_batch * in_size));
  tn::fill_uniform(in, seed * 7 + 3);
  tn::model<Net, tn::exec::reference_t> ref(p, max_batch);
  std::vector<float> want(static_cast<std::size_t>(max_batch * out_size));
  ref.forward(in.data(), want.data(), max_batch);
  for (tn::exec::cuda_math math : maths) {
    for (conv_algo algo : convs) {
      tn::model<Net, tn::exec::cuda> gpu(p, max_batch, policy_for(math, algo, cuda_graphs));
      const tolerance tol = tolerance_for(math, algo);
      constexpr int passes = tn::fusion::fused_kernels_cover<Net> ? 1 : 2;  // a chain captures no graphs
      for (int pass = 0; pass < passes; ++pass) {
        for (int b : batches) {
          const std::int64_t first = pass == 0 ? 0 : max_batch - b;  // the image the batch starts at
          std::vector<float> got(static_cast<std::size_t>(b * out_size), -12345.f);
          gpu.forward(in.data() + first * in_size, got.data(), b);
          std::vector<float> w(want.begin() + first * out_size, want.begin() + (first + b) * out_size);
          const comparison c = compare(got, w, tol);
          std::printf("parity %-22s %-6s conv=%-8s batch %3d%s: max|diff| %.3g, max|ref| %.3g, failures %lld\n", name,
                      math_name(math), conv_name(algo), b,
                      pass == 0 ? "" : (" from image " + std::to_string(first)).c_str(), c.max_abs_diff, c.max_ref,
                      c.failures);
          std::fflush(stdout);
          INFO(std::string(name) << " math " << std::string(math_name(math)) << " conv " << std::string(conv_name(algo))
                                 << " graphs " << cuda_graphs << " batch " << b << " from image " << first
                                 << " first failing index " << c.first_failure
                                 << (c.first_failure >= 0 ? " got " + std::to_string(got[c.first_failure]) + " want " +
                                                                std::to_string(w[c.first_failure])
                                                          : std::string()));
          CHECK(c.failures == 0);
          CHECK(c.max_ref > 0.0);  // the comparison saw real values
        }
      }
    }
  }
}

/// check_parity with weights init_he(seed).
template <class Net>
void check_parity(const char* name, std::uint64_t seed, std::vector<int> batches,
                  std::vector<tn::exec::cuda_math> maths, std::vector<conv_algo> convs = both_convs) {
  const auto p = std::make_unique<tn::params<Net>>();
  tn::init_he(*p, seed);
  check_parity<Net>(name, *p, seed, std::move(batches), std::move(maths), std::move(convs));
}

/// Runs m on batch images of `in`; the output buffer starts as -12345 (a sentinel, not a plausible value).
template <class Net, class Policy>
std::vector<float> forward(tn::model<Net, Policy>& m, const std::vector<float>& in, int batch) {
  std::vector<float> out(static_cast<std::size_t>(batch * Net::output_shape::size), -12345.f);
  m.forward(in.data(), out.data(), batch);
  return out;
}

/// Tolerances of a math for finite outputs: fp32 and tf32x3 element-wise, the rounded maths (tf32, fp16,
/// bf16) their share of the largest finite reference output (tolerance_for).
inline void tolerances(tn::exec::cuda_math math, const std::vector<float>& want, double& atol, double& rtol) {
  if (!rounded_math(math)) {
    atol = typenet_cuda_test::fp32_tolerance.atol;
    rtol = typenet_cuda_test::fp32_tolerance.rtol;
    return;
  }
  double biggest = 0;
  for (float v : want)
    if (std::isfinite(v)) biggest = std::max(biggest, std::fabs(double(v)));
  atol = tolerance_for(math, conv_algo::automatic).scaled * biggest;
  rtol = 0;
}

}  // namespace typenet_cuda_test

/// main() of a gpu test: skips (exit 77, message on stderr) without a GPU, else runs doctest.
#define TYPENET_CUDA_TEST_MAIN                                               \
  int main(int argc, char** argv) {                                          \
    if (!typenet_cuda_test::have_gpu()) return typenet_cuda_test::skip_code; \
    doctest::Context context(argc, argv);                                    \
    return context.run();                                                    \
  }
