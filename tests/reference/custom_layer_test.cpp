// A layer defined outside the library (tests/halve_layer.hpp: y = x / 2, its reference kernel and backward
// pass found by argument-dependent lookup) runs and trains. Checked against a network without it whose
// next dense layer has half the weights: the same logits, and gradients derived by hand from that
// identity (the first layer's equal, the second layer's weight gradient half the other network's, its bias
// gradient equal).
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <typenet/exec/simd.hpp>
#include <typenet/train.hpp>

#include "../halve_layer.hpp"
#include "../train_compare.hpp"

namespace tn = typenet;

namespace {

struct with_halve : tn::network<tn::input<8>, tn::dense<8>, mine::halve, tn::dense<3>> {};
struct folded : tn::network<tn::input<8>, tn::dense<8>, tn::dense<3>> {};

}  // namespace

TEST_CASE("a layer of one's own: runs and trains on exec::reference through its own namespace's kernels") {
  static_assert(tn::param_count<with_halve> == tn::param_count<folded>);
  tn::params<with_halve> a;
  train_compare::randomise(a, 11);
  tn::params<folded> b;
  std::copy(a.data(), a.data() + a.size(), b.data());
  constexpr int w2 = 8 * 8 + 8, w2_count = 3 * 8;  // the second dense layer's weights, then its bias
  for (int i = 0; i < w2_count; ++i) b.data()[w2 + i] *= 0.5f;

  constexpr int batch = 4;
  std::vector<float> x(batch * 8);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37 % 17)) / 8.f - 1.f;
  const std::vector<std::int64_t> labels{0, 2, 1, 2};

  tn::model<with_halve, tn::exec::reference_t> ma(a, batch);
  tn::model<folded, tn::exec::reference_t> mb(b, batch);
  std::vector<float> ya(batch * 3), yb(batch * 3);
  ma.forward(x.data(), ya.data(), batch);
  mb.forward(x.data(), yb.data(), batch);
  for (int i = 0; i < batch * 3; ++i) CHECK(ya[i] == doctest::Approx(yb[i]).epsilon(1e-6));

  tn::train::trainer<with_halve, tn::exec::reference_t> ta(a, batch);
  tn::train::trainer<folded, tn::exec::reference_t> tb(b, batch);
  const double la = ta.forward_backward(x.data(), labels.data(), batch);
  const double lb = tb.forward_backward(x.data(), labels.data(), batch);
  CHECK(la == doctest::Approx(lb).epsilon(1e-6));
  const float* ga = ta.grads().data();
  const float* gb = tb.grads().data();
  for (int i = 0; i < w2; ++i) CHECK(ga[i] == doctest::Approx(gb[i]).epsilon(1e-5).scale(1e-6));
  for (int i = 0; i < w2_count; ++i) CHECK(ga[w2 + i] == doctest::Approx(0.5 * gb[w2 + i]).epsilon(1e-5).scale(1e-6));
  for (int i = w2 + w2_count; i < static_cast<int>(a.size()); ++i)
    CHECK(ga[i] == doctest::Approx(gb[i]).epsilon(1e-5).scale(1e-6));
}

TEST_CASE("a layer of one's own: exec::simd runs it on its reference kernel and names it") {
  tn::params<with_halve> a;
  train_compare::randomise(a, 12);
  constexpr int batch = 3;
  std::vector<float> x(batch * 8);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 29 % 13)) / 6.f - 1.f;
  tn::model<with_halve, tn::exec::reference_t> ref(a, batch);
  tn::model<with_halve, tn::exec::simd<>> fast(a, batch);
  std::vector<float> yr(batch * 3), ys(batch * 3);
  ref.forward(x.data(), yr.data(), batch);
  fast.forward(x.data(), ys.data(), batch);
  for (int i = 0; i < batch * 3; ++i) CHECK(ys[i] == doctest::Approx(yr[i]).epsilon(1e-5).scale(1e-6));
  const std::string text = tn::describe<with_halve, tn::exec::simd<>>();
  CHECK(text.find("exec::reference's kernel for 1 layer(s): 1 (halve)") != std::string::npos);
}
