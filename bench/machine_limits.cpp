// Machine limits: the ceilings every typenet kernel is measured against.
//
//   * peak FP32 fused multiply-add rate of one core (and of two cores at once) with AVX-512 zmm registers;
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

// One call performs kFmaBlocks * 16 vfmadd231ps on 16 independent zmm accumulators (zmm0..zmm15), with the
// multiplicand and addend in zmm16/zmm17. Sixteen chains cover the FMA latency (4 cycles) times the
// throughput (2 per cycle on Zen 4 as 256-bit halves, 2 per cycle on Intel server cores) with room to spare.
constexpr int kFmaBlocks = 256;
constexpr double kFlopsPerCall = double(kFmaBlocks) * 16 /*instr*/ * 16 /*lanes*/ * 2 /*mul+add*/;

#define TN_FMA16                                  \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm0\n\t"      \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm1\n\t"      \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm2\n\t"      \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm3\n\t"      \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm4\n\t"      \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm5\n\t"      \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm6\n\t"      \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm7\n\t"      \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm8\n\t"      \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm9\n\t"      \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm10\n\t"     \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm11\n\t"     \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm12\n\t"     \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm13\n\t"     \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm14\n\t"     \
  "vfmadd231ps %%zmm16, %%zmm17, %%zmm15\n\t"

// Runs the FMA block `calls` times. The accumulators start at zero and the operands are 0 * 0, so the
// values never overflow or turn denormal (which could slow some cores down); the hardware does not
// short-cut multiplications by zero.
void fma_loop(std::int64_t calls) {
  std::int64_t blocks = calls * kFmaBlocks;
  asm volatile(
      "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"
      "vmovaps %%zmm0, %%zmm1\n\t"
      "vmovaps %%zmm0, %%zmm2\n\t"
      "vmovaps %%zmm0, %%zmm3\n\t"
      "vmovaps %%zmm0, %%zmm4\n\t"
      "vmovaps %%zmm0, %%zmm5\n\t"
      "vmovaps %%zmm0, %%zmm6\n\t"
      "vmovaps %%zmm0, %%zmm7\n\t"
      "vmovaps %%zmm0, %%zmm8\n\t"
      "vmovaps %%zmm0, %%zmm9\n\t"
      "vmovaps %%zmm0, %%zmm10\n\t"
      "vmovaps %%zmm0, %%zmm11\n\t"
      "vmovaps %%zmm0, %%zmm12\n\t"
      "vmovaps %%zmm0, %%zmm13\n\t"
      "vmovaps %%zmm0, %%zmm14\n\t"
      "vmovaps %%zmm0, %%zmm15\n\t"
      "vmovaps %%zmm0, %%zmm16\n\t"
      "vmovaps %%zmm0, %%zmm17\n\t"
      "1:\n\t"
      TN_FMA16
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      : [n] "+r"(blocks)
      :
      : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17");
}
#undef TN_FMA16

void BM_peak_fma_zmm(benchmark::State& state) {
  constexpr std::int64_t kCallsPerIter = 64;  // ~0.9 ms per iteration at 3.6 GHz
  for (auto _ : state) fma_loop(kCallsPerIter);
  state.counters["flops"] = benchmark::Counter(double(state.iterations()) * kCallsPerIter * kFlopsPerCall,
                                               benchmark::Counter::kIsRate);
}
BENCHMARK(BM_peak_fma_zmm)->Threads(1)->Threads(2)->UseRealTime()->MinTime(0.5);

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

void triad_range(float* __restrict a, const float* __restrict b, const float* __restrict c, float s,
                 std::size_t begin, std::size_t end) {
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
