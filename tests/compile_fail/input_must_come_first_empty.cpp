// Rule input_must_come_first: an empty network has no input either.
// EXPECT: input_must_come_first
// EXPECT-ARGS: input_must_come_first<void>
#include <typenet/typenet.hpp>
namespace tn = typenet;

#ifdef TYPENET_SHOULD_FAIL
struct net : tn::network<> {};
#else
struct net : tn::network<tn::input<10>> {};  // an input alone is a valid (identity) network
static_assert(tn::layer_count<net> == 0);
static_assert(tn::output_shape<net> == tn::shape<10>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
