// Machine limits: the ceilings every typenet kernel is measured against.
//
//   * peak FP32 fused multiply-add rate of one core (and of two cores at once) with AVX-512 zmm registers,
//     and the same with 256-bit ymm registers for comparison;
//   * memory bandwidth: a read-only sum over a 512 MiB array, and the STREAM triad a = b + s*c over three
//     256 MiB arrays (STREAM's byte count: 3 arrays per pass, write-allocate traffic not counted).
//
// Counters: `flops` (FLOP per second; Google Benchmark prints e.g. 116.2G/s = 116.2 GFLOP/s) and `GB_per_s`
// (decimal gigabytes per second).
// Multi-threaded cases use real time, so the counters are the rate of all threads together.
// See docs/benchmarks-method.md for how to run this and the figures measured on the development machine.

#include <benchmark/benchmark.h>

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#if !defined(__AVX512F__)
#error "bench_machine needs AVX-512F (build with -march=native on an AVX-512 machine)"
#endif

namespace {

// ---------------------------------------------------------------------------------------------------------
// Peak FMA
// ---------------------------------------------------------------------------------------------------------

// One call of fma_loop<R> runs kFmaBlocks blocks of 16 vfmadd231ps on 16 independent accumulators
// (R0..R15, R = zmm or ymm), with the multiplicands in R16/R17. Sixteen chains cover FMA latency (4 cycles)
// times throughput (2 FMA pipes on Zen 4/Zen 5 and Intel server cores) with room to spare. The
// accumulators are reset at each call and grow by 2^-20 per FMA, so values stay normal and finite.
constexpr int kFmaBlocks = 256;

// clang-format off
#define TN_FMA(R, i) "vfmadd231ps %%" R "16, %%" R "17, %%" R #i "\n\t"
#define TN_FMA16(R)                                                                                         \
  TN_FMA(R, 0) TN_FMA(R, 1) TN_FMA(R, 2) TN_FMA(R, 3) TN_FMA(R, 4) TN_FMA(R, 5) TN_FMA(R, 6) TN_FMA(R, 7)     \
      TN_FMA(R, 8) TN_FMA(R, 9) TN_FMA(R, 10) TN_FMA(R, 11) TN_FMA(R, 12) TN_FMA(R, 13) TN_FMA(R, 14)         \
          TN_FMA(R, 15)
#define TN_ZERO(R, i) "vmovaps %%" R "0, %%" R #i "\n\t"
#define TN_FMA_LOOP(R)                                                                                      \
  asm volatile("vpxord %%zmm0, %%zmm0, %%zmm0\n\t" TN_ZERO(R, 1) TN_ZERO(R, 2) TN_ZERO(R, 3) TN_ZERO(R, 4)   \
                   TN_ZERO(R, 5) TN_ZERO(R, 6) TN_ZERO(R, 7) TN_ZERO(R, 8) TN_ZERO(R, 9) TN_ZERO(R, 10)           \
                       TN_ZERO(R, 11) TN_ZERO(R, 12) TN_ZERO(R, 13) TN_ZERO(R, 14) TN_ZERO(R, 15)                 \
               "vbroadcastss %[a], %%" R "16\n\t"                                                                \
               "vbroadcastss %[b], %%" R "17\n\t"                                                                \
               "1:\n\t" TN_FMA16(R) "dec %[n]\n\t"                                                                \
               "jnz 1b\n\t"                                                                                    \
               : [n] "+r"(blocks)                                                                              \
               : [a] "m"(a), [b] "m"(b)                                                                        \
               : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",  \
                 "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17")
// clang-format on

void fma_loop_zmm(std::int64_t calls) {
  std::int64_t blocks = calls * kFmaBlocks;
  const float a = 1.0f / 1024, b = 1.0f / 1024;
  TN_FMA_LOOP("zmm");
}
void fma_loop_ymm(std::int64_t calls) {
  std::int64_t blocks = calls * kFmaBlocks;
  const float a = 1.0f / 1024, b = 1.0f / 1024;
  TN_FMA_LOOP("ymm");
}
#undef TN_FMA_LOOP
#undef TN_ZERO
#undef TN_FMA16
#undef TN_FMA

template <int Lanes, void (*Loop)(std::int64_t)>
void peak_fma(benchmark::State& state) {
  constexpr std::int64_t kCallsPerIter = 64;  // 16384 blocks: tens of microseconds
  for (auto _ : state) Loop(kCallsPerIter);
  const double flops_per_call = double(kFmaBlocks) * 16 /*instr*/ * Lanes * 2 /*mul+add*/;
  state.counters["flops"] =
      benchmark::Counter(double(state.iterations()) * kCallsPerIter * flops_per_call, benchmark::Counter::kIsRate);
}
void BM_peak_fma_f32_zmm(benchmark::State& state) { peak_fma<16, fma_loop_zmm>(state); }
void BM_peak_fma_f32_ymm(benchmark::State& state) { peak_fma<8, fma_loop_ymm>(state); }
BENCHMARK(BM_peak_fma_f32_zmm)->Threads(1)->Threads(2)->UseRealTime()->MinTime(0.5);
BENCHMARK(BM_peak_fma_f32_ymm)->Threads(1)->Threads(2)->UseRealTime()->MinTime(0.5);

// ---------------------------------------------------------------------------------------------------------
// Memory bandwidth
// ---------------------------------------------------------------------------------------------------------

constexpr std::size_t kMiB = std::size_t{1} << 20;

struct aligned_floats {
  float* p = nullptr;
  std::size_t n = 0;
  explicit aligned_floats(std::size_t count, float fill) : n(count) {
    p = static_cast<float*>(::operator new[](count * sizeof(float), std::align_val_t{64}));
    for (std::size_t i = 0; i < n; ++i) p[i] = fill;  // first touch: pages are mapped before timing
  }
  ~aligned_floats() { ::operator delete[](p, std::align_val_t{64}); }
  aligned_floats(const aligned_floats&) = delete;
  aligned_floats& operator=(const aligned_floats&) = delete;
};

// Arrays are created on first use (function-local statics are thread-safe), outside the timed loops.
aligned_floats& read_array() {
  static aligned_floats a(512 * kMiB / sizeof(float), 1.0f);
  return a;
}
struct triad_arrays {
  aligned_floats a{256 * kMiB / sizeof(float), 0.0f};
  aligned_floats b{256 * kMiB / sizeof(float), 1.0f};
  aligned_floats c{256 * kMiB / sizeof(float), 2.0f};
};
triad_arrays& triad() {
  static triad_arrays t;
  return t;
}

// The part [begin, end) of n elements that thread `t` of `nt` handles, in whole cache lines.
struct range {
  std::size_t begin, end;
};
range split(std::size_t n, int t, int nt) {
  const std::size_t lines = n / 16;
  return {lines * std::size_t(t) / std::size_t(nt) * 16, lines * std::size_t(t + 1) / std::size_t(nt) * 16};
}

// Sum with 8 independent zmm accumulators (four 64-byte lines per step, two loads per line in flight).
float sum_range(const float* p, std::size_t begin, std::size_t end) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  std::size_t i = begin;
  for (; i + 128 <= end; i += 128) {
    s0 = _mm512_add_ps(s0, _mm512_load_ps(p + i + 0));
    s1 = _mm512_add_ps(s1, _mm512_load_ps(p + i + 16));
    s2 = _mm512_add_ps(s2, _mm512_load_ps(p + i + 32));
    s3 = _mm512_add_ps(s3, _mm512_load_ps(p + i + 48));
    s4 = _mm512_add_ps(s4, _mm512_load_ps(p + i + 64));
    s5 = _mm512_add_ps(s5, _mm512_load_ps(p + i + 80));
    s6 = _mm512_add_ps(s6, _mm512_load_ps(p + i + 96));
    s7 = _mm512_add_ps(s7, _mm512_load_ps(p + i + 112));
  }
  for (; i < end; i += 16) s0 = _mm512_add_ps(s0, _mm512_load_ps(p + i));
  s0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)),
                     _mm512_add_ps(_mm512_add_ps(s4, s5), _mm512_add_ps(s6, s7)));
  alignas(64) float lanes[16];  // (_mm512_reduce_add_ps trips a false -Wmaybe-uninitialized in g++ 12)
  _mm512_store_ps(lanes, s0);
  float total = 0;
  for (float v : lanes) total += v;
  return total;
}

