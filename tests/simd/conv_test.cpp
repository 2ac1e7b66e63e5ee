// kernels/simd/conv2d.hpp (the direct convolution) against a double-precision sum computed here, on both of
// its tile paths: tiles compiled for the layer's shape (conv_kernel::specialised: short reductions, one-vector
// blocks) and tiles shared by every layer with the same register tile, which read the strides at run time
// (1x1 over many channels, strided and padded 3x3 and 5x5, two groups of more than 64 channels). Each with a
// partial last channel block where the vector width allows, the padding columns, every epilogue and the
// residual add; items are split unevenly, as threads split them.
//
// Tolerance from the arithmetic: a float sum of KH * KW * C/G products plus the bias and the residual is
// within (KH * KW * C/G + 3) * u * sum |terms| of the exact sum (u = 2^-24; test::conv_case).
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <typenet/kernels/simd/conv2d.hpp>

#include "simd_util.hpp"

namespace ks = typenet::kernels::simd;
using typenet::test::conv_case;

namespace {

template <int C, int H, int W, int F, int K, int S, int P, int G = 1>
using geo = ks::conv_geometry<C, H, W, F, (H + 2 * P - K) / S + 1, (W + 2 * P - K) / S + 1, K, K, S, S, P, P, G>;

template <class Geo, class Arch = xsimd::default_arch>
using kernel = ks::conv_kernel<Geo, Arch>;

template <class Geo, class Epilogue, bool Add, class Arch>
void check(int batch, double lo, double hi, std::uint64_t seed) {
  using K = kernel<Geo, Arch>;
  const conv_case<Geo> t(batch, seed);
  auto packed = typenet::detail::make_aligned_floats(std::int64_t(K::packed_floats));
  auto packed_bias = typenet::detail::make_aligned_floats(std::int64_t(K::packed_bias_floats));
  K::pack(t.w.data(), t.bias.data(), packed.get(), packed_bias.get());
  std::vector<float> zeros(K::zero_floats, 0.f), out = t.output();
  const std::int64_t items = K::items(batch), cut = items / 3;
  for (auto [b, e] : {std::pair{std::int64_t{0}, cut}, std::pair{cut, items}})
    K::template run<Epilogue, Add>(packed.get(), packed_bias.get(), t.in.data(), out.data(), zeros.data(), batch, b, e,
                                   Add ? t.res.data() : nullptr);
  t.expect(out, Add, lo, hi,
           "C " + std::to_string(Geo::c) + " -> F " + std::to_string(Geo::f) + " (groups " + std::to_string(Geo::g) +
               "), " + std::to_string(Geo::h) + "x" + std::to_string(Geo::w) + ", " + std::to_string(Geo::kh) + "x" +
               std::to_string(Geo::kw) + " stride " + std::to_string(Geo::sh) + " pad " + std::to_string(Geo::ph) +
               ", " + Arch::name() + ", specialised " + std::to_string(K::specialised) + ", NB " +
               std::to_string(K::NB) + ", rows of " + std::to_string(K::row_merge) + ", " +
               std::to_string(K::big_tiles) + " tiles of " + std::to_string(K::tile) + " and " +
               std::to_string(K::tiles - K::big_tiles) + " of " + std::to_string(K::small_tile));
}

template <class Geo, class Arch>
void check_epilogues_on(std::uint64_t seed) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  check<Geo, ks::epilogue_none, false, Arch>(2, -inf, inf, seed);
  check<Geo, ks::epilogue_relu, false, Arch>(1, 0.0, inf, seed + 1);
  check<Geo, ks::epilogue_relu, true, Arch>(3, 0.0, inf, seed + 2);
  check<Geo, ks::epilogue_relu6, true, Arch>(2, 0.0, 6.0, seed + 3);
}

// AVX2's tiles (16 registers: 2 x 6 and 13 x 1 tiles, even tile sizes, merged rows of 1x1 layers) are also
// run where the build targets AVX-512, whose CPUs run AVX2 code too.
#if XSIMD_WITH_AVX512F && XSIMD_WITH_FMA3_AVX2
using avx2 = xsimd::fma3<xsimd::avx2>;
#else
using avx2 = void;
#endif

template <class Geo>
void check_epilogues(std::uint64_t seed) {
  check_epilogues_on<Geo, xsimd::default_arch>(seed);
  if constexpr (!std::is_void_v<avx2>) check_epilogues_on<Geo, avx2>(seed + 100);
}

