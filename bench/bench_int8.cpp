// bench_typenet_int8: the int8 kernels (kernels/simd/int8.hpp, vpdpbusd) next to the bf16 kernels
// (kernels/simd/bf16.hpp, vdpbf16ps) on the seed AlexNet's layers, one thread, the same geometry, the ReLU
// epilogue, the output stored in the reduced type (u8 / bf16) as a program would between stages:
//
//   BM_conv<layer, Format>/batch:B    conv1 (3 -> 96, 11x11/4 on 227), conv2 (96 -> 256, 5x5 pad 2 on
//                                     27), conv3 (256 -> 384, 3x3 pad 1 on 13), all work items of the batch
//   BM_dense<layer, Format>/batch:B   fc6 (9216 -> 4096), fc7 (4096 -> 4096): batch 1 streams the weights
//                                     (37.7 MB int8 / 75.5 MB bf16 for fc6), batch 64 runs the panel GEMM
//
// Counter GOP_per_s = 2 * multiply-adds of the layer (nominal, padding taps included) / real time. What the
// int8 kernel gains over bf16 is the ratio of the two for the same layer (docs/performance.md). Runs only
// where both kernels are compiled (TYPENET_HAS_BF16 and TYPENET_HAS_VNNI) and the CPU has them.
#include <benchmark/benchmark.h>

#include <typenet/kernels/simd/bf16.hpp>
#include <typenet/kernels/simd/conv2d.hpp>
#include <typenet/kernels/simd/int8.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <random>
#include <type_traits>
#include <vector>

#if TYPENET_HAS_BF16 && TYPENET_HAS_VNNI

