// Networks beyond a chain: shapes, counts and keys through seq / residual / concat / named, the liveness
// plan against a brute-force liveness computation on every zoo network, and exec::reference on small
// blocks whose outputs are worked out by hand.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <typenet/typenet.hpp>
#include <typenet/zoo/networks.hpp>

namespace tn = typenet;
using namespace typenet::zoo;

// ---- shapes and counts (torchvision's figures: sum(p.numel() for p in model.parameters())) ----
static_assert(tn::param_count<resnet18> == 11'689'512);
static_assert(tn::param_count<resnet50> == 25'557'032);
static_assert(tn::param_count<mobilenet_v2> == 3'504'872);
static_assert(tn::param_count<squeezenet1_1> == 1'235'496);
// Batch norm's running statistics are stored but not counted: resnet18 has 4,800 BN channels (x2 floats).
static_assert(tn::param_storage<resnet18> == 11'689'512 + 2 * 4'800);

static_assert(tn::shape_after<resnet18, 0> == tn::shape<64, 112, 112>{});  // (224 + 6 - 7) / 2 + 1, floor
static_assert(tn::shape_after<resnet18, 3> == tn::shape<64, 56, 56>{});    // (112 + 2 - 3) / 2 + 1, floor
static_assert(tn::shape_after<resnet18, 4> == tn::shape<64, 56, 56>{});    // layer1
static_assert(tn::shape_after<resnet18, 5> == tn::shape<128, 28, 28>{});   // layer2
static_assert(tn::shape_after<resnet18, 7> == tn::shape<512, 7, 7>{});     // layer4
static_assert(tn::output_shape<resnet18> == tn::shape<1000>{});
static_assert(tn::shape_after<resnet50, 7> == tn::shape<2048, 7, 7>{});
static_assert(tn::shape_after<mobilenet_v2, 0> == tn::shape<1280, 7, 7>{});
static_assert(tn::shape_after<squeezenet1_1, 0> == tn::shape<512, 13, 13>{});  // 111 -> 55 -> 27 -> 13
static_assert(tn::output_shape<squeezenet1_1> == tn::shape<1000>{});

// A Fire module joins 64 + 64 channels: 16 x 3 x 3 ... by hand for the first one (input 64 channels).
static_assert(tn::mac_count<tn::network<tn::input<64, 55, 55>, fire<16, 64, 64>>> ==
              55 * 55 * (64 * 16 + 16 * 64 + 16 * 64 * 9));

TEST_CASE("keys follow torchvision's state_dict") {
  tn::params<resnet18> p;
  const auto t = p.tensors();
  // 20 convolutions, 20 batch norms (4 tensors each), fc weight and bias: 20 + 80 + 2.
  REQUIRE(t.size() == 102);
  CHECK(t[0].name == "conv1.weight");
  CHECK(t[1].name == "bn1.weight");
  CHECK(t[3].name == "bn1.running_mean");
  CHECK(t[3].buffer);
  CHECK(t[4].name == "bn1.running_var");
  CHECK(t[5].name == "layer1.0.conv1.weight");
  CHECK(t[5].shape == std::vector<std::int64_t>{64, 64, 3, 3});
  auto find = [&](const std::string& name) {
    return std::find_if(t.begin(), t.end(), [&](const tn::param_tensor& x) { return x.name == name; });
  };
  REQUIRE(find("layer2.0.downsample.0.weight") != t.end());
  CHECK(find("layer2.0.downsample.0.weight")->shape == std::vector<std::int64_t>{128, 64, 1, 1});
  CHECK(find("layer2.0.downsample.1.running_var") != t.end());
  CHECK(find("layer1.0.downsample.0.weight") == t.end());  // layer1 keeps the shape: identity shortcut
  CHECK(t.back().name == "fc.bias");

  tn::params<mobilenet_v2> m;
  const auto mt = m.tensors();
  CHECK(mt[0].name == "features.0.0.weight");
  CHECK(mt[5].name == "features.1.conv.0.0.weight");             // InvertedResidual(32, 16, 1, 1): no expansion
  CHECK(mt[5].shape == std::vector<std::int64_t>{32, 1, 3, 3});  // depthwise: groups = channels
  CHECK(mt.back().name == "classifier.1.bias");

  tn::params<squeezenet1_1> s;
  const auto st = s.tensors();
  CHECK(st[2].name == "features.3.squeeze.weight");
  CHECK(st[4].name == "features.3.expand1x1.weight");
  CHECK(st[6].name == "features.3.expand3x3.weight");
  CHECK(st.back().name == "classifier.1.bias");
}

// ---- the activation plan against brute force ----
namespace {
/// Checks the plan of Net against lifetimes recomputed here from its op list: at every op, the values
/// alive then (defined at or before it, read at or after it) occupy disjoint parts of the arena, and the
/// arena is at least the largest sum of live sizes. Returns that brute-force peak (floats per image).
template <class Net>
std::int64_t check_plan() {
  using plan = tn::activation_plan<Net>;
  const int values = plan::values;
  std::vector<int> def(values, -1), last(values, -1);
  for (int i = 0; i < plan::op_count; ++i) {
    const tn::op_desc& o = plan::ops[i];
    REQUIRE(def[o.output] == -1);  // every value is defined once
    def[o.output] = i;
    for (int k = 0; k < o.input_count; ++k) {
      REQUIRE(def[o.inputs[k]] < i);  // read after it is defined (the input: -1)
      last[o.inputs[k]] = std::max(last[o.inputs[k]], i);
    }
  }
  std::int64_t peak = 0;
  for (int t = 0; t < plan::op_count; ++t) {
    std::vector<int> live;
    for (int v = 1; v < values; ++v)
      if (v != plan::output && def[v] <= t && std::max(def[v], last[v]) >= t) live.push_back(v);
    std::int64_t sum = 0;
    for (int v : live) sum += plan::size[v];
    peak = std::max(peak, sum);
    for (std::size_t i = 0; i < live.size(); ++i) {
      const int a = live[i];
      REQUIRE(plan::offset[a] >= 0);
      CHECK(plan::offset[a] + plan::size[a] <= plan::floats_per_image);
      for (std::size_t j = i + 1; j < live.size(); ++j) {
        const int b = live[j];
        const bool apart =
            plan::offset[a] + plan::size[a] <= plan::offset[b] || plan::offset[b] + plan::size[b] <= plan::offset[a];
        INFO("values " << a << " and " << b << " are both alive at op " << t);
        CHECK(apart);
      }
    }
  }
  CHECK(plan::floats_per_image >= peak);
  return peak;
}
}  // namespace

TEST_CASE("activation plan: live values never share memory, on every zoo network") {
  auto report = [](const std::string& name, std::int64_t peak, std::int64_t arena) {
    MESSAGE(name << ": brute-force peak " << peak << " floats/image, plan arena " << arena);
  };
  report("seed_alexnet", check_plan<seed_alexnet>(), tn::activation_plan<seed_alexnet>::floats_per_image);
  report("torchvision_alexnet", check_plan<torchvision_alexnet>(),
         tn::activation_plan<torchvision_alexnet>::floats_per_image);
  report("caffe_alexnet", check_plan<caffe_alexnet>(), tn::activation_plan<caffe_alexnet>::floats_per_image);
  report("lenet5", check_plan<lenet5>(), tn::activation_plan<lenet5>::floats_per_image);
  report("resnet18", check_plan<resnet18>(), tn::activation_plan<resnet18>::floats_per_image);
  report("resnet50", check_plan<resnet50>(), tn::activation_plan<resnet50>::floats_per_image);
  report("mobilenet_v2", check_plan<mobilenet_v2>(), tn::activation_plan<mobilenet_v2>::floats_per_image);
  report("squeezenet1_1", check_plan<squeezenet1_1>(), tn::activation_plan<squeezenet1_1>::floats_per_image);
  // A chain needs no more than the two ping-pong buffers the fused policies use.
  CHECK(tn::peak_activation_bytes<seed_alexnet> <= tn::memory_plan<seed_alexnet>::bytes_per_image);
  // ResNet-18: the largest live set is the stem's 64 x 112 x 112 conv output next to its batch-norm output.
  CHECK(tn::activation_plan<resnet18>::floats_per_image == 2 * 64 * 112 * 112);
}

// ---- exec::reference on blocks, against values worked out by hand ----
TEST_CASE("reference: residual, concat and batch norm by hand") {
  // x: 1 channel, 2 x 2. Body: 1x1 conv (weight 2, bias 1) then relu; shortcut: identity; after: relu6.
  // Then a concat of the identity and a 1x1 conv without bias (weight -1), then batch norm on 2 channels.
  using net = tn::network<tn::input<1, 2, 2>,
                          tn::residual<tn::seq<tn::conv2d<1, tn::kernel<1>>, tn::relu>, tn::identity, tn::relu6>,
                          tn::concat<tn::identity, tn::conv2d<1, tn::kernel<1>, tn::no_bias>>, tn::batch_norm>;
  static_assert(tn::output_shape<net> == tn::shape<2, 2, 2>{});
  static_assert(tn::param_count<net> == 2 + 1 + 4);  // conv w+b, conv w, bn weight+bias (stats are buffers)
  tn::params<net> p;
  auto t = p.tensors();
  REQUIRE(t.size() == 7);
  CHECK(t[0].name == "0.0.weight");  // entry 0 of the body seq; the residual adds no key level
  CHECK(t[2].name == "1.weight");    // the concat's branch adds no key level either
  CHECK(t[3].name == "2.weight");
  t[0].data[0] = 2.f;  // body conv weight
  t[1].data[0] = 1.f;  // body conv bias
  t[2].data[0] = -1.f;
  const float gamma[2] = {1.f, 2.f}, beta[2] = {0.5f, 0.f}, mean[2] = {1.f, -1.f}, var[2] = {4.f, 0.25f};
  for (int c = 0; c < 2; ++c) {
    t[3].data[c] = gamma[c];
    t[4].data[c] = beta[c];
    t[5].data[c] = mean[c];
    t[6].data[c] = var[c];
  }
  tn::model<net, tn::exec::reference_t> m(p, 1);
  const std::vector<float> x = {-3.f, 0.f, 1.f, 2.f};
  std::vector<float> y(8);
  m.forward(x, y, 1);
  for (int i = 0; i < 4; ++i) {
    const float body = std::max(0.f, 2.f * x[i] + 1.f);
    const float r = std::clamp(body + x[i], 0.f, 6.f);  // residual join, then relu6
    const float c[2] = {r, -r};                         // concat: identity, then the conv with weight -1
    for (int ch = 0; ch < 2; ++ch) {
      const double want = (c[ch] - mean[ch]) / std::sqrt(var[ch] + 1e-5) * gamma[ch] + beta[ch];
      CHECK(y[ch * 4 + i] == doctest::Approx(want).epsilon(1e-6));
    }
  }
}

TEST_CASE("describe names nested layers by their key path") {
  const std::string d = tn::describe<resnet18>();
  CHECK(d.find("layer2.0.downsample.0") != std::string::npos);
  CHECK(d.find("layer1.1.bn2") != std::string::npos);
  CHECK(d.find("11,689,512 parameters") != std::string::npos);
}
