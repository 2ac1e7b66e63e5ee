// Copy, move and assignment of the owning types: params<Net> and model<Net, Policy>. A moved-from
// params is empty (using it throws std::logic_error, assigning to it makes it usable again); a
// moved-from model throws std::logic_error from forward(). Run under ASan in CI, where a use of a
// moved-from buffer would be reported.
#include <doctest/doctest.h>

#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include <typenet/exec/reference.hpp>
#include <typenet/exec/simd.hpp>
#include <typenet/zoo/lenet.hpp>

namespace tn = typenet;
using net = tn::zoo::lenet5;
using ref_model = tn::model<net, tn::exec::reference_t>;
using simd_model = tn::model<net, tn::exec::simd<>>;

static_assert(std::is_copy_constructible_v<tn::params<net>> && std::is_copy_assignable_v<tn::params<net>>);
static_assert(std::is_nothrow_move_constructible_v<tn::params<net>> &&
              std::is_nothrow_move_assignable_v<tn::params<net>>);
// exec::reference's program owns unique buffers: its model moves but does not copy.
static_assert(std::is_move_constructible_v<ref_model> && std::is_move_assignable_v<ref_model>);
static_assert(!std::is_copy_constructible_v<ref_model> && !std::is_copy_assignable_v<ref_model>);
// exec::simd's program owns a thread pool: its model neither copies nor moves.
static_assert(!std::is_move_constructible_v<simd_model> && !std::is_copy_constructible_v<simd_model>);

namespace {

std::vector<float> values_of(const tn::params<net>& p) { return {p.data(), p.data() + tn::params<net>::count}; }

tn::params<net> seeded(std::uint64_t seed) {
  tn::params<net> p;
  tn::init_he(p, seed);
  return p;
}

std::vector<float> input(int batch) {
  std::vector<float> x(static_cast<std::size_t>(batch * net::input_shape::size));
  tn::fill_uniform(x, 77);
  return x;
}

// Logits of `batch` images through a freshly built reference model: the independent expectation.
std::vector<float> logits(const tn::params<net>& p, int batch) {
  ref_model m(p, batch);
  std::vector<float> out(static_cast<std::size_t>(batch * net::output_shape::size));
  m.forward(input(batch), out, batch);
  return out;
}

std::vector<float> run(ref_model& m, int batch) {
  std::vector<float> out(static_cast<std::size_t>(batch * net::output_shape::size));
  m.forward(input(batch), out, batch);
  return out;
}

}  // namespace

TEST_CASE("params: copies are deep and independent") {
  const auto a = seeded(1);
  const auto expected = values_of(a);
  tn::params<net> b = a;
  CHECK(b.data() != a.data());
  CHECK(values_of(b) == expected);
  b.span()[0] += 1.0f;
  CHECK(values_of(a) == expected);

  tn::params<net> c = seeded(2);
  c = a;
  CHECK(c.data() != a.data());
  CHECK(values_of(c) == expected);
  const auto& same = c;
  c = same;  // self-assignment keeps the values
  CHECK(values_of(c) == expected);
}

