// Rule non_positive_parameter: dense<0> (layer 1).
// EXPECT: non_positive_parameter
// EXPECT-ARGS: non_positive_parameter<1, typenet::dense<0>, typenet::shape<48> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<tn::input<3, 4, 4>, tn::flatten, tn::dense<0>> {};
#else
struct net : tn::network<tn::input<3, 4, 4>, tn::flatten, tn::dense<1>> {};
static_assert(tn::param_count<net> == 48 + 1);
#endif

int main() { return net::is_valid ? 0 : 1; }
