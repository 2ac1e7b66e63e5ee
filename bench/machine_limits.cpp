// Machine limits: the ceilings every typenet kernel is measured against.
//
//   * peak FP32 fused multiply-add rate of one core (and of two cores at once) with AVX-512 zmm registers
//     where the CPU has them,
//     and the same with 256-bit ymm registers for comparison;
//   * memory bandwidth: a read-only sum over a 512 MiB array, and the STREAM triad a = b + s*c over three
//     256 MiB arrays (STREAM's byte count: 3 arrays per pass, write-allocate traffic not counted).
//
// Counters: `flops` (FLOP per second; Google Benchmark prints e.g. 116.2G/s = 116.2 GFLOP/s) and `GB_per_s`
// (decimal gigabytes per second).
// Multi-threaded cases use real time, so the counters are the rate of all threads together.
// See docs/benchmarks-method.md for how to run this and the figures measured on the development machine.

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

// The FMA loops are x86 inline assembly: AVX2+FMA at least (ymm), AVX-512F for the zmm case. On a CPU
// without AVX-512 the zmm case is left out and the ymm loop uses 14 accumulators (ymm0-13; there are only
// 16 ymm registers there). The memory loops are portable (GCC/Clang vector extensions).
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#define TN_HAVE_FMA_ASM 1
#endif

