// Rule duplicate_parameter_name: two layers of one block named "conv", so both weights would be keyed
// "0.conv.weight". The good twin names the second "conv2".
// EXPECT: duplicate_parameter_name
// EXPECT-ARGS: duplicate_parameter_name<0, typenet::located<typenet::index_path<0, 2>, typenet::conv2d<8[^\n]*typenet::located<typenet::index_path<0, 0>, typenet::conv2d<8
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
constexpr tn::fixed_string second = "conv";
#else
constexpr tn::fixed_string second = "conv2";
#endif

struct net : tn::network<tn::input<3, 8, 8>,
                         tn::seq<tn::named<"conv", tn::conv2d<8, tn::kernel<3>, tn::pad<1>>>, tn::relu,
                                 tn::named<second, tn::conv2d<8, tn::kernel<3>, tn::pad<1>>>>,
                         tn::flatten, tn::dense<10>> {};

#ifndef TYPENET_SHOULD_FAIL
static_assert(tn::param_count<net> == (8 * 3 * 9 + 8) + (8 * 8 * 9 + 8) + (10 * 512 + 10));
#endif

int main() { return net::is_valid ? 0 : 1; }
