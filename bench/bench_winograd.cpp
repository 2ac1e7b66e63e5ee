// bench_typenet_winograd: kernels/simd/winograd.hpp against the direct kernel (kernels/simd/conv2d.hpp) on the
// seed AlexNet's 3x3 layers (13 x 13 maps, pad 1) and three of ResNet-50's (layer4: 512 channels on 7 x 7,
// layer3: 256 on 14 x 14, layer2: 128 on 28 x 28), all with the ReLU epilogue and the same inputs.
//
//   BM_wino<layer>/batch:B/threads:T     Winograd F(2x2, 3x3) (layer names ending _f2) or F(4x4, 3x3) (_f4),
//                                        tiles split into T parts
//   BM_direct<layer>/batch:B/threads:T   the direct kernel, work items split as exec::simd splits them
//                                        (batch 64: whole images per thread; batch 1: contiguous item ranges)
//
// Counter GFLOP_per_s = 2 * C * 9 * F * H * W * batch (the nominal direct multiply-adds, padding taps
// included) / real time, so both kernels' figures are directly comparable; speed-up = ratio of the two.
// T = 2: part 0 on the benchmark thread, part 1 on a second std::thread that spins on an atomic generation
// counter; an iteration ends when both parts are done. Report the medians of the repetitions.
#include <benchmark/benchmark.h>

#include <typenet/kernels/simd/conv2d.hpp>
#include <typenet/kernels/simd/winograd.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <random>
#include <thread>

namespace {

namespace ks = typenet::kernels::simd;
using arch = xsimd::default_arch;

struct floats64 {
  float* p;
  std::size_t n;
  explicit floats64(std::size_t count)
      : p(static_cast<float*>(::operator new[]((count + 16) * sizeof(float), std::align_val_t{64}))), n(count) {
    for (std::size_t i = 0; i < count + 16; ++i) p[i] = 0.0f;
  }
  ~floats64() { ::operator delete[](p, std::align_val_t{64}); }
  floats64(const floats64&) = delete;
  floats64& operator=(const floats64&) = delete;
};

void random_fill(float* p, std::size_t n, std::uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  for (std::size_t i = 0; i < n; ++i) p[i] = d(gen);
}

/// Runs job(part) for parts 0 and 1 concurrently: part 1 on a spinning helper thread.
class two_threads {
 public:
  two_threads() : helper_([this] { serve(); }) {}
  ~two_threads() {
    quit_.store(true, std::memory_order_release);
    helper_.join();
  }
  two_threads(const two_threads&) = delete;
  two_threads& operator=(const two_threads&) = delete;

  void run(const std::function<void(int)>& job) {
    job_ = &job;
    const std::uint64_t ticket = posted_.fetch_add(1, std::memory_order_acq_rel) + 1;
    job(0);
    while (finished_.load(std::memory_order_acquire) != ticket) __builtin_ia32_pause();
  }

 private:
  void serve() {
    std::uint64_t last = 0;
    while (true) {
      std::uint64_t now = posted_.load(std::memory_order_acquire);
      if (now == last) {
        if (quit_.load(std::memory_order_acquire)) return;
        __builtin_ia32_pause();
        continue;
      }
      last = now;
      (*job_)(1);
      finished_.store(now, std::memory_order_release);
    }
  }
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<std::uint64_t> posted_{0}, finished_{0};
  std::atomic<bool> quit_{false};
  std::thread helper_;
};

void timed(benchmark::State& state, int threads, const std::function<void(int)>& job) {
  if (threads == 1) {
    for (auto _ : state) {
      job(0);
      benchmark::ClobberMemory();
    }
  } else {
    two_threads pool;
    for (auto _ : state) {
      pool.run(job);
      benchmark::ClobberMemory();
    }
  }
}

constexpr int max_batch = 64;

template <int C, int F, int M, int H = 13>
struct layer {
  static constexpr int W = H;
  using wino = ks::winograd_3x3<C, H, W, F, arch, M>;
  using direct = ks::conv_kernel<ks::conv_geometry<C, H, W, F, H, W, 3, 3, 1, 1, 1, 1, 1>, arch>;
  static constexpr double flop_per_image = 2.0 * C * 9 * F * H * W;

  floats64 w{std::size_t(F) * C * 9}, bias{F}, in{std::size_t(max_batch) * H * W * C},
      out{std::size_t(max_batch) * H * W * F};
  floats64 wino_packed{wino::packed_floats}, workspace{2 * (wino::workspace_floats_per_part + 16)};
  floats64 direct_packed{direct::packed_floats}, direct_bias{direct::packed_bias_floats},
      zeros{direct::zero_floats + 64};

