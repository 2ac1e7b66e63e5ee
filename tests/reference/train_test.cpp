// The reference trainer (train/reference.hpp): gradients against central finite differences of its own
// loss, per layer kind and block, on small random shapes; the training memory plan against hand-derived
// sizes; the loss and SGD against hand-derived values; the errors. (Parity with PyTorch autograd on the
// zoo networks: grad_parity.py; the backward loop nests against torch on random geometries:
// layer_parity.py --backward.)
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include <typenet/io/weights.hpp>
#include <typenet/train.hpp>
#include <typenet/train/checkpoint.hpp>
#include <typenet/train/data.hpp>
#include <typenet/zoo/lenet.hpp>

#include "../train_compare.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

namespace tn = typenet;

namespace {

struct probe {
  double analytic = 0, numeric = 0, scale = 0, loss = 0;
};

// The derivative of the loss along a random direction v of the parameters (or of the input), analytic
// (the trainer's gradients dotted with v) and by central differences of the trainer's own loss with
// step h: the loss is evaluated in double from float logits, so the difference quotient carries an
// error of about 1e-7 |loss| / h.
template <class Net>
probe directional(bool along_input, std::uint64_t seed, int batch, double h, tn::train::options o = {}) {
  tn::params<Net> p;
  train_compare::randomise(p, seed);  // nonzero biases, batch-norm scales away from 1
  std::vector<float> x(static_cast<std::size_t>(batch * Net::input_shape::size));
  tn::fill_uniform(x, seed + 1);
  constexpr int classes = tn::train::trainer<Net, tn::exec::reference_t>::classes;
  std::vector<std::int64_t> labels(static_cast<std::size_t>(batch));
  for (int n = 0; n < batch; ++n) labels[static_cast<std::size_t>(n)] = (n * 7 + 3) % classes;

  tn::train::trainer<Net, tn::exec::reference_t> t(p, batch, o);
  probe r;
  r.loss = t.forward_backward(x.data(), labels.data(), batch);
  const tn::params<Net> g = t.grads();
  const std::vector<float> dx(t.input_gradient(batch).begin(), t.input_gradient(batch).end());

  float* target = along_input ? x.data() : p.data();
  const std::size_t n = along_input ? x.size() : static_cast<std::size_t>(tn::params<Net>::count);
  std::vector<float> v(n);
  tn::fill_uniform(v, seed + 2);
  if (!along_input)  // batch norm's running statistics are not parameters: no direction along them
    for (tn::param_tensor& tensor : p.tensors())
      if (tensor.buffer)
        for (float& e : std::span<float>(v.data() + (tensor.data.data() - p.data()), tensor.data.size())) e = 0.f;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = along_input ? dx[i] : g.data()[i];
    r.analytic += d * v[i];
    r.scale += std::abs(d * v[i]);
  }
  const std::vector<float> saved(target, target + n);
  auto loss_at = [&](double step) {
    for (std::size_t i = 0; i < n; ++i) target[i] = static_cast<float>(saved[i] + step * v[i]);
    t.set_steps(0);  // the same dropout masks
    return t.forward_backward(x.data(), labels.data(), batch);
  };
  r.numeric = (loss_at(h) - loss_at(-h)) / (2 * h);
  return r;
}

// h: small enough that few ReLU inputs cross zero within +-h (a crossing is a kink the difference quotient
// does not see), large enough that the float rounding of the loss, about 1e-7 |loss| / h, stays small.
template <class Net>
void check_gradients(std::uint64_t seed, int batch = 3, tn::train::options o = {}, double h = 1e-3) {
  for (bool along_input : {false, true}) {
    const probe r = directional<Net>(along_input, seed, batch, h, o);
    INFO("along the " << std::string(along_input ? "input" : "parameters") << ": analytic " << r.analytic
                      << ", numeric " << r.numeric << ", sum |terms| " << r.scale);
    CHECK(std::abs(r.analytic) > 1e-4 * r.scale);  // not a cancellation to nothing
    CHECK(std::abs(r.analytic - r.numeric) <= 2e-3 * std::abs(r.analytic) + 4e-7 * r.loss / h);
  }
}

// Small networks, one or two layer kinds each.
// clang-format off
struct conv_net : tn::network<tn::input<3, 9, 8>,
    tn::conv2d<4, tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::floor_mode>, tn::relu,
    tn::conv2d<6, tn::kernel<3, 2>, tn::groups<2>, tn::no_bias>, tn::flatten, tn::dense<5>> {};
