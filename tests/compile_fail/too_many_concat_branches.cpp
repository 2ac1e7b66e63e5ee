// Rule too_many_concat_branches: a concat of nine branches, itself the last branch of a concat at entry 1
// (path 1.1), so the rule fires inside a branch and must still be the only error.
// EXPECT: too_many_concat_branches
// EXPECT-ARGS: too_many_concat_branches<1, typenet::located<typenet::index_path<1, 1>, typenet::concat<
#include <typenet/typenet.hpp>
namespace tn = typenet;

using b = tn::relu;  // a branch without parameters (branches add no key level)
#ifdef TYPENET_SHOULD_FAIL
using inner = tn::concat<b, b, b, b, b, b, b, b, b>;
#else
// The same channels in the same order: eight branches, the last a concat of two.
using inner = tn::concat<b, b, b, b, b, b, b, tn::concat<b, b>>;
#endif
struct net : tn::network<tn::input<3, 4, 4>, tn::relu, tn::concat<b, inner>> {};

#ifndef TYPENET_SHOULD_FAIL
static_assert(tn::output_shape<net> == tn::shape<30, 4, 4>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