TEST_CASE("params: moving hands over the buffer and leaves the source empty") {
  auto a = seeded(3);
  const auto expected = values_of(a);
  const float* buffer = a.data();
  tn::params<net> b = std::move(a);
  CHECK(b.data() == buffer);
  CHECK(values_of(b) == expected);
  CHECK(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is what is tested
  CHECK(a.data() == nullptr);
  CHECK_FALSE(b.empty());

  tn::params<net> c = seeded(4);
  c = std::move(b);
  CHECK(c.data() == buffer);
  CHECK(b.empty());
  auto& same = c;
  c = std::move(same);  // self-move keeps the buffer
  CHECK(c.data() == buffer);
  CHECK(values_of(c) == expected);
}

TEST_CASE("params: a moved-from params becomes usable again by assignment (issue 10 item 6)") {
  auto a = seeded(5);
  const auto expected = values_of(a);
  tn::params<net> b = std::move(a);
  a = b;  // segfaulted before: memcpy into a null buffer
  REQUIRE_FALSE(a.empty());
  CHECK(a.data() != b.data());
  CHECK(values_of(a) == expected);

  tn::params<net> c = std::move(a);
  a = std::move(c);
  CHECK(values_of(a) == expected);
  CHECK(c.empty());
}

TEST_CASE("params: copying an empty params gives an empty params") {
  auto a = seeded(6);
  auto b = std::move(a);
  tn::params<net> c = a;  // copy of an empty params
  CHECK(c.empty());
  tn::params<net> d = seeded(7);
  d = a;  // copy-assigning an empty params empties the target
  CHECK(d.empty());
  CHECK(d.data() == nullptr);
}

TEST_CASE("params: using a moved-from params throws std::logic_error") {
  auto a = seeded(8);
  auto b = std::move(a);
  const std::string message =
      "typenet: params: used after being moved from (it holds no buffer; assign a params to it first)";
  CHECK_THROWS_WITH_AS(a.span(), message.c_str(), std::logic_error);
  CHECK_THROWS_WITH_AS(std::as_const(a).span(), message.c_str(), std::logic_error);
  CHECK_THROWS_WITH_AS(a.tensors(), message.c_str(), std::logic_error);
  CHECK_THROWS_WITH_AS(a.weight<0>(), message.c_str(), std::logic_error);
  CHECK_THROWS_WITH_AS(std::as_const(a).bias<11>(), message.c_str(), std::logic_error);
  CHECK_THROWS_WITH_AS(tn::init_he(a, 1), message.c_str(), std::logic_error);
}

TEST_CASE("model: building from a moved-from params throws instead of crashing (issue 10 item 6)") {
  auto a = seeded(9);
  auto b = std::move(a);
  const char* message =
      "typenet: model: the params were moved from (they hold no buffer); pass a params that holds the weights";
  CHECK_THROWS_WITH_AS(ref_model(a, 2), message, std::logic_error);
  CHECK_THROWS_WITH_AS(simd_model(a, 2), message, std::logic_error);
  CHECK_THROWS_AS(ref_model(b, 0), std::invalid_argument);
}

TEST_CASE("model: a model owns its weights; the params can go away") {
  const auto p = seeded(10);
  const auto expected = logits(p, 3);
  auto q = p;
  ref_model m(q, 3);
  simd_model s(q, 3);
  { auto gone = std::move(q); }  // the buffer the models were built from is freed
  CHECK(run(m, 3) == expected);
  std::vector<float> out(static_cast<std::size_t>(3 * net::output_shape::size));
  s.forward(input(3), out, 3);
  for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i] == doctest::Approx(expected[i]).epsilon(1e-4));
}

TEST_CASE("model: moving hands over the program and leaves the source empty") {
  const auto p = seeded(11);
  const auto expected = logits(p, 2);
  ref_model a(p, 2);
  ref_model b = std::move(a);
  CHECK(b.max_batch() == 2);
  CHECK(run(b, 2) == expected);
  CHECK(a.max_batch() == 0);  // NOLINT(bugprone-use-after-move)
  const char* message = "typenet: forward: this model was moved from (it holds no program); assign a model to it first";
  CHECK_THROWS_WITH_AS(run(a, 1), message, std::logic_error);
  std::vector<float> out(net::output_shape::size);
  const auto x = input(1);
  CHECK_THROWS_WITH_AS(a.forward(x.data(), out.data(), 1), message, std::logic_error);

  // Move-assignment into the moved-from model makes it usable again, and empties the source.
  const auto p2 = seeded(12);
  const auto expected2 = logits(p2, 4);
  ref_model c(p2, 4);
  a = std::move(c);
  CHECK(a.max_batch() == 4);
  CHECK(run(a, 4) == expected2);
  CHECK(c.max_batch() == 0);
  CHECK_THROWS_AS(run(c, 1), std::logic_error);

  // Move-assignment over a live model replaces it.
  b = std::move(a);
  CHECK(b.max_batch() == 4);
  CHECK(run(b, 4) == expected2);
  CHECK_THROWS_AS(run(a, 1), std::logic_error);
}
