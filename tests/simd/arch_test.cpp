// exec::simd and the instruction set: the fit rule between compiled code and the running CPU (pure, so
// every case is checked whatever this machine has), and what describe<Net, simd<>>() says.
#include <doctest/doctest.h>

#include <string>

#include <typenet/exec/simd.hpp>
#include <typenet/typenet.hpp>

namespace tn = typenet;
using tn::exec::simd_arch::fit;
using tn::exec::simd_arch::fit_of;

TEST_CASE("simd_arch::fit_of: compiled code against the CPU's best instruction set") {
  constexpr unsigned sse2 = xsimd::sse2::version(), sse4_2 = xsimd::sse4_2::version(), avx = xsimd::avx::version(),
                     avx2 = xsimd::avx2::version(), avx2_fma = xsimd::fma3<xsimd::avx2>::version(),
                     avx512f = xsimd::avx512f::version(), avx512bw = xsimd::avx512bw::version();
  // The CPU lacks what the code needs: an error, not an illegal instruction.
  CHECK(fit_of(avx512bw, avx2_fma) == fit::cpu_lacks);
  CHECK(fit_of(avx2_fma, avx) == fit::cpu_lacks);
  CHECK(fit_of(avx512bw, avx512f) == fit::cpu_lacks);
  // Below AVX2 + FMA on a CPU that has them: the 2-3x trap of a compiler's default flags.
  CHECK(fit_of(sse2, avx2_fma) == fit::much_slower);
  CHECK(fit_of(sse4_2, avx512bw) == fit::much_slower);
  CHECK(fit_of(avx2, avx2_fma) == fit::much_slower);
  // Fine: the same, or a CPU without AVX2 + FMA, or AVX2 + FMA code on an AVX-512 CPU.
  CHECK(fit_of(sse2, sse2) == fit::ok);
  CHECK(fit_of(sse2, avx) == fit::ok);
  CHECK(fit_of(avx2_fma, avx2_fma) == fit::ok);
  CHECK(fit_of(avx2_fma, avx512bw) == fit::ok);
  CHECK(fit_of(avx512bw, avx512bw) == fit::ok);
}

TEST_CASE("simd_arch: this build runs here, and describe names the instruction set") {
  CHECK(fit_of(xsimd::default_arch::version(), xsimd::available_architectures().best) != fit::cpu_lacks);
  using net = tn::network<tn::input<3, 8, 8>, tn::conv2d<4, tn::kernel<3>>, tn::relu>;
  const std::string text = tn::describe<net, tn::exec::simd<>>();
  MESSAGE(text);
  CHECK(text.find(std::string("policy: exec::simd, xsimd architecture ") + xsimd::default_arch::name() +
                  " (this CPU offers " + tn::exec::simd_arch::cpu_name() + ")") != std::string::npos);
  CHECK(std::string(tn::exec::simd_arch::cpu_name()) != "none known to xsimd");
}
