// params<Net>: the buffer, the tensor names and shapes (PyTorch / torchvision naming) and their offsets.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <typenet/zoo/networks.hpp>

namespace tn = typenet;
using namespace typenet::zoo;

namespace {
struct expected_tensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::int64_t offset;
};

template <class Net>
void check_tensors(const std::vector<expected_tensor>& expected) {
  tn::params<Net> p;
  const auto tensors = p.tensors();
  REQUIRE(tensors.size() == expected.size());
  std::int64_t total = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("tensor " << i << " " << expected[i].name);
    CHECK(tensors[i].name == expected[i].name);
    CHECK(tensors[i].shape == expected[i].shape);
    CHECK(tensors[i].data.data() - p.data() == expected[i].offset);
    std::int64_t n = 1;
    for (auto d : expected[i].shape) n *= d;
    CHECK(static_cast<std::int64_t>(tensors[i].data.size()) == n);
    total += n;
  }
  CHECK(total == tn::param_count<Net>);  // the tensors tile the buffer
}
}  // namespace

TEST_CASE("params: torchvision_alexnet is keyed like torchvision.models.alexnet()") {
  // Offsets: running sums of the element counts, e.g. features.3.weight after 64*3*11*11 + 64 = 23,296.
  check_tensors<torchvision_alexnet>({
      {"features.0.weight", {64, 3, 11, 11}, 0},
      {"features.0.bias", {64}, 23'232},
      {"features.3.weight", {192, 64, 5, 5}, 23'296},
      {"features.3.bias", {192}, 23'296 + 307'200},
      {"features.6.weight", {384, 192, 3, 3}, 330'688},
      {"features.6.bias", {384}, 330'688 + 663'552},
      {"features.8.weight", {256, 384, 3, 3}, 994'624},
      {"features.8.bias", {256}, 994'624 + 884'736},
      {"features.10.weight", {256, 256, 3, 3}, 1'879'616},
      {"features.10.bias", {256}, 1'879'616 + 589'824},
      {"classifier.1.weight", {4096, 9216}, 2'469'696},
      {"classifier.1.bias", {4096}, 2'469'696 + 37'748'736},
      {"classifier.4.weight", {4096, 4096}, 40'222'528},
      {"classifier.4.bias", {4096}, 40'222'528 + 16'777'216},
      {"classifier.6.weight", {1000, 4096}, 57'003'840},
      {"classifier.6.bias", {1000}, 57'003'840 + 4'096'000},
  });
}

TEST_CASE("params: lenet5 uses nn.Sequential's index names") {
  check_tensors<lenet5>({
      {"0.weight", {6, 1, 5, 5}, 0},
      {"0.bias", {6}, 150},
      {"3.weight", {16, 6, 5, 5}, 156},
      {"3.bias", {16}, 156 + 2400},
      {"7.weight", {120, 400}, 2572},
      {"7.bias", {120}, 2572 + 48'000},
      {"9.weight", {84, 120}, 50'692},
      {"9.bias", {84}, 50'692 + 10'080},
      {"11.weight", {10, 84}, 60'856},
      {"11.bias", {10}, 60'856 + 840},
  });
}

TEST_CASE("params: grouped convolutions store C / G input channels per filter (caffe_alexnet)") {
  tn::params<caffe_alexnet> p;
  const auto t = p.tensors();
  REQUIRE(t.size() == 16);
  CHECK(t[2].name == "4.weight");
  CHECK(t[2].shape == std::vector<std::int64_t>{256, 48, 5, 5});
  CHECK(t[6].name == "10.weight");
  CHECK(t[6].shape == std::vector<std::int64_t>{384, 192, 3, 3});
  CHECK(t[8].name == "12.weight");
  CHECK(t[8].shape == std::vector<std::int64_t>{256, 192, 3, 3});
  CHECK(t[15].name == "22.bias");
}

TEST_CASE("params: weight<I>() and bias<I>() are the tensors' spans; the buffer is aligned and zeroed") {
  tn::params<lenet5> p;
  CHECK(reinterpret_cast<std::uintptr_t>(p.data()) % 64 == 0);
  CHECK(p.size() == 61'706);
  bool all_zero = true;
  for (float x : p.span()) all_zero = all_zero && x == 0.f;
  CHECK(all_zero);
  CHECK(p.weight<3>().data() == p.data() + 156);
  CHECK(p.weight<3>().size() == 2400);
  CHECK(p.bias<3>().data() == p.data() + 2556);
  CHECK(p.bias<3>().size() == 16);
  // Writing through a tensor's span is visible through weight<I>() (the same memory).
  p.tensors()[4].data[5] = 2.5f;  // 7.weight, element 5
  CHECK(p.weight<7>()[5] == 2.5f);
  // Copies are deep.
  tn::params<lenet5> q = p;
  q.weight<7>()[5] = 1.f;
  CHECK(p.weight<7>()[5] == 2.5f);
}

TEST_CASE("params: init_he is deterministic and bounded by sqrt(6 / fan_in)") {
  tn::params<lenet5> a, b, c;
  tn::init_he(a, 7);
  tn::init_he(b, 7);
  tn::init_he(c, 8);
  CHECK(std::vector<float>(a.span().begin(), a.span().end()) == std::vector<float>(b.span().begin(), b.span().end()));
  CHECK(std::vector<float>(a.span().begin(), a.span().end()) != std::vector<float>(c.span().begin(), c.span().end()));
  // conv 3 has fan_in 6 * 5 * 5 = 150: |w| <= sqrt(6 / 150) = 0.2
  float largest = 0.f;
  for (float w : a.weight<3>()) largest = std::max(largest, std::abs(w));
  CHECK(largest <= 0.2f);
  CHECK(largest > 0.15f);  // 2,400 uniform draws come close to the bound
  for (float x : a.bias<3>()) CHECK(std::abs(x) <= 0.01f);
}

TEST_CASE("params: init_he with batch norm: weight 1 and running statistics 0 and 1, one seed per drawn tensor") {
  // Recomputed here from the state_dict view (tensors(): names and shapes), which init_he does not use. A
  // batch norm's bias is drawn like every bias (+-0.01).
  tn::params<resnet18> p;
  tn::init_he(p, 3);
  std::uint64_t seed = 3;
  int bn = 0, drawn = 0;
  for (const tn::param_tensor& t : p.tensors()) {
    INFO(t.name);
    const bool batch_norm = t.buffer || (t.shape.size() == 1 && t.name.ends_with(".weight"));
    std::vector<float> want(t.data.size());
    if (batch_norm) {
      ++bn;
      const float v = t.name.ends_with(".weight") || t.name.ends_with(".running_var") ? 1.f : 0.f;
      want.assign(want.size(), v);
    } else {
      ++drawn;
      std::int64_t fan_in = 1;
      for (std::size_t d = 1; d < t.shape.size(); ++d) fan_in *= t.shape[d];
      const float bound = t.shape.size() == 1 ? 0.01f : static_cast<float>(std::sqrt(6.0 / double(fan_in)));
      tn::fill_uniform(want, seed++ * 0x2545f4914f6cdd1dull + 17, -bound, bound);
    }
    CHECK(std::vector<float>(t.data.begin(), t.data.end()) == want);
  }
  CHECK(bn == 20 * 3);          // 20 batch norms: weight, running_mean, running_var
  CHECK(drawn == 20 + 20 + 2);  // 20 convolution weights (no bias), 20 batch-norm biases, the classifier's two
}
