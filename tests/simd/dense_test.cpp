// Tests of kernels::simd::dense_kernel against a naive loop accumulated in double.
//
// For every shape: batches 1, 2, 3, 7, 9, 64 and 130 (the GEMV path; the GEMM path with a partial tile,
// one full tile plus a partial one, one full group of row tiles, several groups), both epilogues, and parts 1..3: each
// part is run alone on a sentinel-filled output, and the outputs the parts write must be disjoint and cover everything.
// Tolerance: rtol 1e-4 of |bias| + sum |w||x| per output.
#include <doctest/doctest.h>

#include <typenet/kernels/simd/dense.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <random>
#include <thread>
#include <vector>

namespace {

namespace ks = typenet::kernels::simd;

struct aligned_buffer {
  float* p = nullptr;
  std::size_t n = 0;
  explicit aligned_buffer(std::size_t count) : n(count) {
    p = static_cast<float*>(::operator new[]((count ? count : 1) * sizeof(float), std::align_val_t{64}));
  }
  ~aligned_buffer() { ::operator delete[](p, std::align_val_t{64}); }
  aligned_buffer(const aligned_buffer&) = delete;
  aligned_buffer& operator=(const aligned_buffer&) = delete;
  float& operator[](std::size_t i) { return p[i]; }
  const float& operator[](std::size_t i) const { return p[i]; }
};

void fill_uniform(aligned_buffer& b, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (std::size_t i = 0; i < b.n; ++i) b[i] = d(gen);
}

constexpr float sentinel = 1.0e30f;  // unreachable: |y| <= In + 1 with inputs in [-1, 1]

struct expected {
  std::vector<double> value, scale;  // scale = |bias| + sum |w||x|
};

template <bool Relu>
expected naive(int in, int out, int batch, const aligned_buffer& w, const aligned_buffer& bias,
               const aligned_buffer& x) {
  expected e{std::vector<double>(std::size_t(batch) * out), std::vector<double>(std::size_t(batch) * out)};
  for (int b = 0; b < batch; ++b)
    for (int o = 0; o < out; ++o) {
      double s = bias[std::size_t(o)], a = std::fabs(double(bias[std::size_t(o)]));
      for (int i = 0; i < in; ++i) {
        const double wv = w[std::size_t(o) * in + i], xv = x[std::size_t(b) * in + i];
        s += wv * xv;
        a += std::fabs(wv * xv);
      }
      if (Relu && s < 0) s = 0;
      e.value[std::size_t(b) * out + o] = s;
      e.scale[std::size_t(b) * out + o] = a;
    }
  return e;
}

void compare(const expected& e, const aligned_buffer& y, int in, int out, int batch) {
  int bad = 0;
  for (std::size_t k = 0; k < std::size_t(batch) * out; ++k) {
    const double got = y[k], want = e.value[k];
    bool ok;
    if (std::isnan(want))
      ok = std::isnan(got);
    else if (std::isinf(want))
      ok = got == want;
    else
      ok = std::fabs(got - want) <= 1e-4 * e.scale[k] + 1e-30;
    if (!ok && ++bad <= 5)
      FAIL_CHECK("In=" << in << " Out=" << out << " batch=" << batch << " b=" << k / out << " o=" << k % out << ": got "
                       << got << ", want " << want << " (scale " << e.scale[k] << ")");
  }
  CHECK(bad == 0);
}

template <int In, int Out, class Arch, class Ep>
void check_batch(const aligned_buffer& w, const aligned_buffer& packed, const aligned_buffer& bias, int batch,
                 int max_parts) {
  using kernel = ks::dense_kernel<In, Out, Arch>;
  constexpr bool relu = std::is_same_v<Ep, ks::epilogue_relu>;
  aligned_buffer x(std::size_t(batch) * In), y(std::size_t(batch) * Out);
  fill_uniform(x, std::uint32_t(1000 + batch * 7 + In));
  const expected e = naive<relu>(In, Out, batch, w, bias, x);
  for (int parts = 1; parts <= max_parts; ++parts) {
    std::vector<int> writer(std::size_t(batch) * Out, -1);
    aligned_buffer result(std::size_t(batch) * Out);
    for (int part = 0; part < parts; ++part) {
      for (std::size_t k = 0; k < y.n; ++k) y[k] = sentinel;
      kernel::template run<Ep>(packed.p, bias.p, x.p, y.p, batch, part, parts);
      for (std::size_t k = 0; k < y.n; ++k)
        if (y[k] != sentinel) {
          if (writer[k] != -1)
            FAIL_CHECK("output " << k << " written by parts " << writer[k] << " and " << part << " of " << parts);
          writer[k] = part;
          result[k] = y[k];
        }
    }
    int unwritten = 0;
    for (int wr : writer) unwritten += wr == -1;
    INFO("In=" << In << " Out=" << Out << " batch=" << batch << " parts=" << parts);
    CHECK(unwritten == 0);
    if (unwritten == 0) compare(e, result, In, Out, batch);
  }
}

template <int In, int Out, class Arch = xsimd::default_arch>
void check_shape(std::initializer_list<int> batches, int max_parts = 3) {
  using kernel = ks::dense_kernel<In, Out, Arch>;
  aligned_buffer w(static_cast<std::size_t>(In) * Out), bias(Out), packed(kernel::packed_floats);
  fill_uniform(w, 1u + In * 31u + Out);
  fill_uniform(bias, 7u + Out);
  kernel::pack(w.p, packed.p);
  for (int batch : batches) {
    check_batch<In, Out, Arch, ks::epilogue_none>(w, packed, bias, batch, max_parts);
    check_batch<In, Out, Arch, ks::epilogue_relu>(w, packed, bias, batch, max_parts);
  }
}

constexpr std::initializer_list<int> all_batches = {1, 2, 3, 7, 9, 64, 130};  // 130: three row groups

}  // namespace

