// Rule needs_flat_input: dense without flatten, the AlexNet classifier straight after the last pool
// (layer 13 sees 256 x 6 x 6).
// EXPECT: needs_flat_input
// EXPECT-ARGS: needs_flat_input<13, typenet::dense<4096>, typenet::shape<256, 6, 6> ?>
#include <typenet/typenet.hpp>
namespace tn = typenet;

struct features {
  template <class... Tail>
  // clang-format off
  using then = tn::network<
      tn::input<3, 227, 227>,
      tn::conv2d<96, tn::kernel<11>, tn::stride<4>>, tn::relu, tn::max_pool<tn::kernel<3>, tn::stride<2>>,
      tn::conv2d<256, tn::kernel<5>, tn::pad<2>>, tn::relu, tn::max_pool<tn::kernel<3>, tn::stride<2>>,
      tn::conv2d<384, tn::kernel<3>, tn::pad<1>>, tn::relu, tn::conv2d<384, tn::kernel<3>, tn::pad<1>>, tn::relu,
      tn::conv2d<256, tn::kernel<3>, tn::pad<1>>, tn::relu, tn::max_pool<tn::kernel<3>, tn::stride<2>>,
      Tail...>;
  // clang-format on
};

#ifdef TYPENET_SHOULD_FAIL
struct net : features::then<tn::dense<4096>, tn::relu, tn::dense<1000>, tn::softmax> {};
#else
struct net : features::then<tn::flatten, tn::dense<4096>, tn::relu, tn::dense<1000>, tn::softmax> {};
static_assert(tn::shape_after<net, 12> == tn::shape<256, 6, 6>{});
static_assert(tn::output_shape<net> == tn::shape<1000>{});
#endif

int main() { return net::is_valid ? 0 : 1; }
