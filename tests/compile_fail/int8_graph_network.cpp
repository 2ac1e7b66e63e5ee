// Rule int8_graph_network: the int8 program runs chain networks only; a residual block is reported (before the
// missing AVX512_VNNI of the driver's default target: no flag would make this network run in int8).
// EXPECT: int8_graph_network
// EXPECT-ARGS: int8_graph_network<[^\n]*net
#include <typenet/exec/simd.hpp>
#include <typenet/typenet.hpp>
namespace tn = typenet;

struct net : tn::network<tn::input<4, 8, 8>, tn::residual<tn::seq<tn::conv2d<4, tn::kernel<3>, tn::pad<1>>, tn::relu>>,
                         tn::flatten, tn::dense<2>> {};

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
