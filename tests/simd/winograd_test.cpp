// Tests of kernels/simd/winograd.hpp (Winograd F(2x2, 3x3) and F(4x4, 3x3), stride 1, pad 1) against a
// naive direct convolution on NHWC accumulated in double.
//
// For every shape, batch 1..3, parts 1..3 and both epilogues:
//   * each part alone, on an output filled with a sentinel: exactly the pixels of its tiles change, and
//     they match the reference;
//   * all parts at once on their own std::threads (own workspaces): every pixel matches.
// Tolerance: |got - ref| <= 1e-4 + 1e-3 * (sum |w||x| + |b|) over the taps of that output.
#include <doctest/doctest.h>

#include <typenet/kernels/simd/conv2d.hpp>
#include <typenet/kernels/simd/winograd.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

namespace ks = typenet::kernels::simd;

// Which layers the programs run as Winograd (winograd_suits): 3x3 / stride 1 / pad 1 / one group, 16
// channels in and out, and at least 25 output tiles of 2 x 2 per image.
template <int C, int H, int W, int F, int S = 1, int P = 1, int G = 1>
using geo3 = ks::conv_geometry<C, H, W, F, (H + 2 * P - 3) / S + 1, (W + 2 * P - 3) / S + 1, 3, 3, S, S, P, P, G>;
static_assert(ks::winograd_suits<geo3<256, 13, 13, 384>>);          // the seed AlexNet's conv3: 49 tiles
static_assert(ks::winograd_suits<geo3<16, 9, 10, 16>>);             // 5 x 5 = 25 tiles, the least
static_assert(!ks::winograd_suits<geo3<16, 8, 10, 16>>);            // 4 x 5 = 20
static_assert(!ks::winograd_suits<geo3<512, 7, 7, 512>>);           // ResNet-50's layer4: 16 tiles
static_assert(!ks::winograd_suits<geo3<15, 13, 13, 16>>);           // too few input channels
static_assert(!ks::winograd_suits<geo3<16, 13, 13, 16, 2>>);        // stride 2
static_assert(!ks::winograd_suits<geo3<16, 13, 13, 16, 1, 0>>);     // no padding
static_assert(!ks::winograd_suits<geo3<32, 13, 13, 32, 1, 1, 2>>);  // two groups
// Which of them take F(4x4, 3x3): at least 25 output tiles of 4 x 4 per image.
static_assert(ks::winograd_tile<geo3<128, 28, 28, 128>> == 4);  // ResNet-50's layer2: 49 tiles
static_assert(ks::winograd_tile<geo3<16, 17, 20, 16>> == 4);    // 5 x 5 tiles, the least
static_assert(ks::winograd_tile<geo3<16, 16, 20, 16>> == 2);    // 4 x 5
static_assert(ks::winograd_tile<geo3<256, 14, 14, 256>> == 2);  // ResNet-50's layer3: 16 tiles
static_assert(ks::winograd_tile<geo3<256, 13, 13, 384>> == 2);  // the seed AlexNet's conv3

struct aligned_buf {
  float* p;
  std::size_t n;
  explicit aligned_buf(std::size_t count)
      : p(static_cast<float*>(::operator new[]((count ? count : 1) * sizeof(float), std::align_val_t{64}))), n(count) {}
  ~aligned_buf() { ::operator delete[](p, std::align_val_t{64}); }
  aligned_buf(const aligned_buf&) = delete;
  aligned_buf& operator=(const aligned_buf&) = delete;
};

void fill(std::vector<float>& v, std::uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  for (float& x : v) x = d(gen);
}

