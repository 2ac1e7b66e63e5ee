// Layers defined outside the library (tests/halve_layer.hpp: its reference kernels and backward passes found
// by argument-dependent lookup) run and train. `halve` (y = x / 2) is checked against a network without it
// whose next dense layer has half the weights: the same logits, and gradients derived by hand from that
// identity (the first layer's equal, the second layer's weight gradient half the other network's, its bias
// gradient equal). `channel_ramp` (channel c times c + 1, after a convolution and before a ReLU) likewise
// against the convolution's weights and bias scaled by c + 1 (the convolution's gradients then c + 1 times
// the other network's, the dense layer's equal). `channel_scale` (channel c times s[c] plus t[c], parameters
// of its own) against the convolution with s folded into its weights and bias, gradients by the chain rule
// through that identity. exec::simd, which stores maps as NHWC and runs these layers on their reference
// kernels, infers and trains the networks as the reference does, and so does exec::cuda's training program
// (on its host executor), which runs them on the host between its element-wise kernels.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <typenet/exec/simd.hpp>
#include <typenet/train.hpp>
#include <typenet/train/simd.hpp>

#include "../halve_layer.hpp"
#include "../train_compare.hpp"
#include "train_elementwise.hpp"

namespace tn = typenet;

namespace {

struct with_halve : tn::network<tn::input<8>, tn::dense<8>, mine::halve, tn::dense<3>> {};
struct folded : tn::network<tn::input<8>, tn::dense<8>, tn::dense<3>> {};
using conv3 = tn::conv2d<4, tn::kernel<3>, tn::pad<1>>;
struct with_ramp : tn::network<tn::input<3, 6, 6>, conv3, mine::channel_ramp, tn::relu, tn::flatten, tn::dense<3>> {};
struct ramp_folded : tn::network<tn::input<3, 6, 6>, conv3, tn::relu, tn::flatten, tn::dense<3>> {};
struct with_scale : tn::network<tn::input<3, 6, 6>, conv3, mine::channel_scale, tn::relu, tn::flatten, tn::dense<3>> {};
constexpr int conv_weights = 4 * 3 * 3 * 3, conv_params = conv_weights + 4;

template <class Net>
std::vector<float> inputs(int batch, int mul, int mod) {
  std::vector<float> x(std::size_t(batch) * Net::input_shape::size);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i * mul % mod) / (mod / 2.f) - 1.f;
  return x;
}

/// exec::simd's forward pass and trainer on Net against exec::reference's, on the same parameters.
template <class Net>
void simd_matches_reference(std::uint64_t seed) {
  tn::params<Net> p;
  train_compare::randomise(p, seed);
  constexpr int batch = 3, classes = 3;
  const std::vector<float> x = inputs<Net>(batch, 29, 13);
  const std::vector<std::int64_t> labels{2, 0, 1};
  std::vector<float> yr(batch * classes), ys(batch * classes);
  tn::model<Net, tn::exec::reference_t>(p, batch).forward(x.data(), yr.data(), batch);
  tn::model<Net, tn::exec::simd<>>(p, batch).forward(x.data(), ys.data(), batch);
  for (int i = 0; i < batch * classes; ++i) CHECK(ys[i] == doctest::Approx(yr[i]).epsilon(1e-5).scale(1e-6));

  tn::train::trainer<Net, tn::exec::reference_t> tr(p, batch);
  tn::train::trainer<Net, tn::exec::simd<>> ts(p, batch);
  CHECK(ts.forward_backward(x.data(), labels.data(), batch) ==
        doctest::Approx(tr.forward_backward(x.data(), labels.data(), batch)).epsilon(1e-5));
  const float* gr = tr.grads().data();
  const float* gs = ts.grads().data();
  float scale = 0;
  for (std::int64_t i = 0; i < p.size(); ++i) scale = std::max(scale, std::abs(gr[i]));
  REQUIRE(scale > 0);
  for (std::int64_t i = 0; i < p.size(); ++i) CHECK(std::abs(gs[i] - gr[i]) <= 2e-5f * scale);
}

/// Net A with a layer of one's own and its twin B (the layer folded into B's parameters) on exec::reference:
/// the same logits and loss on `batch` inputs; returns both trainers' gradients.
template <class A, class B>
std::pair<std::vector<float>, std::vector<float>> twin_gradients(const tn::params<A>& a, const tn::params<B>& b,
                                                                 int batch, const std::vector<std::int64_t>& labels) {
  const std::vector<float> x = inputs<A>(batch, 37, 17);
  std::vector<float> ya(std::size_t(batch) * 3), yb(ya.size());
  tn::model<A, tn::exec::reference_t>(a, batch).forward(x.data(), ya.data(), batch);
  tn::model<B, tn::exec::reference_t>(b, batch).forward(x.data(), yb.data(), batch);
  for (std::size_t i = 0; i < ya.size(); ++i) CHECK(ya[i] == doctest::Approx(yb[i]).epsilon(1e-5).scale(1e-6));
  tn::params<A> pa = a;
  tn::params<B> pb = b;
  tn::train::trainer<A, tn::exec::reference_t> ta(pa, batch);
  tn::train::trainer<B, tn::exec::reference_t> tb(pb, batch);
  CHECK(ta.forward_backward(x.data(), labels.data(), batch) ==
        doctest::Approx(tb.forward_backward(x.data(), labels.data(), batch)).epsilon(1e-6));
  return {std::vector<float>(ta.grads().data(), ta.grads().data() + pa.size()),
          std::vector<float>(tb.grads().data(), tb.grads().data() + pb.size())};
}

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

