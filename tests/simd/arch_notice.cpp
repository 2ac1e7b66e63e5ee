// Built for the compiler's default x86-64 target (SSE2), as a consumer project with default flags would be:
// building exec::simd programs must say once on stderr that the CPU offers more, when it does (AVX2 + FMA
// or better), and say nothing when it does not. Exit status 0 when that holds.
#include <unistd.h>
#include <cstdio>
#include <string>

#include <typenet/exec/simd.hpp>
#include <typenet/typenet.hpp>

namespace tn = typenet;
using net = tn::network<tn::input<3, 8, 8>, tn::conv2d<4, tn::kernel<3>>, tn::relu, tn::flatten, tn::dense<5>>;

int main() {
  std::FILE* capture = std::tmpfile();
  if (!capture) return 2;
  std::fflush(stderr);
  const int saved = dup(2);
  dup2(fileno(capture), 2);
  {
    tn::params<net> p;
    tn::init_he(p, 1);
    tn::model<net, tn::exec::simd<>> a(p, 2), b(p, 3);  // two programs: one notice
  }
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::string text;
  std::rewind(capture);
  for (int c; (c = std::fgetc(capture)) != EOF;) text += char(c);
  std::fputs(text.c_str(), stderr);

  const bool expect = xsimd::default_arch::version() < xsimd::fma3<xsimd::avx2>::version() &&
                      xsimd::available_architectures().best >= xsimd::fma3<xsimd::avx2>::version();
  std::size_t count = 0;
  for (std::size_t at = text.find("typenet: exec::simd runs "); at != std::string::npos;
       at = text.find("typenet: exec::simd runs ", at + 1))
    ++count;
  std::printf("compiled for %s, this CPU offers %s: %zu notice(s), expected %d\n", xsimd::default_arch::name(),
              tn::exec::simd_arch::cpu_name(), count, expect ? 1 : 0);
  if (count != (expect ? 1u : 0u)) return 1;
  if (expect && text.find("typenet::native") == std::string::npos) return 1;
  return 0;
}
