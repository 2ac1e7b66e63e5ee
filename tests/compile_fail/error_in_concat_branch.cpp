// A rule broken inside a concat's branch reports once, with the top-level index and the layer's index path,
// and nothing else fails: a conv2d without a kernel as the second branch of the concat at entry 1 (path
// 1.1). Before the binding gave a failed branch a stand-in output, two "no type named 'output'" errors from
// typenet's headers came first. (too_many_concat_branches.cpp's bad twin nests the same way.)
// EXPECT: missing_kernel
// EXPECT-ARGS: missing_kernel<1, typenet::located<typenet::index_path<1, 1>, typenet::conv2d<4 ?> ?> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
using second = tn::conv2d<4>;
#else
using second = tn::conv2d<4, tn::kernel<1>>;
#endif

struct net : tn::network<tn::input<3, 4, 4>, tn::relu, tn::concat<tn::relu, second>, tn::flatten, tn::dense<10>> {};

#ifndef TYPENET_SHOULD_FAIL
static_assert(tn::output_shape<net> == tn::shape<10>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