TEST_CASE("a layer of one's own on a map: runs and trains on exec::reference, channel by channel") {
  tn::params<with_ramp> a;
  train_compare::randomise(a, 21);
  tn::params<ramp_folded> b;
  static_assert(tn::param_count<with_ramp> == tn::param_count<ramp_folded>);
  std::copy(a.data(), a.data() + a.size(), b.data());
  const auto ramp = [](int c) { return static_cast<float>(c + 1); };
  for (int i = 0; i < conv_weights; ++i) b.data()[i] *= ramp(i / 27);  // weight [4][3][3][3]
  for (int c = 0; c < 4; ++c) b.data()[conv_weights + c] *= ramp(c);   // bias [4]

  const auto [ga, gb] = twin_gradients(a, b, 2, {1, 2});
  for (int i = 0; i < conv_weights; ++i)
    CHECK(ga[i] == doctest::Approx(ramp(i / 27) * gb[i]).epsilon(1e-4).scale(1e-6));
  for (int c = 0; c < 4; ++c)
    CHECK(ga[conv_weights + c] == doctest::Approx(ramp(c) * gb[conv_weights + c]).epsilon(1e-4).scale(1e-6));
  for (int i = conv_params; i < static_cast<int>(a.size()); ++i)
    CHECK(ga[i] == doctest::Approx(gb[i]).epsilon(1e-4).scale(1e-6));
}

TEST_CASE("a layer of one's own: exec::simd infers and trains as exec::reference does") {
  simd_matches_reference<with_halve>(31);
  simd_matches_reference<with_ramp>(32);
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

TEST_CASE("a layer with parameters of its own: runs and trains on exec::reference") {
  tn::params<with_scale> a;
  train_compare::randomise(a, 23);
  tn::params<ramp_folded> b;
  static_assert(tn::param_count<with_scale> == tn::param_count<ramp_folded> + 8);
  const float* s = a.data() + conv_params;  // the layer's weight [4], then its bias [4]
  for (int i = 0; i < conv_weights; ++i) b.data()[i] = s[i / 27] * a.data()[i];
  for (int c = 0; c < 4; ++c) b.data()[conv_weights + c] = s[c] * a.data()[conv_weights + c] + s[4 + c];
  std::copy(a.data() + conv_params + 8, a.data() + a.size(), b.data() + conv_params);

  const auto [ga, gb] = twin_gradients(a, b, 3, {2, 1, 0});
  // The folded network's weight and bias gradients dW', db' give the others: dW = s dW', db = s db',
  // ds[c] = sum over c's weights of dW' W + db' b (the convolution's output before the scale), dt = db'.
  for (int i = 0; i < conv_weights; ++i) CHECK(ga[i] == doctest::Approx(s[i / 27] * gb[i]).epsilon(1e-4).scale(1e-6));
  for (int c = 0; c < 4; ++c) {
    const float db = gb[conv_weights + c];
    CHECK(ga[conv_weights + c] == doctest::Approx(s[c] * db).epsilon(1e-4).scale(1e-6));
    double ds = double{db} * a.data()[conv_weights + c];
    for (int k = 0; k < 27; ++k) ds += double{gb[c * 27 + k]} * a.data()[c * 27 + k];
    CHECK(ga[conv_params + c] == doctest::Approx(ds).epsilon(1e-4).scale(1e-6));
    CHECK(ga[conv_params + 4 + c] == doctest::Approx(db).epsilon(1e-4).scale(1e-6));
  }
  // The dense layer's: equal, up to float rounding of the two forward passes (within 1e-5 of its largest;
  // element by element, the smallest gradients differ by 3e-4 of themselves).
  float largest = 0;
  for (int i = conv_params; i < static_cast<int>(b.size()); ++i) largest = std::max(largest, std::abs(gb[i]));
  REQUIRE(largest > 0);
  for (int i = conv_params; i < static_cast<int>(b.size()); ++i) CHECK(std::abs(ga[i + 8] - gb[i]) <= 1e-5f * largest);
}

TEST_CASE("a layer of one's own: exec::simd infers and trains it with parameters as exec::reference does") {
  simd_matches_reference<with_scale>(33);
}

TEST_CASE("a layer of one's own: exec::cuda's training program runs it on the host (checked on the host executor)") {
  // The element-wise program with its layers' values in the executor's memory: here the host executor's own
  // copies, so every copy to the host and back that the GPU makes is made, and the step must match the
  // reference trainer's in loss, logits, every gradient and the input's gradient.
  train_elementwise::compare<with_halve>(3, 41);
  train_elementwise::compare<with_ramp>(2, 42);
  train_elementwise::compare<with_scale>(3, 43);
  train_elementwise::compare<with_scale, double>(1, 44, 1e-6);
  using kernels = tn::train::detail::elementwise_kernels<with_scale, tn::train::detail::host_executor<>>;
  CHECK(kernels::fallback_layers() == std::vector<std::string>{"1 (channel_scale)"});
  CHECK(tn::train::detail::elementwise_kernels<with_halve, tn::train::detail::host_executor<>>::fallback_layers() ==
        std::vector<std::string>{"1 (halve)"});
  CHECK(tn::train::detail::elementwise_kernels<ramp_folded, tn::train::detail::host_executor<>>::fallback_layers()
            .empty());
}