void BM_read_sum_512MiB(benchmark::State& state) {
  aligned_floats& a = read_array();
  const range r = split(a.n, state.thread_index(), state.threads());
  for (auto _ : state) {
    float s = sum_range(a.p, r.begin, r.end);
    benchmark::DoNotOptimize(s);
  }
  const double bytes = double(r.end - r.begin) * sizeof(float);
  state.counters["GB_per_s"] =
      benchmark::Counter(double(state.iterations()) * bytes * 1e-9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_read_sum_512MiB)->Threads(1)->Threads(2)->UseRealTime()->MinTime(1.0);

void triad_range(float* __restrict a, const float* __restrict b, const float* __restrict c, float s, std::size_t begin,
                 std::size_t end) {
  const __m512 vs = _mm512_set1_ps(s);
  for (std::size_t i = begin; i < end; i += 16)
    _mm512_store_ps(a + i, _mm512_fmadd_ps(vs, _mm512_load_ps(c + i), _mm512_load_ps(b + i)));
}

void BM_stream_triad_3x256MiB(benchmark::State& state) {
  triad_arrays& t = triad();
  const range r = split(t.a.n, state.thread_index(), state.threads());
  for (auto _ : state) {
    triad_range(t.a.p, t.b.p, t.c.p, 3.0f, r.begin, r.end);
    benchmark::ClobberMemory();
  }
  const double bytes = 3.0 * double(r.end - r.begin) * sizeof(float);
  state.counters["GB_per_s"] =
      benchmark::Counter(double(state.iterations()) * bytes * 1e-9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_stream_triad_3x256MiB)->Threads(1)->Threads(2)->UseRealTime()->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
