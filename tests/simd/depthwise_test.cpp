// kernels/simd/depthwise.hpp against a double-precision sum computed here, on rows wide enough for the
// strip path (up to 8 output pixels with AVX-512, 6 with AVX2, the window's weights in registers) in several
// cuts, the edge columns in the padding, strides 1 and 2, no padding, a partial last channel vector, a 5x5
// window (the per-pixel path only), each epilogue and the residual add. Items are split unevenly, as threads
// split them.
//
// Tolerance from the arithmetic: a float sum of KH * KW products plus the bias and the residual is within
// (KH * KW + 3) * u * sum |terms| of the exact sum (u = 2^-24; test::conv_case).
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <typenet/kernels/simd/conv2d.hpp>
#include <typenet/kernels/simd/depthwise.hpp>

#include "simd_util.hpp"

namespace ks = typenet::kernels::simd;
using typenet::test::conv_case;

namespace {

template <int C, int H, int W, int K, int S, int P>
using dw_geo = ks::conv_geometry<C, H, W, C, (H + 2 * P - K) / S + 1, (W + 2 * P - K) / S + 1, K, K, S, S, P, P, C>;

template <class Geo, class Epilogue, bool Add>
void check(int batch, double lo, double hi, std::uint64_t seed) {
  using K = ks::depthwise_kernel<Geo, xsimd::default_arch>;
  const conv_case<Geo> t(batch, seed);
  auto packed = typenet::detail::make_aligned_floats(std::int64_t(K::packed_floats));
  auto packed_bias = typenet::detail::make_aligned_floats(std::int64_t(K::packed_bias_floats));
  K::pack(t.w.data(), t.bias.data(), packed.get(), packed_bias.get());
  std::vector<float> out = t.output();
  const std::int64_t items = K::items(batch), cut = items / 3;
  K::template run<Epilogue, Add>(packed.get(), packed_bias.get(), t.in.data(), out.data(), 0, cut,
                                 Add ? t.res.data() : nullptr);
  K::template run<Epilogue, Add>(packed.get(), packed_bias.get(), t.in.data(), out.data(), cut, items,
                                 Add ? t.res.data() : nullptr);
  t.expect(out, Add, lo, hi,
           "C " + std::to_string(Geo::c) + ", " + std::to_string(Geo::h) + "x" + std::to_string(Geo::w) + ", " +
               std::to_string(Geo::kh) + "x" + std::to_string(Geo::kw) + " stride " + std::to_string(Geo::sh) +
               " pad " + std::to_string(Geo::ph));
}

template <class Geo>
void check_epilogues(std::uint64_t seed) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  check<Geo, ks::epilogue_none, false>(2, -inf, inf, seed);
  check<Geo, ks::epilogue_relu, true>(1, 0.0, inf, seed + 1);
  check<Geo, ks::epilogue_relu6, false>(3, 0.0, 6.0, seed + 2);
  check<Geo, ks::epilogue_relu6, true>(2, 0.0, 6.0, seed + 3);
}

}  // namespace

TEST_CASE("depthwise_kernel: strips, edges and tails against a double sum") {
  check_epilogues<dw_geo<32, 5, 21, 3, 1, 1>>(10);  // 19 interior columns: strips of 7, 7, 5 (AVX2: 5, 5, 5, 4)
  check_epilogues<dw_geo<16, 4, 18, 3, 1, 1>>(15);  // 16 interior columns: 2 full strips of 8 (AVX2: 6, 6, 4)
  check_epilogues<dw_geo<16, 4, 12, 3, 1, 0>>(20);  // no padding: every column interior (2 strips of 5)
  check_epilogues<dw_geo<20, 6, 19, 3, 2, 1>>(30);  // stride 2, a partial channel vector (4 of 16)
  check_epilogues<dw_geo<48, 3, 40, 3, 2, 0>>(40);  // stride 2, no padding: 19 columns
  check_epilogues<dw_geo<96, 7, 7, 3, 1, 1>>(45);   // 7 x 7 (MobileNetV2's last stage): one strip of 5
  check_epilogues<dw_geo<36, 7, 23, 5, 1, 2>>(50);  // 5x5: the per-pixel path, channel tail
  check_epilogues<dw_geo<64, 2, 2, 3, 1, 1>>(60);   // no interior column at all
}
