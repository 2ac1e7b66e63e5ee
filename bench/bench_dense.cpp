// bench_typenet_dense: kernels::simd::dense_kernel on the seed AlexNet's dense layers.
//
//   BM_dense_b1<fc>/threads:T     batch 1, counter GB_per_s = weight bytes (In * Out * 4) / time
//   BM_dense_b64<fc>/threads:T    batch 64, counter GFLOP_per_s = 2 * In * Out * 64 / time
//   BM_dense_b1_gemm<fc>          batch 1 through the GEMM path instead of the GEMV (the variant not chosen)
//   BM_read<fc>/threads:T         the baseline: a plain read-only sum over the same packed buffers, same
//                                 rotation, same thread split (GB_per_s of bytes read)
//   BM_peak_fma/threads:T         the baseline for GFLOP/s: 16 independent FMA chains
//
// T = 2 runs part 0 on the benchmark thread and part 1 on a second std::thread that spins on an atomic
// generation counter, so both parts of every iteration run concurrently and the iteration ends when both
// are done (as the SIMD policy's pool would run them). Packed weights smaller than 64 MiB are kept in
// several copies used in turn, so that no iteration finds its weights in the 32 MiB L3 (inside a network,
// fc8's weights would have been evicted by fc6 and fc7). Times are real (wall-clock) times; report the
// medians of the repetitions.
#include <benchmark/benchmark.h>

#include <typenet/kernels/simd/dense.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <random>
#include <thread>
#include <vector>

namespace {

namespace ks = typenet::kernels::simd;
using vec = xsimd::batch<float>;

struct aligned_floats {
  float* p = nullptr;
  std::size_t n = 0;
  explicit aligned_floats(std::size_t count) : n(count) {
    p = static_cast<float*>(::operator new[](count * sizeof(float), std::align_val_t{64}));
  }
  ~aligned_floats() { ::operator delete[](p, std::align_val_t{64}); }
  aligned_floats(const aligned_floats&) = delete;
  aligned_floats& operator=(const aligned_floats&) = delete;
};

void fill_uniform(float* p, std::size_t n, std::uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  for (std::size_t i = 0; i < n; ++i) p[i] = d(gen);
}

// ---- two-thread runner -------------------------------------------------------------------------------

/// Runs f(part, parts, turn) for parts 0 and 1 at once: part 0 on the caller, part 1 on a spinning worker.
class pair_runner {
 public:
  pair_runner() : worker_([this] { loop(); }) {}
  ~pair_runner() {
    stop_.store(true, std::memory_order_release);
    worker_.join();
  }
  pair_runner(const pair_runner&) = delete;
  pair_runner& operator=(const pair_runner&) = delete;

  template <class F>
  void run(F& f, std::size_t turn) {
    job_ = &f;
    turn_ = turn;
    call_ = [](void* job, std::size_t t) { (*static_cast<F*>(job))(1, 2, t); };
    const std::uint64_t g = generation_.fetch_add(1, std::memory_order_acq_rel) + 1;
    f(0, 2, turn);
    while (done_.load(std::memory_order_acquire) != g) __builtin_ia32_pause();
  }

 private:
  void loop() {
    std::uint64_t seen = 0;
    for (;;) {
      std::uint64_t g;
      while ((g = generation_.load(std::memory_order_acquire)) == seen) {
        if (stop_.load(std::memory_order_acquire)) return;
        __builtin_ia32_pause();
      }
      seen = g;
      call_(job_, turn_);
      done_.store(g, std::memory_order_release);
    }
  }
  void* job_ = nullptr;
  std::size_t turn_ = 0;
  void (*call_)(void*, std::size_t) = nullptr;
  std::atomic<std::uint64_t> generation_{0}, done_{0};
  std::atomic<bool> stop_{false};
  std::thread worker_;
};

/// Calls f(part, parts, turn) on `threads` (1 or 2) threads once per iteration; turn counts iterations.
template <class F>
void run_iterations(benchmark::State& state, int threads, F f) {
  std::size_t turn = 0;
  if (threads == 1) {
    for (auto _ : state) f(0, 1, turn++);
  } else {
    pair_runner pool;
    for (auto _ : state) pool.run(f, turn++);
  }
}

// ---- the layers ------------------------------------------------------------------------------------

constexpr std::size_t min_set_bytes = std::size_t{64} << 20;
constexpr int max_batch = 64;

template <int In, int Out>
struct layer {
  using kernel = ks::dense_kernel<In, Out>;
  static constexpr std::size_t packed_bytes = kernel::packed_floats * sizeof(float);
  static constexpr int copies = int((min_set_bytes + packed_bytes - 1) / packed_bytes);
  static constexpr double weight_bytes = double(In) * Out * sizeof(float);

  std::vector<std::unique_ptr<aligned_floats>> packed;
  aligned_floats bias{Out}, x{std::size_t(max_batch) * In}, y{std::size_t(max_batch) * Out};