namespace {

// ---------------------------------------------------------------------------------------------------------
// Peak FMA
// ---------------------------------------------------------------------------------------------------------

// One call of a fma_loop runs kFmaBlocks blocks of N vfmadd231ps on N independent accumulators (R0..R{N-1},
// R = zmm or ymm), with the multiplicands in two further registers. 14 or 16 chains cover FMA latency
// (4 cycles) times throughput (2 FMA pipes on Zen 3/4/5 and Intel server cores) with room to spare. The
// accumulators are reset at each call and grow by 2^-20 per FMA, so values stay normal and finite.
constexpr int kFmaBlocks = 256;

#if TN_HAVE_FMA_ASM
// clang-format off
#define TN_FMA(R, A, B, i) "vfmadd231ps %%" R #A ", %%" R #B ", %%" R #i "\n\t"
#define TN_FMA14(R, A, B)                                                                                   \
  TN_FMA(R, A, B, 0) TN_FMA(R, A, B, 1) TN_FMA(R, A, B, 2) TN_FMA(R, A, B, 3) TN_FMA(R, A, B, 4)            \
  TN_FMA(R, A, B, 5) TN_FMA(R, A, B, 6) TN_FMA(R, A, B, 7) TN_FMA(R, A, B, 8) TN_FMA(R, A, B, 9)            \
  TN_FMA(R, A, B, 10) TN_FMA(R, A, B, 11) TN_FMA(R, A, B, 12) TN_FMA(R, A, B, 13)
#define TN_ZERO(R, i) "vmovaps %%" R "0, %%" R #i "\n\t"
#define TN_ZERO14(R)                                                                                        \
  "vxorps %%ymm0, %%ymm0, %%ymm0\n\t" TN_ZERO(R, 1) TN_ZERO(R, 2) TN_ZERO(R, 3) TN_ZERO(R, 4) TN_ZERO(R, 5) \
  TN_ZERO(R, 6) TN_ZERO(R, 7) TN_ZERO(R, 8) TN_ZERO(R, 9) TN_ZERO(R, 10) TN_ZERO(R, 11) TN_ZERO(R, 12)      \
  TN_ZERO(R, 13)
#define TN_CLOBBER14                                                                                        \
  "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",    \
  "xmm12", "xmm13", "xmm14", "xmm15"
#if defined(__AVX512F__)
// 16 accumulators R0-R15, multiplicands in R16/R17 (AVX-512 has 32 vector registers).
#define TN_FMA_BODY(R) TN_FMA14(R, 16, 17) TN_FMA(R, 16, 17, 14) TN_FMA(R, 16, 17, 15)
#define TN_FMA_LOOP(R)                                                                                      \
  asm volatile(TN_ZERO14(R) TN_ZERO(R, 14) TN_ZERO(R, 15)                                                   \
               "vbroadcastss %[a], %%" R "16\n\t"                                                            \
               "vbroadcastss %[b], %%" R "17\n\t"                                                            \
               "1:\n\t" TN_FMA_BODY(R) "dec %[n]\n\t"                                                        \
               "jnz 1b\n\t"                                                                                  \
               : [n] "+r"(blocks)                                                                            \
               : [a] "m"(a), [b] "m"(b)                                                                      \
               : TN_CLOBBER14, "xmm16", "xmm17")
constexpr int kFmaChains = 16;
#else
// 14 accumulators R0-R13, multiplicands in R14/R15.
#define TN_FMA_LOOP(R)                                                                                      \
  asm volatile(TN_ZERO14(R)                                                                                 \
               "vbroadcastss %[a], %%" R "14\n\t"                                                            \
               "vbroadcastss %[b], %%" R "15\n\t"                                                            \
               "1:\n\t" TN_FMA14(R, 14, 15) "dec %[n]\n\t"                                                   \
               "jnz 1b\n\t"                                                                                  \
               : [n] "+r"(blocks)                                                                            \
               : [a] "m"(a), [b] "m"(b)                                                                      \
               : TN_CLOBBER14)
constexpr int kFmaChains = 14;
#endif
// clang-format on

#if defined(__AVX512F__)
void fma_loop_zmm(std::int64_t calls) {
  std::int64_t blocks = calls * kFmaBlocks;
  const float a = 1.0f / 1024, b = 1.0f / 1024;
  TN_FMA_LOOP("zmm");
}
#endif
void fma_loop_ymm(std::int64_t calls) {
  std::int64_t blocks = calls * kFmaBlocks;
  const float a = 1.0f / 1024, b = 1.0f / 1024;
  TN_FMA_LOOP("ymm");
}
#undef TN_FMA_LOOP
#undef TN_FMA_BODY
#undef TN_CLOBBER14
#undef TN_ZERO14
#undef TN_ZERO
#undef TN_FMA14
#undef TN_FMA

template <int Lanes, void (*Loop)(std::int64_t)>
void peak_fma(benchmark::State& state) {
  constexpr std::int64_t kCallsPerIter = 64;  // 16384 blocks: tens of microseconds
  for (auto _ : state) Loop(kCallsPerIter);
  const double flops_per_call = double(kFmaBlocks) * kFmaChains /*instr*/ * Lanes * 2 /*mul+add*/;
  state.counters["flops"] =
      benchmark::Counter(double(state.iterations()) * kCallsPerIter * flops_per_call, benchmark::Counter::kIsRate);
}
#if defined(__AVX512F__)
void BM_peak_fma_f32_zmm(benchmark::State& state) { peak_fma<16, fma_loop_zmm>(state); }
BENCHMARK(BM_peak_fma_f32_zmm)->Threads(1)->Threads(2)->UseRealTime()->MinTime(0.5);
#endif
void BM_peak_fma_f32_ymm(benchmark::State& state) { peak_fma<8, fma_loop_ymm>(state); }
BENCHMARK(BM_peak_fma_f32_ymm)->Threads(1)->Threads(2)->UseRealTime()->MinTime(0.5);
#endif  // TN_HAVE_FMA_ASM

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

// 64-byte float vectors (GCC/Clang vector extension): one zmm with AVX-512, two ymm with AVX2; the arrays
// are 64-byte aligned and every range is whole cache lines.
typedef float vec16 __attribute__((vector_size(64)));
// (A macro, not a function: returning a 64-byte vector by value changes the ABI without AVX-512.)
#define TN_LOAD16(p) (*reinterpret_cast<const vec16*>(__builtin_assume_aligned((p), 64)))

// Sum with 8 independent 64-byte accumulators (eight cache lines per step, several loads in flight).
float sum_range(const float* p, std::size_t begin, std::size_t end) {
  vec16 s0 = {}, s1 = {}, s2 = {}, s3 = {}, s4 = {}, s5 = {}, s6 = {}, s7 = {};
  std::size_t i = begin;
  for (; i + 128 <= end; i += 128) {
    s0 += TN_LOAD16(p + i + 0);
    s1 += TN_LOAD16(p + i + 16);
    s2 += TN_LOAD16(p + i + 32);
    s3 += TN_LOAD16(p + i + 48);
    s4 += TN_LOAD16(p + i + 64);
    s5 += TN_LOAD16(p + i + 80);
    s6 += TN_LOAD16(p + i + 96);
    s7 += TN_LOAD16(p + i + 112);
  }
  for (; i < end; i += 16) s0 += TN_LOAD16(p + i);
  s0 = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  float total = 0;
  for (int l = 0; l < 16; ++l) total += s0[l];
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
  for (std::size_t i = begin; i < end; i += 16)
    *reinterpret_cast<vec16*>(__builtin_assume_aligned(a + i, 64)) = TN_LOAD16(b + i) + s * TN_LOAD16(c + i);
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