struct pool_net : tn::network<tn::input<2, 9, 9>,
    tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>,
    tn::avg_pool<tn::kernel<2>, tn::stride<1>, tn::pad<1>>, tn::adaptive_avg_pool<2, 3>, tn::flatten,
    tn::dense<4>> {};
struct lrn_net : tn::network<tn::input<7, 3, 3>,
    tn::lrn<3, std::ratio<1>, std::ratio<3, 4>, std::ratio<2>>, tn::relu6, tn::flatten, tn::dense<6>> {};
struct softmax_net : tn::network<tn::input<5>, tn::dense<7>, tn::softmax, tn::dense<3>, tn::softmax> {};
struct dropout_net : tn::network<tn::input<12>, tn::dense<16>, tn::relu, tn::dropout<50>, tn::dense<4>> {};
struct batch_norm_net : tn::network<tn::input<3, 4, 4>,
    tn::conv2d<5, tn::kernel<3>, tn::pad<1>, tn::no_bias>, tn::batch_norm, tn::relu, tn::flatten,
    tn::dense<6, tn::no_bias>, tn::batch_norm, tn::dense<3>> {};
struct residual_net : tn::network<tn::input<4, 6, 6>,
    tn::residual<tn::seq<tn::conv2d<4, tn::kernel<3>, tn::pad<1>>, tn::relu, tn::conv2d<4, tn::kernel<1>>>>,
    tn::residual<tn::seq<tn::conv2d<6, tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::floor_mode>>,
                 tn::conv2d<6, tn::kernel<1>, tn::stride<2>, tn::floor_mode>, tn::relu>,
    tn::flatten, tn::dense<5>> {};
struct concat_net : tn::network<tn::input<3, 5, 5>,
    tn::concat<tn::conv2d<2, tn::kernel<1>>, tn::seq<tn::conv2d<3, tn::kernel<3>, tn::pad<1>>, tn::relu>,
               tn::identity>,
    tn::max_pool<tn::kernel<2>, tn::stride<2>, tn::floor_mode>, tn::flatten, tn::dense<4>> {};
// clang-format on

}  // namespace

TEST_CASE("training: gradients against central differences, per layer kind") {
  SUBCASE("conv2d: stride, padding, floor rounding, groups, no bias; relu; flatten; dense") {
    check_gradients<conv_net>(1);
  }
  SUBCASE("max_pool (ceil), avg_pool (padding), adaptive_avg_pool") { check_gradients<pool_net>(2); }
  SUBCASE("lrn and relu6") { check_gradients<lrn_net>(3); }
  SUBCASE("a softmax inside the network; the trailing one folded into the loss") { check_gradients<softmax_net>(4); }
  SUBCASE("dropout, active, with its mask fixed by seed and step") {
    check_gradients<dropout_net>(5, 3, {.dropout = true, .seed = 17});
  }
  SUBCASE("batch norm on batch statistics, 2-D and flat") { check_gradients<batch_norm_net>(6, 4); }
  SUBCASE("residual blocks: identity and projection shortcuts, an after-layer") { check_gradients<residual_net>(7); }
  // ReLU before max pooling: windows of zeros, whose ties break differently for +-h; a smaller h.
  SUBCASE("concat of a 1x1 branch, a seq branch and an identity branch") {
    check_gradients<concat_net>(8, 3, {}, 1e-4);
  }
  SUBCASE("lenet5") { check_gradients<tn::zoo::lenet5>(9, 2, {}, 3e-5); }
}

TEST_CASE("training: the memory plan, hand-derived") {
  // lenet5 keeps every layer's output and its gradient: 2 x (4704 + 4704 + 1176 + 1600 + 1600 + 400 + 400 +
  // 120 + 120 + 84 + 84 + 10) floats, and the input's gradient, 1024 floats.
  CHECK(tn::train::floats_per_image<tn::zoo::lenet5> == 2 * 15002 + 1024);
  CHECK(tn::train::training_bytes<tn::zoo::lenet5> == 4 * (2 * 15002 + 1024));
  // dropout keeps a mask (16 floats), batch norm its mean and 1/std per channel (2 x 5 and 2 x 6).
  CHECK(tn::train::floats_per_image<dropout_net> == 2 * (16 + 16 + 16 + 4) + 16 + 12);
  CHECK(tn::train::floats_per_image<batch_norm_net> == 2 * (80 + 80 + 80 + 80 + 6 + 6 + 3) + 2 * 5 + 2 * 6 + 3 * 16);
  // A residual block: body (conv, relu, conv), shortcut and after (identities), each output with its
  // gradient, then the sum and its gradient and a scratch of its input's size (4 x 6 x 6 = 144 each).
  using block = tn::layer_at<residual_net, 0>;
  CHECK(tn::train::node_plan<block>::floats == 2 * (144 + 144 + 144) + 2 * 144 + 2 * 144 + 2 * 144 + 144);
  // The trailing softmax is not trained: the logits are the last dense layer's output.
  CHECK(tn::train::drops_softmax<softmax_net>);
  CHECK(!tn::train::drops_softmax<tn::zoo::lenet5>);
  CHECK(std::is_same_v<tn::train::logits_shape<softmax_net>, tn::shape<3>>);
}

