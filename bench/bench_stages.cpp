// bench_typenet_stages: each fused stage of the seed AlexNet under exec::simd, alone, on its own buffers.
//
// The same stages in bf16 (exec::simd<Arch, precision::bf16>, named bf16/<stage>) where the build has
// AVX512_BF16; on a CPU without it they are skipped with a message.
//
// Arguments: {batch, threads}. Counters:
//   flops     2 * multiply-adds of the stage (mac_count, padding taps included) per second: GFLOP/s
//   weight_B  bytes of the stage's weights read per second (dense stages: the batch-1 figure that matters)
// Compare with bench_machine (peak FMA rate, memory bandwidth) and see docs/performance.md.
#include <benchmark/benchmark.h>

#include <algorithm>
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

#if TYPENET_HAS_BF16
namespace bd = typenet::exec::simd_bf16_detail;
using bf16_execs = bd::build<in_layout, stages, arch>::execs;

// One bf16 stage on its own buffers: the input in the stored bf16 layout (random values rounded), the output
// bf16 (or fp32 for the last stage), every scratch buffer the program would give it.
template <int I>
void bm_stage_bf16(benchmark::State& state) {
  if (!tn::exec::bf16_available()) {
    state.SkipWithError("this CPU has no AVX512_BF16");
    return;
  }
  using stage = tn::detail::at_t<I, stages>;
  using exec = tn::detail::at_t<I, bf16_execs>;
  const int batch = static_cast<int>(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  tn::params<net> p;
  tn::init_he(p, 1);
  const exec e(p.data(), {});
  const std::int64_t in_floats = stage::input::size * batch;
  auto in_f = tn::detail::make_aligned_floats(in_floats);
  tn::fill_uniform({in_f.get(), static_cast<std::size_t>(in_floats)}, 7, 0.f, 1.f);
  auto in = tn::detail::make_aligned_floats(in_floats);  // bf16 values take half of it
  tn::kernels::simd::to_bf16(in_f.get(), reinterpret_cast<tn::kernels::simd::bf16_t*>(in.get()), in_floats);
  auto out = tn::detail::make_aligned_floats(stage::output::size * batch);
  const std::int64_t slots = std::max(batch, threads);
  auto a = tn::detail::make_aligned_floats(exec::scratch_a_floats * slots + 64);
  auto b = tn::detail::make_aligned_floats(exec::scratch_b_floats * slots + 64);
  auto zeros = tn::detail::make_aligned_floats(static_cast<std::int64_t>(exec::zero_elems) + 64);
  auto panel = tn::detail::make_aligned_floats(static_cast<std::int64_t>(exec::panel_words(batch)) + 64);
  auto f32_scratch = tn::detail::make_aligned_floats(tn::exec::simd_detail::f32_scratch_of<exec>() * batch + 64);
  auto work = tn::detail::make_aligned_floats(
      static_cast<std::int64_t>(tn::exec::simd_detail::workspace_of<exec>()) * threads + 64);
  tn::detail::thread_pool pool(threads);
  const bd::frame f{a.get(),
                    b.get(),
                    reinterpret_cast<const tn::kernels::simd::bf16_t*>(zeros.get()),
                    reinterpret_cast<std::uint32_t*>(panel.get()),
                    f32_scratch.get(),
                    zeros.get(),
                    work.get(),
                    batch,
                    &pool};
  for (auto _ : state) {
    e.run(reinterpret_cast<const tn::kernels::simd::bf16_t*>(in.get()), out.get(), f);
    benchmark::DoNotOptimize(out.get());
    benchmark::ClobberMemory();
  }
  using sums = stage_sums<typename stage::layers>;
  const double it = static_cast<double>(state.iterations());
  state.counters["flops"] = benchmark::Counter(it * 2.0 * double(sums::macs) * batch, benchmark::Counter::kIsRate);
  state.counters["weight_B"] = benchmark::Counter(it * 2.0 * double(sums::weights), benchmark::Counter::kIsRate);
  state.SetLabel(tn::detail::at_t<0, typename stage::layers>::layer::name());
}
#define TYPENET_STAGE_BF16(I, name) TYPENET_STAGE_ARGS(BENCHMARK(bm_stage_bf16<I>)->Name("bf16/" name))
#else
#define TYPENET_STAGE_BF16(I, name)
#endif

#define TYPENET_STAGE_ARGS(b)         \
  b->ArgNames({"batch", "threads"})   \
      ->Args({1, 1})                  \
      ->Args({1, 2})                  \
      ->Args({64, 1})                 \
      ->Args({64, 2})                 \
      ->UseRealTime()                 \
      ->Unit(benchmark::kMillisecond) \
      ->MinTime(0.3)

#define TYPENET_STAGE(I, name) TYPENET_STAGE_ARGS(BENCHMARK(bm_stage<I>)->Name(name))

TYPENET_STAGE(0, "conv1_relu_pool");
TYPENET_STAGE_BF16(0, "conv1_relu_pool");
TYPENET_STAGE(1, "conv2_relu_pool");
TYPENET_STAGE_BF16(1, "conv2_relu_pool");
TYPENET_STAGE(2, "conv3_relu");
TYPENET_STAGE_BF16(2, "conv3_relu");
TYPENET_STAGE(3, "conv4_relu");
TYPENET_STAGE_BF16(3, "conv4_relu");
TYPENET_STAGE(4, "conv5_relu_pool");
TYPENET_STAGE_BF16(4, "conv5_relu_pool");
TYPENET_STAGE(5, "fc6_relu");
TYPENET_STAGE_BF16(5, "fc6_relu");
TYPENET_STAGE(6, "fc7_relu");
TYPENET_STAGE_BF16(6, "fc7_relu");
TYPENET_STAGE(7, "fc8_softmax");
TYPENET_STAGE_BF16(7, "fc8_softmax");

BENCHMARK_MAIN();