/// ref[n][y][x][f] = bias + conv, scale = sum |w||x| + |b| (both NHWC).
void reference(int C, int H, int W, int F, int batch, const std::vector<float>& w, const std::vector<float>& b,
               const std::vector<float>& in, std::vector<double>& ref, std::vector<double>& scale) {
  ref.assign(std::size_t(batch) * H * W * F, 0.0);
  scale.assign(ref.size(), 0.0);
  std::vector<double> acc(F), mag(F);
  for (int n = 0; n < batch; ++n)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        for (int f = 0; f < F; ++f) acc[f] = b[f], mag[f] = std::abs(double(b[f]));
        for (int kh = 0; kh < 3; ++kh)
          for (int kw = 0; kw < 3; ++kw) {
            const int iy = y + kh - 1, ix = x + kw - 1;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            const float* px = in.data() + ((std::size_t(n) * H + iy) * W + ix) * C;
            for (int f = 0; f < F; ++f) {
              const float* wf = w.data() + std::size_t(f) * C * 9 + kh * 3 + kw;
              double s = 0, m = 0;
              for (int c = 0; c < C; ++c) {
                const double p = double(px[c]) * double(wf[std::size_t(c) * 9]);
                s += p;
                m += std::abs(p);
              }
              acc[f] += s;
              mag[f] += m;
            }
          }
        const std::size_t o = ((std::size_t(n) * H + y) * W + x) * F;
        for (int f = 0; f < F; ++f) ref[o + f] = acc[f], scale[o + f] = mag[f];
      }
}

constexpr float sentinel = -7.75e30f;

template <int C, int H, int W, int F, int M = 2>
void check_shape() {
  using K = ks::winograd_3x3<C, H, W, F, xsimd::default_arch, M>;
  constexpr int max_batch = 3;
  std::vector<float> w(static_cast<std::size_t>(F) * C * 9), b(F), in(static_cast<std::size_t>(max_batch) * H * W * C);
  fill(w, 11u + C, -1.0f, 1.0f);
  fill(b, 12u + F, -1.0f, 1.0f);
  fill(in, 13u + H * W, -1.0f, 1.0f);
  aligned_buf packed(K::packed_floats);
  K::pack(w.data(), packed.p);
  std::vector<double> ref, scale;
  reference(C, H, W, F, max_batch, w, b, in, ref, scale);  // batches 1, 2 are prefixes of batch 3
  constexpr std::size_t image = std::size_t(H) * W * F;

  for (int batch = 1; batch <= max_batch; ++batch)
    for (int parts = 1; parts <= 3; ++parts)
      for (int relu = 0; relu < 2; ++relu) {
        CAPTURE(M);
        CAPTURE(C);
        CAPTURE(H);
        CAPTURE(W);
        CAPTURE(F);
        CAPTURE(batch);
        CAPTURE(parts);
        CAPTURE(relu);
        const std::size_t n_out = batch * image;
        std::vector<float> out(n_out);
        std::vector<std::unique_ptr<aligned_buf>> ws;
        for (int p = 0; p < parts; ++p) ws.push_back(std::make_unique<aligned_buf>(K::workspace_floats_per_part));
        const auto call = [&](int p) {
          if (relu)
            K::template run<ks::epilogue_relu>(packed.p, b.data(), in.data(), out.data(), ws[p]->p, batch, p, parts);
          else
            K::template run<ks::epilogue_none>(packed.p, b.data(), in.data(), out.data(), ws[p]->p, batch, p, parts);
        };
        const auto want = [&](std::size_t i) { return relu && ref[i] < 0 ? 0.0 : ref[i]; };
        const auto close = [&](std::size_t i) { return std::abs(double(out[i]) - want(i)) <= 1e-4 + 1e-3 * scale[i]; };

        // Each part alone: exactly its tiles' pixels are written, correctly.
        for (int p = 0; p < parts; ++p) {
          std::fill(out.begin(), out.end(), sentinel);
          call(p);
          const auto [first, last] = K::part_tiles(batch, p, parts);
          std::size_t wrong_owner = 0, wrong_value = 0;
          for (int n = 0; n < batch; ++n)
            for (int y = 0; y < H; ++y)
              for (int x = 0; x < W; ++x) {
                const std::int64_t t = std::int64_t(n) * K::tiles_per_image + (y / M) * K::TW + x / M;
                const bool mine = t >= first && t < last;
                for (int f = 0; f < F; ++f) {
                  const std::size_t i = ((std::size_t(n) * H + y) * W + x) * F + f;
                  if (!mine)
                    wrong_owner += out[i] != sentinel;
                  else if (out[i] == sentinel)
                    ++wrong_owner;
                  else
                    wrong_value += !close(i);
                }
              }
          CAPTURE(p);
          CHECK(wrong_owner == 0);
          CHECK(wrong_value == 0);
        }

        // All parts at once, each on its own thread.
        std::fill(out.begin(), out.end(), sentinel);
        {
          std::vector<std::thread> threads;
          for (int p = 1; p < parts; ++p) threads.emplace_back(call, p);
          call(0);
          for (auto& t : threads) t.join();
        }
        std::size_t bad = 0;
        double worst = 0;
        for (std::size_t i = 0; i < n_out; ++i) {
          if (!close(i)) ++bad;
          worst = std::max(worst, std::abs(double(out[i]) - want(i)) / (1.0 + scale[i]));
        }
        INFO("max |got - ref| / (1 + scale) = " << worst);
        CHECK(bad == 0);
      }
}