TEST_CASE("training: the loss, hand-derived") {
  // Logits (0, ln 2, ln 3, 0) for label 2: softmax (1, 2, 3, 1) / 7, loss ln 7 - ln 3.
  const float z[4] = {0.f, static_cast<float>(std::log(2.0)), static_cast<float>(std::log(3.0)), 0.f};
  const std::int64_t label = 2;
  float dz[4];
  const double loss = tn::train::softmax_cross_entropy(z, &label, 1, 4, dz);
  CHECK(loss == doctest::Approx(std::log(7.0 / 3.0)).epsilon(1e-7));
  CHECK(dz[0] == doctest::Approx(1.0 / 7).epsilon(1e-6));
  CHECK(dz[1] == doctest::Approx(2.0 / 7).epsilon(1e-6));
  CHECK(dz[2] == doctest::Approx(3.0 / 7 - 1).epsilon(1e-6));
  // Huge logits neither overflow nor lose the gradient.
  const float big[2] = {3000.f, 2999.f};
  const std::int64_t zero = 0;
  const double l2 = tn::train::softmax_cross_entropy(big, &zero, 1, 2, dz);
  CHECK(l2 == doctest::Approx(std::log1p(std::exp(-1.0))).epsilon(1e-6));
  CHECK(dz[1] == doctest::Approx(1 / (1 + std::exp(1.0))).epsilon(1e-6));
}

TEST_CASE("training: SGD with momentum and weight decay, hand-derived") {
  struct one : tn::network<tn::input<1>, tn::dense<1, tn::no_bias>> {};
  tn::params<one> p, g;
  p.data()[0] = 1.f;
  g.data()[0] = 0.5f;
  tn::train::sgd<one> opt({.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.1f});
  opt.step(p, g);  // d = 0.5 + 0.1 x 1 = 0.6, b = 0.6, p = 1 - 0.06
  CHECK(p.data()[0] == doctest::Approx(0.94).epsilon(1e-6));
  opt.step(p, g);  // d = 0.5 + 0.094 = 0.594, b = 0.54 + 0.594 = 1.134, p = 0.94 - 0.1134
  CHECK(p.data()[0] == doctest::Approx(0.8266).epsilon(1e-6));
  CHECK(opt.momentum_buffers().data()[0] == doctest::Approx(1.134).epsilon(1e-6));
  // Running statistics are buffers: SGD leaves them alone.
  tn::params<batch_norm_net> q, h;
  tn::init_he(q, 3);
  tn::fill_uniform(h.span(), 4);
  const tn::params<batch_norm_net> before = q;
  tn::train::sgd<batch_norm_net> bn_opt;
  bn_opt.step(q, h);
  for (tn::param_tensor& t : q.tensors()) {
    const float* old = before.data() + (t.data.data() - q.data());
    bool changed = false;
    for (std::size_t i = 0; i < t.data.size(); ++i) changed |= t.data[i] != old[i];
    CHECK_MESSAGE(changed == !t.buffer, t.name);
  }
  CHECK_THROWS_WITH_AS(tn::train::sgd<one>({.lr = -1.f}),
                       doctest::Contains("lr, momentum and weight decay must be finite and >= 0"),
                       std::invalid_argument);
}

TEST_CASE("training: batch norm updates its running statistics as PyTorch does") {
  struct bn : tn::network<tn::input<1, 1, 2>, tn::batch_norm, tn::flatten, tn::dense<2>> {};
  tn::params<bn> p;
  tn::init_he(p, 1);
  // One channel, values 1, 3 (image 0) and 5, 7 (image 1): mean 4, biased variance 5, unbiased 20/3.
  const float x[4] = {1.f, 3.f, 5.f, 7.f};
  const std::int64_t labels[2] = {0, 1};
  tn::train::trainer<bn, tn::exec::reference_t> t(p, 2);
  t.forward_backward(x, labels, 2);
  auto tensors = p.tensors();
  CHECK(tensors[2].name == "0.running_mean");
  CHECK(tensors[2].data[0] == doctest::Approx(0.1 * 4).epsilon(1e-6));
  CHECK(tensors[3].data[0] == doctest::Approx(0.9 + 0.1 * 20.0 / 3).epsilon(1e-6));
}

