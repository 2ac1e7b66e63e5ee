// bench/cuda_bench.cu: exec::cuda on the seed AlexNet: each fused stage and the whole network at batch 1,
// 64 and 256, in fp32, tf32x3 and tf32, timed with CUDA events (median of the timed runs, after warm-up runs).
// Device in, device out (run_device): the same thing PyTorch's timing in torch_cuda_compare.py measures.
//
//   cuda_bench [--iters N]
// Output lines (read by bench/torch_cuda_compare.py):
//   typenet_cuda stage=<i> layers=<fused type> math=<m> batch=<b> ms_median=<x> gflops=<y>
//   typenet_cuda net=seed_alexnet math=<m> batch=<b> ms_median=<x> images_per_s=<y> gflops=<z>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <typenet/cuda.hpp>
#include <typenet/exec/reference.hpp>
#include <typenet/zoo/networks.hpp>

namespace tn = typenet;
using net = tn::zoo::seed_alexnet;

namespace {

template <class F>
double median_ms(F&& f, int iters, cudaStream_t s) {
  cudaEvent_t a, b;
  TYPENET_CUDA_CHECK(cudaEventCreate(&a));
  TYPENET_CUDA_CHECK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) f();
  TYPENET_CUDA_CHECK(cudaStreamSynchronize(s));
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    TYPENET_CUDA_CHECK(cudaEventRecord(a, s));
    f();
    TYPENET_CUDA_CHECK(cudaEventRecord(b, s));
    TYPENET_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    TYPENET_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

template <class Stage>
constexpr std::int64_t stage_macs() {
  return []<class... B>(tn::type_list<B...>) { return (std::int64_t{0} + ... + B::macs); }(typename Stage::layers{});
}

template <class Stage>
std::string stage_name() {
  std::string s;
  []<class... B>(tn::type_list<B...>, std::string& out) {
    ((out += (out.empty() ? "" : "+") + B::layer::name()), ...);
  }(typename Stage::layers{}, s);
  for (char& c : s)
    if (c == ' ') c = '_';
  return s;
}

/// Before timing: the first two images through exec::reference and through exec::cuda in each math,
/// compared (fp32 and tf32x3 within atol 1e-4 + rtol 1e-3, tf32 within 1e-2 of the largest output), so
/// that a build with other tuning knobs is checked in the same run. Returns false on a mismatch.
bool check(const tn::params<net>& p, const std::vector<float>& in) {
  constexpr int b = 2;
  std::vector<float> want(b * net::output_shape::size), got(want.size());
  tn::model<net, tn::exec::reference_t> ref(p, b);
  ref.forward(in.data(), want.data(), b);
  bool ok = true;
  for (auto math : {tn::exec::cuda_math::fp32, tn::exec::cuda_math::tf32x3, tn::exec::cuda_math::tf32}) {
    tn::model<net, tn::exec::cuda> gpu(p, b, tn::exec::cuda{.math = math});
    gpu.forward(in.data(), got.data(), b);
    double worst = 0, biggest = 0, excess = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      const double d = std::abs(double(got[i]) - want[i]);
      worst = std::max(worst, d);
      biggest = std::max(biggest, std::abs(double(want[i])));
      excess = std::max(excess, d - (1e-4 + 1e-3 * std::abs(double(want[i]))));
    }
    const bool pass = math == tn::exec::cuda_math::tf32 ? worst <= 1e-2 * biggest : excess <= 0;
    std::printf("check math=%d max_abs_diff=%.3g max_abs_ref=%.3g %s\n", int(math), worst, biggest,
                pass ? "ok" : "FAILED");
    ok = ok && pass;
  }
  return ok;
}

void bench(tn::exec::cuda_math math, const tn::params<net>& p, const float* d_in, float* d_out, int iters) {
  const char* m = math == tn::exec::cuda_math::fp32 ? "fp32" : math == tn::exec::cuda_math::tf32 ? "tf32" : "tf32x3";
  tn::exec::cuda policy{.math = math};
  tn::exec::cuda::program<net> prog(p, 256, policy);
  using stages = tn::fusion::stages_t<net>;
  for (int batch : {1, 64, 256}) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (([&] {
         using S = tn::detail::at_t<I, stages>;
         const double ms = median_ms([&] { prog.template run_stage_device<I>(batch); }, iters, nullptr);
         std::printf("typenet_cuda stage=%zu layers=%s math=%s batch=%d ms_median=%.4f gflops=%.1f\n", I,
                     stage_name<S>().c_str(), m, batch, ms, 2.0 * stage_macs<S>() * batch / ms * 1e-6);
       }()),
       ...);
    }
    (std::make_index_sequence<stages::size>{});
    const double ms = median_ms([&] { prog.run_device(d_in, d_out, batch); }, iters, nullptr);
    std::printf("typenet_cuda net=seed_alexnet math=%s batch=%d ms_median=%.4f images_per_s=%.1f gflops=%.1f\n", m,
                batch, ms, batch * 1000.0 / ms, 2.0 * tn::mac_count<net> * batch / ms * 1e-6);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int iters = 20;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--iters") == 0) iters = std::max(1, std::atoi(argv[i + 1]));
  try {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      std::fprintf(stderr, "cuda_bench: no usable CUDA device\n");
      return 77;
    }
    cudaDeviceProp prop{};
    TYPENET_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device %s sms=%d\n", prop.name, prop.multiProcessorCount);
    tn::params<net> p;
    tn::init_he(p, 5);
    std::vector<float> in(256 * net::input_shape::size);
    tn::fill_uniform(in, 9);
    float *d_in = nullptr, *d_out = nullptr;
    TYPENET_CUDA_CHECK(cudaMalloc(&d_in, sizeof(float) * in.size()));
    TYPENET_CUDA_CHECK(cudaMalloc(&d_out, sizeof(float) * 256 * net::output_shape::size));
    TYPENET_CUDA_CHECK(cudaMemcpy(d_in, in.data(), sizeof(float) * in.size(), cudaMemcpyHostToDevice));
    std::printf("tuning bk=%d stages=%d\n", TYPENET_CUDA_GEMM_BK, TYPENET_CUDA_GEMM_STAGES);
    if (!check(p, in)) return 1;
    bench(tn::exec::cuda_math::fp32, p, d_in, d_out, iters);
    bench(tn::exec::cuda_math::tf32x3, p, d_in, d_out, iters);
    bench(tn::exec::cuda_math::tf32, p, d_in, d_out, iters);
    cudaFree(d_in);
    cudaFree(d_out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuda_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
