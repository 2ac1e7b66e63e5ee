// bench_typenet_stages: each fused stage of the seed AlexNet under exec::simd, alone, on its own buffers.
//
// Arguments: {batch, threads}. Counters:
//   flops     2 * multiply-adds of the stage (mac_count, padding taps included) per second: GFLOP/s
//   weight_B  bytes of the stage's weights read per second (dense stages: the batch-1 figure that matters)
// Compare with bench_machine (peak FMA rate, memory bandwidth) and see docs/performance.md.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include <typenet/exec/simd.hpp>
#include <typenet/zoo/alexnet.hpp>

namespace tn = typenet;
namespace sd = typenet::exec::simd_detail;
using net = tn::zoo::seed_alexnet;
using arch = xsimd::default_arch;
using stages = tn::fusion::stages_t<net>;
using in_layout = sd::layout_of_shape<net::input_shape>::type;
using execs = sd::build<in_layout, stages, arch>::execs;

template <class List>
struct stage_sums;
template <class... B>
struct stage_sums<tn::type_list<B...>> {
  static constexpr std::int64_t macs = (std::int64_t{0} + ... + B::macs);
  static constexpr std::int64_t weights = (std::int64_t{0} + ... + B::weights);
};

template <int I>
void bm_stage(benchmark::State& state) {
  using stage = tn::detail::at_t<I, stages>;
  using exec = tn::detail::at_t<I, execs>;
  const int batch = static_cast<int>(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  tn::params<net> p;
  tn::init_he(p, 1);
  const exec e(p.data());
  auto in = tn::detail::make_aligned_floats(stage::input::size * batch);
  auto out = tn::detail::make_aligned_floats(stage::output::size * batch);
  auto scratch = tn::detail::make_aligned_floats(exec::scratch_floats * batch + 16);
  auto zeros = tn::detail::make_aligned_floats(static_cast<std::int64_t>(exec::zero_floats) + 64);
  auto work = tn::detail::make_aligned_floats(static_cast<std::int64_t>(exec::workspace_floats) * threads + 16);
  tn::fill_uniform({in.get(), static_cast<std::size_t>(stage::input::size * batch)}, 7, 0.f, 1.f);
  tn::detail::thread_pool pool(threads);
  for (auto _ : state) {
    e.run(in.get(), out.get(), scratch.get(), zeros.get(), work.get(), batch, pool);
    benchmark::DoNotOptimize(out.get());
    benchmark::ClobberMemory();
  }
  using sums = stage_sums<typename stage::layers>;
  const double it = static_cast<double>(state.iterations());
  state.counters["flops"] = benchmark::Counter(it * 2.0 * double(sums::macs) * batch, benchmark::Counter::kIsRate);
  state.counters["weight_B"] = benchmark::Counter(it * 4.0 * double(sums::weights), benchmark::Counter::kIsRate);
  state.SetLabel(tn::detail::at_t<0, typename stage::layers>::layer::name());
}

#define TYPENET_STAGE(I, name)         \
  BENCHMARK(bm_stage<I>)               \
      ->Name(name)                     \
      ->ArgNames({"batch", "threads"}) \
      ->Args({1, 1})                   \
      ->Args({1, 2})                   \
      ->Args({64, 1})                  \
      ->Args({64, 2})                  \
      ->UseRealTime()                  \
      ->Unit(benchmark::kMillisecond)  \
      ->MinTime(0.3);

TYPENET_STAGE(0, "conv1_relu_pool")
TYPENET_STAGE(1, "conv2_relu_pool")
TYPENET_STAGE(2, "conv3_relu")
TYPENET_STAGE(3, "conv4_relu")
TYPENET_STAGE(4, "conv5_relu_pool")
TYPENET_STAGE(5, "fc6_relu")
TYPENET_STAGE(6, "fc7_relu")
TYPENET_STAGE(7, "fc8_softmax")

BENCHMARK_MAIN();