TEST_CASE("dense_kernel: tiny and ragged shapes") {
  check_shape<1, 1>(all_batches);
  check_shape<1, 7>(all_batches);
  check_shape<7, 1>(all_batches);
  check_shape<16, 16>(all_batches);
  check_shape<17, 17>(all_batches);
  check_shape<7, 100>(all_batches);
  check_shape<100, 7>(all_batches);
  check_shape<17, 1000>(all_batches);
  check_shape<1000, 17>(all_batches);
  check_shape<257, 33>(all_batches);  // one full input chunk plus one index; one full block plus one row
  check_shape<512, 64>(all_batches);  // whole chunks and whole blocks
}

TEST_CASE("dense_kernel: lenet5 shapes 400->120->84->10") {
  check_shape<400, 120>(all_batches);
  check_shape<120, 84>(all_batches);
  check_shape<84, 10>(all_batches);
}

TEST_CASE("dense_kernel: AlexNet shapes") {
  check_shape<4096, 1000>({1, 2, 3, 7, 64});
  check_shape<4096, 4096>({1, 3}, 2);
  check_shape<9216, 4096>({1, 2}, 2);
}

#if XSIMD_WITH_AVX2 && XSIMD_WITH_AVX512F
TEST_CASE("dense_kernel: the AVX2 geometry (16-row blocks, 6-row tiles)") {
  check_shape<1, 1, xsimd::avx2>(all_batches);
  check_shape<17, 17, xsimd::avx2>(all_batches);
  check_shape<257, 33, xsimd::avx2>(all_batches);
  check_shape<400, 120, xsimd::avx2>(all_batches);
  check_shape<84, 10, xsimd::avx2>(all_batches);
}
#endif

TEST_CASE("dense_kernel: NaN and infinity propagate") {
  constexpr int In = 100, Out = 40, batch = 9;
  using kernel = ks::dense_kernel<In, Out>;
  aligned_buffer w(static_cast<std::size_t>(In) * Out), bias(Out), packed(kernel::packed_floats);
  aligned_buffer x(std::size_t(batch) * In), y(std::size_t(batch) * Out);
  fill_uniform(w, 3);
  fill_uniform(bias, 4);
  fill_uniform(x, 5);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  w[std::size_t(5) * In + 17] = nan;  // output 5 is NaN in every row
  bias[33] = inf;                     // output 33 is +inf in every row (unless it meets a NaN)
  x[std::size_t(2) * In + 99] = nan;  // row 2 is NaN everywhere
  kernel::pack(w.p, packed.p);
  for (int b1 : {1, batch}) {
    for (int relu = 0; relu < 2; ++relu) {
      for (std::size_t k = 0; k < y.n; ++k) y[k] = sentinel;
      if (relu)
        kernel::run<ks::epilogue_relu>(packed.p, bias.p, x.p, y.p, b1, 0, 1);
      else
        kernel::run<ks::epilogue_none>(packed.p, bias.p, x.p, y.p, b1, 0, 1);
      for (int b = 0; b < b1; ++b)
        for (int o = 0; o < Out; ++o) {
          const float v = y[std::size_t(b) * Out + o];
          INFO("batch=" << b1 << " relu=" << relu << " b=" << b << " o=" << o);
          if (b == 2 || o == 5)
            CHECK(std::isnan(v));
          else if (o == 33)
            CHECK(v == inf);
          else
            CHECK(std::isfinite(v));
        }
    }
  }
  // The padded rows 40..63 of the packed block meet the NaN input too; they must not leak anywhere.
  CHECK(kernel::packed_floats == std::size_t(kernel::blocks) * kernel::block * In);
}

TEST_CASE("dense_kernel: parts on concurrent threads give the single-part result") {
  constexpr int In = 1000, Out = 300;
  using kernel = ks::dense_kernel<In, Out>;
  aligned_buffer w(static_cast<std::size_t>(In) * Out), bias(Out), packed(kernel::packed_floats);
  fill_uniform(w, 11);
  fill_uniform(bias, 12);
  kernel::pack(w.p, packed.p);
  for (int batch : {1, 64}) {
    aligned_buffer x(std::size_t(batch) * In), y1(std::size_t(batch) * Out), y3(std::size_t(batch) * Out);
    fill_uniform(x, 13);
    kernel::run<ks::epilogue_relu>(packed.p, bias.p, x.p, y1.p, batch, 0, 1);
    std::vector<std::thread> threads;
    for (int part = 0; part < 3; ++part)
      threads.emplace_back([&, part] { kernel::run<ks::epilogue_relu>(packed.p, bias.p, x.p, y3.p, batch, part, 3); });
    for (auto& t : threads) t.join();
    int diff = 0;
    for (std::size_t k = 0; k < y1.n; ++k) diff += y1[k] != y3[k];
    CHECK(diff == 0);  // same blocks, same order of summation: bit-identical
  }
}

TEST_CASE("dense_kernel: bad part arguments throw") {
  using kernel = ks::dense_kernel<16, 16>;
  aligned_buffer packed(kernel::packed_floats), bias(16), x(16), y(16);
  CHECK_THROWS_AS(kernel::run<ks::epilogue_none>(packed.p, bias.p, x.p, y.p, 1, 2, 2), std::invalid_argument);
  CHECK_THROWS_AS(kernel::run<ks::epilogue_none>(packed.p, bias.p, x.p, y.p, 1, 0, 0), std::invalid_argument);
  CHECK_THROWS_AS(kernel::run<ks::epilogue_none>(packed.p, bias.p, x.p, y.p, -1, 0, 1), std::invalid_argument);
}