// Tiles shared across layer shapes (strides at run time). F = 80 is 3 vectors of 16 per block with AVX-512
// (two blocks, the second partial), 2 of 8 with AVX2: at least two vectors on every target, so the rule
// of conv_kernel::specialised leaves these shared.
using shared_1x1 = geo<96, 5, 23, 80, 1, 1, 0>;        // 1x1 over 96 channels, 23 columns
using shared_3x3_s2 = geo<32, 11, 13, 64, 3, 2, 1>;    // padding tiles, stride 2
using shared_5x5 = geo<24, 6, 17, 80, 5, 1, 2>;        // 5 x 24 floats per kernel row, pad 2
using shared_groups = geo<160, 5, 9, 64, 3, 1, 1, 2>;  // two groups of 80 channels (kw-by-kw runs)
using shared_1x1_s2 = geo<128, 9, 15, 64, 1, 2, 0>;    // strided 1x1 (a projection shortcut)
static_assert(!kernel<shared_1x1>::specialised && !kernel<shared_3x3_s2>::specialised &&
              !kernel<shared_5x5>::specialised && !kernel<shared_groups>::specialised &&
              !kernel<shared_1x1_s2>::specialised);
// Tiles compiled for the shape: short reductions.
using fixed_3x3 = geo<7, 6, 19, 40, 3, 1, 1>;    // 3 x 7 floats per kernel row
using fixed_stem = geo<3, 15, 21, 32, 7, 2, 3>;  // a stem: 7x7 / 2 over 3 channels
using fixed_1x1 = geo<64, 4, 13, 48, 1, 1, 0>;   // exactly 64 floats per kernel row
static_assert(kernel<fixed_3x3>::specialised && kernel<fixed_stem>::specialised && kernel<fixed_1x1>::specialised);

// The AVX2 (16-register) geometry, checked at compile time on every target: tiles as even as can be, short
// rows of 1x1 layers merged, and which layers keep their rows.
using rows_1x1_7 = geo<40, 7, 7, 40, 1, 1, 0>;     // 7 x 7: one row of 49 pixels; 40 channels: 3 blocks of 16
using rows_1x1_14 = geo<24, 14, 14, 32, 1, 1, 0>;  // 14 x 14: 7 rows of 28
using rows_3x3 = geo<16, 6, 17, 32, 3, 1, 1>;      // padded 3x3: rows stay, 17 = 6 + 6 + 5
using rows_1x1_s2 = geo<16, 14, 14, 32, 1, 2, 0>;  // strided 1x1: rows stay
using stem_3x3 = geo<3, 15, 21, 32, 3, 2, 1>;      // 3x3 stem over RGB, 9 floats per kernel row: shared tiles
template <class Geo>
using on16 = ks::conv_kernel<Geo, xsimd::fma3<xsimd::avx2>>;
#if XSIMD_WITH_FMA3_AVX2
static_assert(on16<rows_1x1_7>::row_merge == 7 && on16<rows_1x1_7>::NB == 2 && on16<rows_1x1_7>::blocks == 3 &&
              on16<rows_1x1_7>::tiles == 9 && on16<rows_1x1_7>::big_tiles == 4 && on16<rows_1x1_7>::tile == 6 &&
              on16<rows_1x1_7>::small_tile == 5);
static_assert(on16<rows_1x1_14>::row_merge == 2 && on16<rows_1x1_14>::rows_per_image == 7 &&
              on16<rows_1x1_14>::tiles == 5 && on16<rows_1x1_14>::big_tiles == 3);
static_assert(on16<rows_3x3>::row_merge == 1 && on16<rows_3x3>::big_tiles == 2 && on16<rows_3x3>::small_tile == 5);
static_assert(on16<rows_1x1_s2>::row_merge == 1 && on16<rows_1x1_s2>::rows_per_image == 7);
static_assert(on16<geo<8, 4, 56, 24, 1, 1, 0>>::NB == 3 && on16<geo<8, 4, 56, 8, 1, 1, 0>>::tile == 12);
static_assert(!on16<stem_3x3>::specialised && on16<fixed_stem>::specialised);  // a 7x7 stem (21) keeps its own
#endif

}  // namespace

TEST_CASE("conv_kernel: shared tiles (strides at run time) against a double sum") {
  check_epilogues<shared_1x1>(10);
  check_epilogues<shared_3x3_s2>(20);
  check_epilogues<shared_5x5>(30);
  check_epilogues<shared_groups>(40);
  check_epilogues<shared_1x1_s2>(50);
}

TEST_CASE("conv_kernel: tiles compiled for the layer's shape against a double sum") {
  check_epilogues<fixed_3x3>(60);
  check_epilogues<fixed_stem>(70);
  check_epilogues<fixed_1x1>(80);
}

TEST_CASE("conv_kernel: merged rows, even tiles and partial blocks against a double sum") {
  check_epilogues<stem_3x3>(85);
  check_epilogues<rows_1x1_7>(90);
  check_epilogues<rows_1x1_14>(110);
  check_epilogues<rows_3x3>(130);
  check_epilogues<rows_1x1_s2>(150);
}