  layer() {
    const float s = 1.0f / float(C * 9);
    random_fill(w.p, w.n, 1, -s, s);
    random_fill(bias.p, bias.n, 2, -0.1f, 0.1f);
    random_fill(in.p, in.n, 3, 0.0f, 1.0f);
    wino::pack(w.p, wino_packed.p);
    direct::pack(w.p, bias.p, direct_packed.p, direct_bias.p);
  }
  static layer& get() {
    static layer l;
    return l;
  }
  float* ws(int part) const {  // each part's workspace, 64-byte aligned
    constexpr std::size_t stride = (wino::workspace_floats_per_part + 15) / 16 * 16;
    return workspace.p + std::size_t(part) * stride;
  }
};

using conv3_f2 = layer<256, 384, 2>;
using conv3_f4 = layer<256, 384, 4>;
using conv4_f2 = layer<384, 384, 2>;
using conv4_f4 = layer<384, 384, 4>;
using conv5_f2 = layer<384, 256, 2>;
using conv5_f4 = layer<384, 256, 4>;
using resnet_layer3_f2 = layer<256, 256, 2, 14>;
using resnet_layer3_f4 = layer<256, 256, 4, 14>;
using resnet_layer2_f2 = layer<128, 128, 2, 28>;
using resnet_layer2_f4 = layer<128, 128, 4, 28>;
using resnet_layer4_f2 = layer<512, 512, 2, 7>;
using resnet_layer4_f4 = layer<512, 512, 4, 7>;

template <class L>
void BM_wino(benchmark::State& state) {
  L& l = L::get();
  const int batch = int(state.range(0)), threads = int(state.range(1));
  timed(state, threads, [&](int part) {
    L::wino::template run<ks::epilogue_relu>(l.wino_packed.p, l.bias.p, l.in.p, l.out.p, l.ws(part), batch, part,
                                             threads);
  });
  state.counters["GFLOP_per_s"] =
      benchmark::Counter(double(state.iterations()) * L::flop_per_image * batch * 1e-9, benchmark::Counter::kIsRate);
}

template <class L>
void BM_direct(benchmark::State& state) {
  L& l = L::get();
  const int batch = int(state.range(0)), threads = int(state.range(1));
  using D = typename L::direct;
  const std::int64_t items = D::items(batch);
  const std::int64_t per_block = std::int64_t(batch) * D::OH;
  timed(state, threads, [&](int part) {
    if (threads > 1 && batch % threads == 0) {  // whole images per thread, every block
      const int n0 = batch * part / threads, n1 = batch * (part + 1) / threads;
      for (int gb = 0; gb < D::G * D::blocks; ++gb)
        D::template run<ks::epilogue_relu>(l.direct_packed.p, l.direct_bias.p, l.in.p, l.out.p, l.zeros.p, batch,
                                           gb * per_block + n0 * D::OH, gb * per_block + n1 * D::OH);
    } else {  // contiguous block-major item ranges
      D::template run<ks::epilogue_relu>(l.direct_packed.p, l.direct_bias.p, l.in.p, l.out.p, l.zeros.p, batch,
                                         items * part / threads, items * (part + 1) / threads);
    }
  });
  state.counters["GFLOP_per_s"] =
      benchmark::Counter(double(state.iterations()) * L::flop_per_image * batch * 1e-9, benchmark::Counter::kIsRate);
}

void configure(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch", "threads"})
      ->Args({1, 1})
      ->Args({1, 2})
      ->Args({64, 1})
      ->Args({64, 2})
      ->Args({20, 2})
      ->Args({4, 2})
      ->Args({8, 2})
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.2)
      ->Repetitions(5)
      ->DisplayAggregatesOnly(true);
}

// Both Winograd variants and direct of one layer next to each other, so drift shows between layers, not
// within a group.
BENCHMARK_TEMPLATE(BM_wino, conv3_f2)->Apply(configure);
BENCHMARK_TEMPLATE(BM_wino, conv3_f4)->Apply(configure);
BENCHMARK_TEMPLATE(BM_direct, conv3_f2)->Apply(configure);
BENCHMARK_TEMPLATE(BM_wino, conv4_f2)->Apply(configure);
BENCHMARK_TEMPLATE(BM_wino, conv4_f4)->Apply(configure);
BENCHMARK_TEMPLATE(BM_direct, conv4_f2)->Apply(configure);
BENCHMARK_TEMPLATE(BM_wino, conv5_f2)->Apply(configure);
BENCHMARK_TEMPLATE(BM_wino, conv5_f4)->Apply(configure);
BENCHMARK_TEMPLATE(BM_direct, conv5_f2)->Apply(configure);
BENCHMARK_TEMPLATE(BM_wino, resnet_layer3_f2)->Apply(configure);
BENCHMARK_TEMPLATE(BM_wino, resnet_layer3_f4)->Apply(configure);
BENCHMARK_TEMPLATE(BM_direct, resnet_layer3_f2)->Apply(configure);
BENCHMARK_TEMPLATE(BM_wino, resnet_layer2_f2)->Apply(configure);
BENCHMARK_TEMPLATE(BM_wino, resnet_layer2_f4)->Apply(configure);
BENCHMARK_TEMPLATE(BM_direct, resnet_layer2_f2)->Apply(configure);
BENCHMARK_TEMPLATE(BM_wino, resnet_layer4_f2)->Apply(configure);
BENCHMARK_TEMPLATE(BM_wino, resnet_layer4_f4)->Apply(configure);
BENCHMARK_TEMPLATE(BM_direct, resnet_layer4_f2)->Apply(configure);

}  // namespace

BENCHMARK_MAIN();
