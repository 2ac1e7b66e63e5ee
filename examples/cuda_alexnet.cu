// examples/cuda_alexnet.cu: the seed AlexNet on the GPU with exec::cuda (docs/cuda.md, "Use").
//
//   typenet-cuda-alexnet [--batch N] [--math fp32|tf32x3|tf32|fp16|bf16]
//
// Builds the model for max_batch N (default 64), runs one batch of random images from host memory, checks
// the first image against exec::reference on the CPU, prints its top-5 classes, then times the batch with
// device-resident input and output (run_device). Without a usable GPU it says so and exits 77 (CTest:
// skipped).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include <typenet/cuda.hpp>
#include <typenet/exec/reference.hpp>
#include <typenet/zoo/alexnet.hpp>

namespace tn = typenet;
using net = tn::zoo::seed_alexnet;

int main(int argc, char** argv) {
  int batch = 64;
  tn::exec::cuda_math math = tn::exec::cuda_math::fp32;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--batch" && i + 1 < argc) {
      batch = std::atoi(argv[++i]);
    } else if (a == "--math" && i + 1 < argc) {
      const std::string m = argv[++i];
      if (!tn::exec::parse_cuda_math(m, math)) {
        std::fprintf(stderr, "typenet-cuda-alexnet: unknown math '%s' (fp32, tf32x3, tf32, fp16, bf16)\n", m.c_str());
        return 1;
      }
    } else {
      std::fprintf(stderr, "usage: typenet-cuda-alexnet [--batch N] [--math fp32|tf32x3|tf32|fp16|bf16]\n");
      return 1;
    }
  }
  if (batch < 1) {
    std::fprintf(stderr, "typenet-cuda-alexnet: --batch must be at least 1\n");
    return 1;
  }

  tn::params<net> p;
  tn::init_he(p, 42);
  std::vector<float> in(static_cast<std::size_t>(batch) * net::input_shape::size);
  tn::fill_uniform(in, 7);
  std::vector<float> out(static_cast<std::size_t>(batch) * net::output_shape::size);

  try {
    tn::model<net, tn::exec::cuda> gpu(p, batch, tn::exec::cuda{.math = math});
    gpu.forward(in.data(), out.data(), batch);  // host in, host out; waits for the result

    // The first image on the CPU, for comparison.
    std::vector<float> want(net::output_shape::size);
    tn::model<net, tn::exec::reference_t> ref(p, 1);
    ref.forward(in.data(), want.data(), 1);
    double worst = 0, biggest = 0, excess = -1;  // excess > 0: outside atol 1e-4 + rtol 1e-3
    for (std::size_t i = 0; i < want.size(); ++i) {
      const double d = std::abs(double(out[i]) - want[i]);
      worst = std::max(worst, std::isnan(d) ? INFINITY : d);
      biggest = std::max(biggest, std::abs(double(want[i])));
      excess = std::max(excess, d - (1e-4 + 1e-3 * std::abs(double(want[i]))));
    }
    std::vector<int> order(net::output_shape::size);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 5, order.end(), [&](int a, int b) { return out[a] > out[b]; });
    std::printf("seed_alexnet on the GPU, batch %d; image 0: max |diff| against exec::reference %.3g\n", batch, worst);
    std::printf("top-5 classes of image 0:");
    for (int k = 0; k < 5; ++k) std::printf(" %d (p = %.5f)", order[k], out[order[k]]);
    std::printf("\n");

    // Device in, device out: what a caller that keeps its data on the GPU pays per batch.
    float *d_in = nullptr, *d_out = nullptr;
    TYPENET_CUDA_CHECK(cudaMalloc(&d_in, sizeof(float) * in.size()));
    TYPENET_CUDA_CHECK(cudaMalloc(&d_out, sizeof(float) * out.size()));
    TYPENET_CUDA_CHECK(cudaMemcpy(d_in, in.data(), sizeof(float) * in.size(), cudaMemcpyHostToDevice));
    auto& prog = gpu.program();
    for (int i = 0; i < 3; ++i) prog.run_device(d_in, d_out, batch);
    TYPENET_CUDA_CHECK(cudaStreamSynchronize(prog.stream()));
    constexpr int iters = 10;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) prog.run_device(d_in, d_out, batch);
    TYPENET_CUDA_CHECK(cudaStreamSynchronize(prog.stream()));
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / iters;
    std::printf("forward pass (device in and out): %.3f ms per batch of %d, %.0f images/s\n", ms, batch,
                batch * 1000.0 / ms);
    cudaFree(d_in);
    cudaFree(d_out);
    // The tolerances of the parity tests: element-wise for fp32 and tf32x3, a share of the largest output for
    // the rounded maths (tf32, fp16, bf16: cuda_math_relative_bound).
    const double share = tn::exec::cuda_math_relative_bound(math);
    const bool ok = share > 0 ? worst <= share * biggest : excess <= 0;
    if (!ok) {
      std::fprintf(stderr, "typenet-cuda-alexnet: the GPU result disagrees with exec::reference\n");
      return 1;
    }
  } catch (const tn::cuda_error& e) {
    if (e.code() == cudaErrorNoDevice || e.code() == cudaErrorInsufficientDriver) {
      std::fprintf(stderr, "typenet-cuda-alexnet: skipped: %s\n", e.what());
      return 77;
    }
    std::fprintf(stderr, "typenet-cuda-alexnet: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "typenet-cuda-alexnet: %s\n", e.what());
    return 1;
  }
  return 0;
}