/// Shapes with one pixel, odd extents, partial f-blocks and channel tails, for output tiles of M x M.
template <int M>
void tiny_and_odd_shapes() {
  check_shape<3, 1, 1, 5, M>();
  check_shape<5, 2, 3, 17, M>();
  check_shape<17, 7, 6, 33, M>();
  check_shape<16, 8, 8, 16, M>();
  check_shape<7, 5, 9, 70, M>();    // two f-blocks of 64, the second partial
  check_shape<33, 3, 2, 130, M>();  // three f-blocks, C past a vector
  check_shape<1, 4, 1, 1, M>();
}

}  // namespace

TEST_CASE("winograd_3x3: tiny and odd shapes") { tiny_and_odd_shapes<2>(); }

TEST_CASE("winograd_3x3: AlexNet conv3, conv4, conv5 (13 x 13)") {
  check_shape<256, 13, 13, 384>();
  check_shape<384, 13, 13, 384>();
  check_shape<384, 13, 13, 256>();
}

TEST_CASE("winograd_3x3 F(4x4, 3x3): tiny and odd shapes (clipped tiles in both directions)") {
  tiny_and_odd_shapes<4>();
  check_shape<16, 9, 10, 16, 4>();
}

TEST_CASE("winograd_3x3 F(4x4, 3x3): AlexNet conv3, ResNet-50's layer2 3x3 (28 x 28), 17 x 20 and 7 x 7 maps") {
  check_shape<256, 13, 13, 384, 4>();
  check_shape<128, 28, 28, 128, 4>();
  check_shape<24, 17, 20, 40, 4>();
  check_shape<32, 7, 7, 48, 4>();  // ResNet's layer4 in small: 2 x 2 tiles, the last row and column clipped
}

TEST_CASE("winograd_3x3: zero batch and argument checks") {
  using K = ks::winograd_3x3<4, 3, 3, 4>;
  std::vector<float> w(4 * 4 * 9, 0.5f), b(4, 0.f), in(36, 1.f), out(36, sentinel);
  std::vector<float> packed(K::packed_floats), ws(K::workspace_floats_per_part);
  K::pack(w.data(), packed.data());
  K::run<ks::epilogue_none>(packed.data(), b.data(), in.data(), out.data(), ws.data(), 0, 0, 1);
  CHECK(out[0] == sentinel);
  CHECK_THROWS_AS(K::run<ks::epilogue_none>(packed.data(), b.data(), in.data(), out.data(), ws.data(), 1, 2, 2),
                  std::invalid_argument);
  CHECK_THROWS_AS(K::run<ks::epilogue_none>(packed.data(), b.data(), in.data(), out.data(), ws.data(), 1, 0, 0),
                  std::invalid_argument);
  // bias == nullptr means zero bias; a NaN input stays NaN through the ReLU epilogue.
  K::run<ks::epilogue_relu>(packed.data(), nullptr, in.data(), out.data(), ws.data(), 1, 0, 1);
  CHECK(out[4 * 4] == doctest::Approx(0.5 * 9 * 4));  // centre pixel: 9 taps x 4 channels x 0.5
  in[4 * 4] = std::nanf("");
  K::run<ks::epilogue_relu>(packed.data(), nullptr, in.data(), out.data(), ws.data(), 1, 0, 1);
  CHECK(std::isnan(out[4 * 4]));
}