namespace {

namespace ks = typenet::kernels::simd;

/// 64-byte aligned, zeroed storage of n bytes (plus a vector's slack).
struct bytes64 {
  void* p;
  explicit bytes64(std::size_t n) : p(::operator new[](n + 128, std::align_val_t{64})) { std::memset(p, 0, n + 128); }
  ~bytes64() { ::operator delete[](p, std::align_val_t{64}); }
  bytes64(const bytes64&) = delete;
  bytes64& operator=(const bytes64&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(p);
  }
};

std::vector<float> random_floats(std::size_t n, std::uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

struct bf16_format {};
struct int8_format {};

template <int C, int H, int F, int K, int S, int P>
using geo = ks::conv_geometry<C, H, H, F, (H + 2 * P - K) / S + 1, (H + 2 * P - K) / S + 1, K, K, S, S, P, P, 1>;
using conv1 = geo<3, 227, 96, 11, 4, 0>;
using conv2 = geo<96, 27, 256, 5, 1, 2>;
using conv3 = geo<256, 13, 384, 3, 1, 1>;

template <class Geo>
double conv_ops(int batch) {
  return 2.0 * batch * Geo::oh * Geo::ow * Geo::f * Geo::cg * Geo::kh * Geo::kw;
}

template <class Geo, class Format>
void BM_conv(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const auto w = random_floats(std::size_t(Geo::f) * Geo::c * Geo::kh * Geo::kw, 1, -0.1f, 0.1f);
  const auto bias = random_floats(Geo::f, 2, -0.1f, 0.1f);
  if constexpr (std::is_same_v<Format, bf16_format>) {
    using K = ks::conv_bf16_kernel<Geo, ks::bf16_t>;
    bytes64 packed(K::packed_elems * 2), pbias(K::packed_bias_floats * 4), zeros(K::zero_elems * 2);
    K::pack(w.data(), bias.data(), packed.as<ks::bf16_t>(), pbias.as<float>());
    const std::size_t in = std::size_t(batch) * Geo::h * Geo::w * K::Cs;
    const auto x = random_floats(in, 3, 0.0f, 1.0f);
    bytes64 xs(in * 2), y(std::size_t(batch) * Geo::oh * Geo::ow * K::Fs * 2);
    ks::to_bf16(x.data(), xs.as<ks::bf16_t>(), std::int64_t(in));
    for (auto _ : state) {
      K::template run<ks::epilogue_relu>(packed.as<ks::bf16_t>(), pbias.as<float>(), xs.as<ks::bf16_t>(),
                                         y.as<ks::bf16_t>(), zeros.as<ks::bf16_t>(), batch, 0, K::items(batch));
      benchmark::ClobberMemory();
    }
  } else {
    using K = ks::conv_int8_kernel<Geo, std::uint8_t>;
    bytes64 packed(K::packed_bytes), sums(K::sum_ints * 4), mul(K::channel_floats * 4), pbias(K::channel_floats * 4);
    const ks::act_quant a = ks::act_quant_for_range(0.0f, 1.0f);
    K::pack(w.data(), bias.data(), a.scale, packed.as<std::int8_t>(), sums.as<std::int32_t>(), mul.as<float>(),
            pbias.as<float>());
    const ks::int8_weights k{packed.as<std::int8_t>(), sums.as<std::int32_t>(), mul.as<float>(), pbias.as<float>()};
    const std::size_t in = std::size_t(batch) * Geo::h * Geo::w * K::Cs;
    const auto x = random_floats(in, 3, 0.0f, 1.0f);
    bytes64 xs(in), y(std::size_t(batch) * Geo::oh * Geo::ow * K::Fs), pad(K::pad_bytes);
    ks::quantize_row(x.data(), xs.as<std::uint8_t>(), std::int64_t(in), a);
    const ks::out_quant oq{1.0f / 0.05f, 0};
    for (auto _ : state) {
      K::template run<ks::epilogue_relu>(k, xs.as<std::uint8_t>(), a.zero, y.as<std::uint8_t>(), oq,
                                         pad.as<std::uint8_t>(), batch, 0, K::items(batch));
      benchmark::ClobberMemory();
    }
  }
  state.counters["GOP_per_s"] =
      benchmark::Counter(conv_ops<Geo>(batch) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

template <int In, int Out, class Format>
void BM_dense(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const auto w = random_floats(std::size_t(Out) * In, 4, -0.05f, 0.05f);
  const auto bias = random_floats(Out, 5, -0.1f, 0.1f);
  const auto x = random_floats(std::size_t(batch) * In, 6, 0.0f, 1.0f);
  if constexpr (std::is_same_v<Format, bf16_format>) {
    using K = ks::dense_bf16_kernel<In, Out, ks::bf16_t>;
    bytes64 packed(K::packed_elems * 2), pbias(K::bias_floats * 4), xs(std::size_t(batch) * In * 2),
        panel(K::panel_pairs(batch) * 4), y(std::size_t(batch) * K::Outs * 2);
    K::pack(w.data(), bias.data(), packed.as<ks::bf16_t>(), pbias.as<float>());
    ks::to_bf16(x.data(), xs.as<ks::bf16_t>(), std::int64_t(batch) * In);
    for (auto _ : state) {
      if (batch > 1)
        K::make_panel(xs.as<ks::bf16_t>(), panel.as<std::uint32_t>(), batch, 0,
                      ks::ceil_div(batch, K::tile_rows) * K::tile_rows);
      K::template run<ks::epilogue_relu>(packed.as<ks::bf16_t>(), pbias.as<float>(), xs.as<ks::bf16_t>(),
                                         panel.as<std::uint32_t>(), y.as<ks::bf16_t>(), batch, 0, 1);
      benchmark::ClobberMemory();
    }
  } else {
    using K = ks::dense_int8_kernel<In, Out, std::uint8_t>;
    bytes64 packed(K::packed_bytes), sums(K::channel_floats * 4), mul(K::channel_floats * 4),
        pbias(K::channel_floats * 4), xs(std::size_t(batch) * In), panel(K::panel_quads(batch) * 4),
        y(std::size_t(batch) * K::Outs);
    const ks::act_quant a = ks::act_quant_for_range(0.0f, 1.0f);
    K::pack(w.data(), bias.data(), a.scale, packed.as<std::int8_t>(), sums.as<std::int32_t>(), mul.as<float>(),
            pbias.as<float>());
    const ks::int8_weights k{packed.as<std::int8_t>(), sums.as<std::int32_t>(), mul.as<float>(), pbias.as<float>()};
    ks::quantize_row(x.data(), xs.as<std::uint8_t>(), std::int64_t(batch) * In, a);
    const ks::out_quant oq{1.0f / 0.05f, 0};
    for (auto _ : state) {
      if (batch > 1)
        K::make_panel(xs.as<std::uint8_t>(), panel.as<std::uint32_t>(), batch, 0,
                      ks::ceil_div(batch, K::tile_rows) * K::tile_rows);
      K::template run<ks::epilogue_relu>(k, a.zero, xs.as<std::uint8_t>(), panel.as<std::uint32_t>(),
                                         y.as<std::uint8_t>(), oq, batch, 0, 1);
      benchmark::ClobberMemory();
    }
  }
  state.counters["GOP_per_s"] =
      benchmark::Counter(2.0 * batch * In * Out * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

#define TYPENET_CONV(L)                                                                         \
  BENCHMARK_TEMPLATE(BM_conv, L, bf16_format)->ArgName("batch")->Arg(1)->Arg(8)->UseRealTime(); \
  BENCHMARK_TEMPLATE(BM_conv, L, int8_format)->ArgName("batch")->Arg(1)->Arg(8)->UseRealTime();
TYPENET_CONV(conv1)
TYPENET_CONV(conv2)
TYPENET_CONV(conv3)
#undef TYPENET_CONV
BENCHMARK_TEMPLATE(BM_dense, 9216, 4096, bf16_format)->ArgName("batch")->Arg(1)->Arg(64)->UseRealTime();
BENCHMARK_TEMPLATE(BM_dense, 9216, 4096, int8_format)->ArgName("batch")->Arg(1)->Arg(64)->UseRealTime();
BENCHMARK_TEMPLATE(BM_dense, 4096, 4096, bf16_format)->ArgName("batch")->Arg(1)->Arg(64)->UseRealTime();
BENCHMARK_TEMPLATE(BM_dense, 4096, 4096, int8_format)->ArgName("batch")->Arg(1)->Arg(64)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  if (!ks::cpu_has_bf16() || !ks::cpu_has_vnni()) {
    std::puts("bench_typenet_int8: this CPU lacks AVX512_BF16 or AVX512_VNNI; nothing to measure");
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}

#else

int main() {
  std::puts("bench_typenet_int8: built without AVX512_BF16 or AVX512_VNNI (TYPENET_HAS_BF16, TYPENET_HAS_VNNI)");
}

#endif
