// bench_typenet_network: the whole seed AlexNet under exec::simd (input NCHW in, softmax out), at batch 1
// and 64 with 1 and 2 threads. Counters: img_per_s (images per second) and flops (2 * mac_count per image,
// padding taps included, per second). The model is built once per benchmark, outside the timed loop.
#include <benchmark/benchmark.h>

#include <vector>

#include <typenet/exec/simd.hpp>
#include <typenet/zoo/alexnet.hpp>

namespace tn = typenet;
using net = tn::zoo::seed_alexnet;

static void bm_seed_alexnet(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  tn::exec::simd<> policy;
  policy.threads = static_cast<int>(state.range(1));
  tn::params<net> p;
  tn::init_he(p, 1);
  tn::model<net, tn::exec::simd<>> m(p, batch, policy);
  std::vector<float> in(static_cast<std::size_t>(batch * net::input_shape::size));
  std::vector<float> out(static_cast<std::size_t>(batch * net::output_shape::size));
  tn::fill_uniform(in, 3, 0.f, 1.f);
  m.forward(in.data(), out.data(), batch);  // warm-up
  for (auto _ : state) {
    m.forward(in.data(), out.data(), batch);
    benchmark::DoNotOptimize(out.data());
  }
  const double images = double(state.iterations()) * batch;
  state.counters["img_per_s"] = benchmark::Counter(images, benchmark::Counter::kIsRate);
  state.counters["flops"] = benchmark::Counter(images * 2.0 * double(tn::mac_count<net>), benchmark::Counter::kIsRate);
}
BENCHMARK(bm_seed_alexnet)
    ->Name("seed_alexnet")
    ->ArgNames({"batch", "threads"})
    ->Args({1, 1})
    ->Args({1, 2})
    ->Args({64, 1})
    ->Args({64, 2})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);

BENCHMARK_MAIN();