TEST_CASE("training: errors") {
  tn::params<tn::zoo::lenet5> p;
  tn::init_he(p, 1);
  tn::train::trainer<tn::zoo::lenet5, tn::exec::reference_t> t(p, 2);
  std::vector<float> x(2 * 1024, 0.5f);
  const std::int64_t bad[2] = {3, 10};
  CHECK_THROWS_WITH_AS(t.forward_backward(x.data(), bad, 2), "typenet: training: label 10 of image 1 is outside 0..9",
                       std::invalid_argument);
  const std::int64_t good[2] = {3, 4};
  CHECK_THROWS_WITH_AS(t.forward_backward(x.data(), good, 3),
                       "typenet: training: batch 3 is outside 1..2 (the trainer's max_batch)", std::invalid_argument);
  CHECK_THROWS_AS((tn::train::trainer<tn::zoo::lenet5, tn::exec::reference_t>(p, 0)), std::invalid_argument);
  struct flat_bn : tn::network<tn::input<4>, tn::dense<3>, tn::batch_norm> {};
  tn::params<flat_bn> q;
  tn::init_he(q, 1);
  tn::train::trainer<flat_bn, tn::exec::reference_t> u(q, 2);
  const std::int64_t one_label[1] = {0};
  CHECK_THROWS_WITH_AS(u.forward_backward(x.data(), one_label, 1),
                       "typenet: training: batch norm at 1 needs more than one value per channel; batch 1 gives one",
                       std::invalid_argument);
}

namespace {
// clang-format off
struct resume_net : tn::network<tn::input<2, 6, 6>,
    tn::conv2d<4, tn::kernel<3>, tn::no_bias>, tn::batch_norm, tn::relu, tn::flatten, tn::dropout<30>,
    tn::dense<3>> {};
// clang-format on

struct run {
  tn::params<resume_net> p;
  tn::train::sgd<resume_net> opt{{.lr = 0.05f, .momentum = 0.9f, .weight_decay = 1e-3f}};
};

// Trains steps [from, to) of a run whose data, dropout and initialisation come from seed 5.
void train_steps(run& r, const std::vector<float>& images, const std::vector<std::int64_t>& labels, std::int64_t from,
                 std::int64_t to) {
  tn::train::batch_loader<resume_net> data(images, labels, {.batch = 6, .seed = 5, .pad_crop = 1, .flip = true});
  data.start_at(from);
  tn::train::trainer<resume_net, tn::exec::reference_t> t(r.p, 6, {.dropout = true, .seed = 5});
  t.set_steps(from);
  for (std::int64_t s = from; s < to; ++s) {
    const tn::train::batch& b = data.next();
    REQUIRE(b.step == s);
    t.forward_backward(b.images, b.labels, b.size);
    r.opt.step(r.p, t.grads());
  }
}
}  // namespace

TEST_CASE("training: a resumed run equals an uninterrupted one, bit for bit") {
  // 20 images in batches of 6: epochs of 6 + 6 + 6 + 2, so 9 steps cross an epoch boundary (a new
  // permutation) and the checkpoint at step 4 falls inside the second epoch.
  std::vector<float> images(20 * 72);
  tn::fill_uniform(images, 8);
  std::vector<std::int64_t> labels(20);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>(i % 3);

  run whole;
  tn::init_he(whole.p, 5);
  train_steps(whole, images, labels, 0, 9);

  run first;
  tn::init_he(first.p, 5);
  train_steps(first, images, labels, 0, 4);
  const std::filesystem::path file = std::filesystem::temp_directory_path() / "typenet_resume_test.safetensors";
  tn::train::save_checkpoint(file, first.p, first.opt, 4);

  run second;  // a new process, as far as the state goes: nothing but the file
  CHECK(tn::train::load_checkpoint(file, second.p, second.opt) == 4);
  CHECK(second.opt.steps() == 4);
  train_steps(second, images, labels, 4, 9);
  std::filesystem::remove(file);

  CHECK(std::memcmp(whole.p.data(), second.p.data(), sizeof(float) * tn::params<resume_net>::count) == 0);
  CHECK(std::memcmp(whole.opt.momentum_buffers().data(), second.opt.momentum_buffers().data(),
                    sizeof(float) * tn::params<resume_net>::count) == 0);
  // And the run did move: the parameters are not where they started.
  tn::params<resume_net> start;
  tn::init_he(start, 5);
  CHECK(std::memcmp(whole.p.data(), start.data(), sizeof(float) * tn::params<resume_net>::count) != 0);
}

