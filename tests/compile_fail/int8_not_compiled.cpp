// Rule int8_not_compiled: an int8 program in a translation unit compiled without AVX512_VNNI (the driver
// compiles with the compiler's default target, x86-64, which has none).
// EXPECT: int8_not_compiled
// EXPECT-ARGS: int8_not_compiled<[^\n]*sse2
#include <typenet/exec/simd.hpp>
#include <typenet/typenet.hpp>
namespace tn = typenet;

struct net : tn::network<tn::input<3, 8, 8>, tn::conv2d<4, tn::kernel<3>>, tn::relu, tn::flatten, tn::dense<2>> {};

#ifdef TYPENET_SHOULD_FAIL
using policy = tn::exec::simd<xsimd::sse2, tn::precision::int8>;
#else
using policy = tn::exec::simd<xsimd::sse2>;
#endif

int main() {
  tn::params<net> p;
  tn::model<net, policy> m(p, 1);
  return m.max_batch() == 1 ? 0 : 1;
}