  layer() {
    aligned_floats w(static_cast<std::size_t>(In) * Out);
    const float scale = 1.0f / float(In);
    for (int c = 0; c < copies; ++c) {
      fill_uniform(w.p, w.n, 17u + unsigned(c), -scale, scale);
      packed.push_back(std::make_unique<aligned_floats>(kernel::packed_floats));
      kernel::pack(w.p, packed.back()->p);
    }
    fill_uniform(bias.p, bias.n, 5, -0.1f, 0.1f);
    fill_uniform(x.p, x.n, 6, 0.0f, 1.0f);
  }
  static layer& get() {
    static layer l;
    return l;
  }
};

using fc6 = layer<9216, 4096>;
using fc7 = layer<4096, 4096>;
using fc8 = layer<4096, 1000>;
using hot = layer<256, 256>;  // weights 256 KiB, x 64 KiB: the GEMM tile from L2, no memory traffic

template <class L>
void BM_dense_b1(benchmark::State& state) {
  L& l = L::get();
  run_iterations(state, int(state.range(0)), [&](int part, int parts, std::size_t turn) {
    const float* w = l.packed[turn % L::copies]->p;
    L::kernel::template run<ks::epilogue_relu>(w, l.bias.p, l.x.p, l.y.p, 1, part, parts);
    if (part == 0) benchmark::ClobberMemory();
  });
  state.counters["GB_per_s"] =
      benchmark::Counter(double(state.iterations()) * L::weight_bytes * 1e-9, benchmark::Counter::kIsRate);
  state.counters["bytes"] = L::weight_bytes;
}

/// Batch 1 through the GEMM path, for comparison with the GEMV that run() picks.
template <class L>
void BM_dense_b1_gemm(benchmark::State& state) {
  L& l = L::get();
  std::size_t turn = 0;
  for (auto _ : state) {
    const float* w = l.packed[turn++ % L::copies]->p;
    L::kernel::template gemm<ks::epilogue_relu>(w, l.bias.p, l.x.p, l.y.p, 1, 0, L::kernel::blocks);
    benchmark::ClobberMemory();
  }
  state.counters["GB_per_s"] =
      benchmark::Counter(double(state.iterations()) * L::weight_bytes * 1e-9, benchmark::Counter::kIsRate);
  state.counters["bytes"] = L::weight_bytes;
}

template <class L>
void BM_dense_b64(benchmark::State& state) {
  L& l = L::get();
  run_iterations(state, int(state.range(0)), [&](int part, int parts, std::size_t) {
    L::kernel::template run<ks::epilogue_relu>(l.packed[0]->p, l.bias.p, l.x.p, l.y.p, max_batch, part, parts);
    if (part == 0) benchmark::ClobberMemory();
  });
  const double flops = 2.0 * L::weight_bytes / sizeof(float) * max_batch;
  state.counters["GFLOP_per_s"] =
      benchmark::Counter(double(state.iterations()) * flops * 1e-9, benchmark::Counter::kIsRate);
  state.counters["flop"] = flops;
}

/// Variants that run() does not pick, for comparison: the GEMV without software prefetch, the GEMM without
/// prefetching the next chunk (both 1 thread).
template <class L, int PrefetchFloats = 0>
void BM_dense_b1_prefetch(benchmark::State& state) {
  L& l = L::get();
  std::size_t turn = 0;
  for (auto _ : state) {
    const float* w = l.packed[turn++ % L::copies]->p;
    L::kernel::template gemv<ks::epilogue_relu, PrefetchFloats>(w, l.bias.p, l.x.p, l.y.p, 0, L::kernel::blocks);
    benchmark::ClobberMemory();
  }
  state.counters["GB_per_s"] =
      benchmark::Counter(double(state.iterations()) * L::weight_bytes * 1e-9, benchmark::Counter::kIsRate);
  state.counters["bytes"] = L::weight_bytes;
}

template <class L>
void BM_dense_b64_noprefetch(benchmark::State& state) {
  L& l = L::get();
  for (auto _ : state) {
    L::kernel::template gemm<ks::epilogue_relu, false>(l.packed[0]->p, l.bias.p, l.x.p, l.y.p, max_batch, 0,
                                                       L::kernel::blocks);
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * L::weight_bytes / sizeof(float) * max_batch;
  state.counters["GFLOP_per_s"] =
      benchmark::Counter(double(state.iterations()) * flops * 1e-9, benchmark::Counter::kIsRate);
  state.counters["flop"] = flops;
}

// ---- baselines -------------------------------------------------------------------------------------

/// Sum of p[0, n) with 8 independent accumulators (n a multiple of 8 vectors).
float read_sum(const float* p, std::size_t n) {
  constexpr std::size_t w = vec::size;
  vec s[8] = {vec(0.0f), vec(0.0f), vec(0.0f), vec(0.0f), vec(0.0f), vec(0.0f), vec(0.0f), vec(0.0f)};
  for (std::size_t i = 0; i + 8 * w <= n; i += 8 * w)
    for (std::size_t j = 0; j < 8; ++j) s[j] += vec::load_aligned(p + i + j * w);
  const vec t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  alignas(64) float lanes[w];
  t.store_aligned(lanes);
  float total = 0;
  for (float v : lanes) total += v;
  return total;
}

template <class L>
void BM_read(benchmark::State& state) {
  L& l = L::get();
  const int threads = int(state.range(0));
  constexpr std::size_t n = L::kernel::packed_floats;
  constexpr std::size_t half = n / 2 / (8 * vec::size) * (8 * vec::size);
  float sink[2] = {0, 0};
  run_iterations(state, threads, [&](int part, int parts, std::size_t turn) {
    const float* p = l.packed[turn % L::copies]->p;
    if (parts == 1)
      sink[0] += read_sum(p, n);
    else
      sink[part] += part == 0 ? read_sum(p, half) : read_sum(p + half, n - half);
    if (part == 0) benchmark::ClobberMemory();
  });
  benchmark::DoNotOptimize(sink);
  state.counters["GB_per_s"] =
      benchmark::Counter(double(state.iterations()) * double(n) * sizeof(float) * 1e-9, benchmark::Counter::kIsRate);
  state.counters["bytes"] = double(n) * sizeof(float);
}

/// 16 independent FMA chains; returns a value that depends on all of them.
float fma_chains(std::int64_t steps) {
  vec a[16];
  for (int j = 0; j < 16; ++j) a[j] = vec(float(j) * 0.01f);
  const vec m(0.999f), c(0.001f);
  for (std::int64_t s = 0; s < steps; ++s)
    for (int j = 0; j < 16; ++j) a[j] = xsimd::fma(a[j], m, c);
  vec t(0.0f);
  for (int j = 0; j < 16; ++j) t += a[j];
  return xsimd::hadd(t);
}

void BM_peak_fma(benchmark::State& state) {
  const int threads = int(state.range(0));
  constexpr std::int64_t steps = 1 << 16;
  run_iterations(state, threads, [&](int, int, std::size_t) {
    std::int64_t n = steps;
    benchmark::DoNotOptimize(n);  // keeps the call inside the timed loop
    float r = fma_chains(n);
    benchmark::DoNotOptimize(r);
  });
  const double flops = double(threads) * steps * 16 * vec::size * 2;
  state.counters["GFLOP_per_s"] =
      benchmark::Counter(double(state.iterations()) * flops * 1e-9, benchmark::Counter::kIsRate);
  state.counters["flop"] = flops;
}

// Registration: baselines first and last around the kernels, so drift during the run shows.
// Every repetition goes to --benchmark_out (JSON); the console shows the aggregates. On a shared machine
// the best repetition (highest rate) is the figure least disturbed by other processes; report it next to
// the median. bench/dense_summary.py computes both from the JSON, as the per-iteration work (counters
// `bytes`, `flop`) over the real time, and also the median over the "quiet" repetitions, those whose real
// time is within 15% of the benchmark thread's CPU time (the thread was nearly never descheduled).
void common(benchmark::internal::Benchmark* b) {
  b->UseRealTime()->Repetitions(7)->DisplayAggregatesOnly(true)->MinTime(0.2);
}
void configure(benchmark::internal::Benchmark* b) {
  common(b);
  b->ArgName("threads")->Arg(1)->Arg(2);
}
void configure_1t(benchmark::internal::Benchmark* b) { common(b); }

BENCHMARK(BM_peak_fma)->Apply(configure);
BENCHMARK_TEMPLATE(BM_read, fc6)->Apply(configure);
BENCHMARK_TEMPLATE(BM_dense_b1, fc6)->Apply(configure);
BENCHMARK_TEMPLATE(BM_dense_b1, fc7)->Apply(configure);
BENCHMARK_TEMPLATE(BM_dense_b1, fc8)->Apply(configure);
BENCHMARK_TEMPLATE(BM_read, fc7)->Apply(configure);
BENCHMARK_TEMPLATE(BM_read, fc8)->Apply(configure);
BENCHMARK_TEMPLATE(BM_dense_b1_gemm, fc6)->Apply(configure_1t);
BENCHMARK_TEMPLATE(BM_dense_b1_gemm, fc8)->Apply(configure_1t);
BENCHMARK_TEMPLATE(BM_dense_b1_prefetch, fc6, 1024)->Apply(configure_1t);
BENCHMARK_TEMPLATE(BM_dense_b1_prefetch, fc8, 1024)->Apply(configure_1t);
BENCHMARK_TEMPLATE(BM_dense_b64, fc6)->Apply(configure);
BENCHMARK_TEMPLATE(BM_dense_b64, fc7)->Apply(configure);
BENCHMARK_TEMPLATE(BM_dense_b64, fc8)->Apply(configure);
BENCHMARK_TEMPLATE(BM_dense_b64, hot)->Apply(configure_1t)->Arg(1);
BENCHMARK_TEMPLATE(BM_dense_b64_noprefetch, fc6)->Apply(configure_1t);
BENCHMARK_TEMPLATE(BM_dense_b64_noprefetch, fc7)->Apply(configure_1t);
BENCHMARK(BM_peak_fma)->Name("BM_peak_fma_again")->Apply(configure);

}  // namespace

BENCHMARK_MAIN();