TEST_CASE("training: a checkpoint that does not fit the network is refused, naming the key") {
  struct other : tn::network<tn::input<2, 6, 6>, tn::conv2d<5, tn::kernel<3>, tn::no_bias>, tn::batch_norm, tn::relu,
                             tn::flatten, tn::dropout<30>, tn::dense<3>> {};
  tn::params<other> p;
  tn::train::sgd<other> opt;
  const std::filesystem::path file = std::filesystem::temp_directory_path() / "typenet_other_checkpoint.safetensors";
  tn::train::save_checkpoint(file, p, opt, 3);
  run r;
  tn::init_he(r.p, 5);
  const tn::params<resume_net> before = r.p;
  CHECK_THROWS_WITH_AS(tn::train::load_checkpoint(file, r.p, r.opt), doctest::Contains("0.weight"), tn::io::io_error);
  CHECK(std::memcmp(before.data(), r.p.data(), sizeof(float) * tn::params<resume_net>::count) == 0);
  // Weights alone are not a checkpoint.
  tn::io::save_weights(file, r.p);
  CHECK_THROWS_WITH_AS(tn::train::load_checkpoint(file, r.p, r.opt), doctest::Contains("typenet.step"),
                       tn::io::io_error);
  std::filesystem::remove(file);
}

TEST_CASE("training: batches cover every image once per epoch, shuffled, normalised, augmented") {
  struct flat : tn::network<tn::input<1, 1, 4>, tn::flatten, tn::dense<2>> {};
  // Image i is (i, i, i, 10 + i); label i.
  std::vector<float> images;
  std::vector<std::int64_t> labels;
  for (int i = 0; i < 10; ++i) {
    images.insert(images.end(), {float(i), float(i), float(i), float(10 + i)});
    labels.push_back(i);
  }
  tn::train::batch_loader<flat> data(images, labels, {.batch = 4, .seed = 3, .mean = {1.f}, .std = {2.f}});
  CHECK(data.batches_per_epoch() == 3);
  std::vector<std::int64_t> first_epoch, second_epoch;
  for (int step = 0; step < 6; ++step) {
    const tn::train::batch& b = data.next();
    CHECK(b.step == step);
    CHECK(b.size == (step % 3 == 2 ? 2 : 4));
    for (int j = 0; j < b.size; ++j) {
      const std::int64_t label = b.labels[j];
      (step < 3 ? first_epoch : second_epoch).push_back(label);
      // Normalised: (x - 1) / 2; no augmentation asked for.
      CHECK(b.images[4 * j] == doctest::Approx((label - 1) / 2.0));
      CHECK(b.images[4 * j + 3] == doctest::Approx((10 + label - 1) / 2.0));
    }
  }
  CHECK(std::set<std::int64_t>(first_epoch.begin(), first_epoch.end()).size() == 10);
  CHECK(std::set<std::int64_t>(second_epoch.begin(), second_epoch.end()).size() == 10);
  CHECK(first_epoch != second_epoch);  // a new permutation each epoch
  std::vector<std::int64_t> sorted = first_epoch;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted != first_epoch);

  // Flips mirror the row (some images, not all); crops shift it within the zero padding.
  tn::train::batch_loader<flat> flips(images, labels, {.batch = 10, .seed = 4, .flip = true});
  const tn::train::batch& b = flips.next();
  int mirrored = 0;
  for (int j = 0; j < b.size; ++j) {
    const float* x = b.images + 4 * j;
    const float l = static_cast<float>(b.labels[j]);
    const bool same = x[0] == l && x[3] == 10 + l, mirror = x[0] == 10 + l && x[3] == l;
    CHECK((same || mirror));
    mirrored += mirror ? 1 : 0;
  }
  CHECK(mirrored > 0);
  CHECK(mirrored < 10);
  tn::train::batch_loader<flat> crops(images, labels, {.batch = 10, .seed = 4, .pad_crop = 1});
  const tn::train::batch& c = crops.next();
  int shifted = 0;
  for (int j = 0; j < c.size; ++j) {
    const float* x = c.images + 4 * j;
    const float l = static_cast<float>(c.labels[j]);
    // Offsets -1, 0, 1 in each direction; a row shift of a 1-row image leaves only zeros.
    const bool kept = x[0] == l && x[3] == 10 + l, left = x[0] == l && x[2] == 10 + l && x[3] == 0.f,
               right = x[0] == 0.f && x[1] == l && x[3] == l, zeros = x[0] == 0.f && x[3] == 0.f;
    CHECK((kept || left || right || zeros));
    shifted += kept ? 0 : 1;
  }
  CHECK(shifted > 0);
}
