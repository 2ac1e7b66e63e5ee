// run() allocates nothing: every operator new in this program is counted, and a forward pass on a built
// model must not move the counter.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include <typenet/train.hpp>
#include <typenet/train/elementwise.hpp>
#include <typenet/zoo/networks.hpp>

#include "../train_compare.hpp"
#include "reference_util.hpp"

namespace {
std::atomic<long> allocations{0};

void* counted_alloc(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* counted_aligned_alloc(std::size_t n, std::align_val_t a) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  const std::size_t align = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(align, ((n == 0 ? 1 : n) + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_aligned_alloc(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_aligned_alloc(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace tn = typenet;

TEST_CASE("the allocation counter sees operator new") {
  const long before = allocations.load();
  auto* v = new std::vector<float>(100);
  CHECK(allocations.load() - before == 2);  // the vector object and its storage
  delete v;
}

template <class Net>
void check_no_allocation_in_forward(int max_batch) {
  tn::params<Net> p;
  tn::init_he(p, 11);
  tn::model<Net, tn::exec::reference_t> m(p, max_batch);
  std::vector<float> in(static_cast<std::size_t>(max_batch * Net::input_shape::size));
  std::vector<float> out(static_cast<std::size_t>(max_batch * Net::output_shape::size));
  tn::fill_uniform(in, 5);
  const long before = allocations.load();
  for (int batch = 1; batch <= max_batch; ++batch) {
    m.forward(std::span<const float>(in.data(), static_cast<std::size_t>(batch * Net::input_shape::size)),
              std::span<float>(out.data(), static_cast<std::size_t>(batch * Net::output_shape::size)), batch);
    m.forward(in.data(), out.data(), batch);
  }
  CHECK(allocations.load() == before);
}

TEST_CASE("exec::reference: forward allocates nothing (lenet5)") { check_no_allocation_in_forward<tn::zoo::lenet5>(3); }
// Every other zoo network (include/typenet/zoo/networks.hpp; a new one needs a line here), at max batch 1
// (the reference is slow on the AlexNets).
TEST_CASE("exec::reference: forward allocates nothing (seed_alexnet)") {
  check_no_allocation_in_forward<tn::zoo::seed_alexnet>(1);
}
TEST_CASE("exec::reference: forward allocates nothing (torchvision_alexnet: adaptive pool)") {
  check_no_allocation_in_forward<tn::zoo::torchvision_alexnet>(1);
}
TEST_CASE("exec::reference: forward allocates nothing (caffe_alexnet: lrn, groups, ceil pools)") {
  check_no_allocation_in_forward<tn::zoo::caffe_alexnet>(1);
}
TEST_CASE("exec::reference: forward allocates nothing (graph networks: residual, concat, batch norm)") {
  check_no_allocation_in_forward<tn::zoo::resnet18>(1);
  check_no_allocation_in_forward<tn::zoo::mobilenet_v2>(1);
  check_no_allocation_in_forward<tn::zoo::squeezenet1_1>(2);
}

namespace {
struct every_kind : tn::network<tn::input<3, 9, 9>, tn::conv2d<4, tn::kernel<3>, tn::pad<1>>, tn::relu, tn::lrn<3>,
                                tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>,
                                tn::avg_pool<tn::kernel<2>, tn::floor_mode>, tn::adaptive_avg_pool<2>, tn::flatten,
                                tn::dropout<50>, tn::dense<5>, tn::softmax> {};
}  // namespace

TEST_CASE("exec::reference: forward allocates nothing (every layer kind)") {
  check_no_allocation_in_forward<every_kind>(2);
}

// A training step (forward, loss, backward) and an SGD update allocate nothing after construction.
// Trainer: exec::reference's, or the element-wise program (exec::cuda's) on the host executor, whose
// step copies parameters, input, gradients and logits to and from buffers it made when it was built.
template <class Net, class Trainer = tn::train::trainer<Net, tn::exec::reference_t>>
void check_no_allocation_in_training(int max_batch) {
  tn::params<Net> p;
  tn::init_he(p, 11);
  Trainer t(p, max_batch, {.dropout = true, .seed = 3});
  tn::train::sgd<Net> opt;
  std::vector<float> in(static_cast<std::size_t>(max_batch * Net::input_shape::size));
  tn::fill_uniform(in, 5);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(max_batch), 1);
  const long before = allocations.load();
  for (int batch = 2; batch <= max_batch; ++batch) {
    t.forward_backward(in.data(), labels.data(), batch);
    opt.step(p, t.grads());
  }
  CHECK(allocations.load() == before);
}

TEST_CASE("training with exec::reference allocates nothing per step (every layer kind, lenet5)") {
  check_no_allocation_in_training<every_kind>(3);
  check_no_allocation_in_training<tn::zoo::lenet5>(3);
}
TEST_CASE("training with exec::reference allocates nothing per step (graph networks: squeezenet1_1)") {
  check_no_allocation_in_training<tn::zoo::squeezenet1_1>(2);
}
template <class Net>
using elementwise_on_host = tn::train::detail::elementwise_program<Net, tn::train::detail::host_executor<>>;

TEST_CASE("the element-wise training program (exec::cuda's) allocates nothing per step (every layer kind, blocks)") {
  check_no_allocation_in_training<every_kind, elementwise_on_host<every_kind>>(3);
  check_no_allocation_in_training<train_compare::mixed_net, elementwise_on_host<train_compare::mixed_net>>(3);
}

TEST_CASE("exec::reference with .borrow = true: no copy of the weights, and it reads the caller's") {
  using Net = tn::zoo::lenet5;
  tn::params<Net> p;
  tn::init_he(p, 21);
  tn::model<Net, tn::exec::reference_t> copy(p, 2);
  tn::model<Net, tn::exec::reference_t> view(p, 2, {.borrow = true});
  // The borrowing program holds no params of its own and reads the caller's buffer; the other, a copy.
  CHECK(view.program().borrows());
  CHECK(view.program().weights() == p.data());
  CHECK(!copy.program().borrows());
  CHECK(copy.program().weights() != p.data());

  std::vector<float> in(2 * Net::input_shape::size), a(2 * Net::output_shape::size), b(a.size());
  tn::fill_uniform(in, 3);
  copy.forward(in, a, 2);
  view.forward(in, b, 2);
  CHECK(a == b);
  // A change to the caller's weights reaches the borrowing model only.
  for (float& w : p.span()) w *= 2;
  copy.forward(in, a, 2);
  view.forward(in, b, 2);
  std::vector<float> c(a.size());
  tn::model<Net, tn::exec::reference_t>(p, 2).forward(in, c, 2);
  CHECK(b == c);
  CHECK(a != b);
  // A moved borrowing model still reads the caller's weights.
  tn::model<Net, tn::exec::reference_t> moved(std::move(view));
  std::vector<float> d(a.size());
  moved.forward(in, d, 2);
  CHECK(d == c);
}
