// first_layers<Net, Last> and prefix_params: an intermediate activation as the output of a shorter network,
// checked against networks declared by hand (shapes, tensor names, and the outputs of exec::reference).
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <typenet/typenet.hpp>
#include <typenet/zoo/alexnet.hpp>
#include <typenet/zoo/lenet.hpp>
#include <typenet/zoo/resnet.hpp>

namespace tn = typenet;

namespace {
// lenet5's first five layers, declared by hand: conv, relu, pool, conv, relu.
struct lenet_head : tn::network<tn::input<1, 32, 32>, tn::conv2d<6, tn::kernel<5>>, tn::relu,
                                tn::max_pool<tn::kernel<2>, tn::stride<2>>, tn::conv2d<16, tn::kernel<5>>, tn::relu> {};
// A graph network with named blocks and its first two entries by hand.
using block = tn::residual<
    tn::seq<tn::named<"conv", tn::conv2d<4, tn::kernel<3>, tn::pad<1>, tn::no_bias>>, tn::named<"bn", tn::batch_norm>>>;
struct graph_net : tn::network<tn::input<4, 6, 6>, tn::named<"stem", tn::conv2d<4, tn::kernel<1>>>,
                               tn::named<"block", block>, tn::relu, tn::flatten, tn::named<"fc", tn::dense<3>>> {};
struct graph_head
    : tn::network<tn::input<4, 6, 6>, tn::named<"stem", tn::conv2d<4, tn::kernel<1>>>, tn::named<"block", block>> {};

template <class A, class B>
void check_same_tensors(tn::params<A>& a, tn::params<B>& b) {
  const auto ta = a.tensors();
  const auto tb = b.tensors();
  REQUIRE(ta.size() == tb.size());
  for (std::size_t i = 0; i < ta.size(); ++i) {
    CAPTURE(ta[i].name);
    CHECK(ta[i].name == tb[i].name);
    CHECK(ta[i].shape == tb[i].shape);
    CHECK(std::equal(ta[i].data.begin(), ta[i].data.end(), tb[i].data.begin(), tb[i].data.end()));
  }
}

template <class Head, class ByHand, class Net>
void check_head(std::uint64_t seed) {
  static_assert(tn::output_shape<Head> == tn::output_shape<ByHand>);
  static_assert(tn::param_storage<Head> == tn::param_storage<ByHand>);
  tn::params<Net> p;
  tn::init_he(p, seed);
  for (auto& t : p.tensors())  // non-trivial batch-norm statistics and biases
    for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] += 0.25f + 0.01f * float(i % 7);
  tn::params<Head> h = tn::prefix_params<Head>(p);
  // The by-hand network gets the same values by name, through a checkpoint of the whole network.
  tn::params<ByHand> by_hand;
  for (auto& t : by_hand.tensors())
    for (const auto& s : p.tensors())
      if (s.name == t.name) std::copy(s.data.begin(), s.data.end(), t.data.begin());
  check_same_tensors(h, by_hand);

  std::vector<float> in(2 * Net::input_shape::size), a(2 * Head::output_shape::size), b(a.size());
  tn::fill_uniform(in, seed + 1);
  tn::model<Head, tn::exec::reference_t>(h, 2).forward(in, a, 2);
  tn::model<ByHand, tn::exec::reference_t>(by_hand, 2).forward(in, b, 2);
  CHECK(a == b);
}
}  // namespace

TEST_CASE("first_layers: shapes and counts are the prefix's") {
  using head = tn::first_layers<tn::zoo::lenet5, 4>;
  static_assert(tn::output_shape<head> == tn::shape_after<tn::zoo::lenet5, 4>);
  static_assert(tn::layer_count<head> == 5);
  static_assert(std::is_same_v<head::whole, tn::zoo::lenet5>);
  static_assert(tn::output_shape<tn::first_layers<tn::zoo::resnet18, 3>> == tn::shape<64, 56, 56>{});
  static_assert(tn::param_count<tn::first_layers<tn::zoo::lenet5, tn::layer_count<tn::zoo::lenet5> - 1>> ==
                tn::param_count<tn::zoo::lenet5>);
}

TEST_CASE("first_layers + prefix_params: lenet5's first five layers") {
  check_head<tn::first_layers<tn::zoo::lenet5, 4>, lenet_head, tn::zoo::lenet5>(3);
}

TEST_CASE("first_layers + prefix_params: a graph network's stem and residual block, with batch norm") {
  check_head<tn::first_layers<graph_net, 1>, graph_head, graph_net>(4);
}

TEST_CASE("first_layers keeps the whole network's parameter names (param_prefix)") {
  tn::params<tn::first_layers<tn::zoo::torchvision_alexnet, 2>> p;
  const auto t = p.tensors();
  REQUIRE(t.size() == 2);
  CHECK(t[0].name == "features.0.weight");
  CHECK(t[1].name == "features.0.bias");
}
