// exec::simd's forward pass allocates nothing: operator new (every form) and malloc, calloc, realloc,
// aligned_alloc, posix_memalign and memalign are replaced in this program by counting versions, and the
// counter must not move during forward() on a built model, with 1 and 2 threads, at every batch size,
// for every zoo network (include/typenet/zoo/networks.hpp) and networks with every stage kind.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include <typenet/train.hpp>
#include <typenet/train/simd.hpp>
#include <typenet/zoo/networks.hpp>

#include "simd_util.hpp"

namespace {
std::atomic<long> allocations{0};
}  // namespace

// glibc's own entry points, so the replacements below can forward to them.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);

void* malloc(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t s) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, s);
}
void* realloc(void* p, std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(a, n);
}
void* memalign(std::size_t a, std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = __libc_memalign(a, n);
  if (p == nullptr) return 12;  // ENOMEM
  *out = p;
  return 0;
}
void free(void* p) { __libc_free(p); }
}

namespace {
void* counted_new(std::size_t n, std::size_t align) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = align <= alignof(std::max_align_t) ? __libc_malloc(n == 0 ? 1 : n) : __libc_memalign(align, n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted_new(n, 0); }
void* operator new[](std::size_t n) { return counted_new(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_new(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_new(n, static_cast<std::size_t>(a)); }
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete[](void* p) noexcept { __libc_free(p); }
void operator delete(void* p, std::size_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::size_t) noexcept { __libc_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { __libc_free(p); }

namespace tn = typenet;

TEST_CASE("the counter sees operator new, malloc and aligned_alloc") {
  const long before = allocations.load();
  auto* v = new std::vector<float>(100);  // two: the vector and its storage
  void* m = std::malloc(16);
  void* a = std::aligned_alloc(64, 128);
  CHECK(allocations.load() - before == 4);
  std::free(a);
  std::free(m);
  delete v;
}

template <class Net, class Policy = tn::exec::simd<>>
void check_no_allocation(int max_batch, int threads) {
  tn::params<Net> p;
  tn::init_he(p, 3);
  Policy policy;
  policy.threads = threads;
  std::vector<float> in(static_cast<std::size_t>(max_batch * Net::input_shape::size));
  std::vector<float> out(static_cast<std::size_t>(max_batch * Net::output_shape::size));
  tn::fill_uniform(in, 9);
  if constexpr (requires { policy.ranges; }) policy.ranges = tn::exec::calibrate<Net>(p, in, max_batch);  // int8
  tn::model<Net, Policy> m(p, max_batch, policy);
  m.forward(in.data(), out.data(), max_batch);  // warm: first use of the pool's threads
  const long before = allocations.load();
  for (int batch = 1; batch <= max_batch; ++batch)
    for (int rep = 0; rep < 2; ++rep) m.forward(in.data(), out.data(), batch);
  CHECK(allocations.load() - before == 0);
}

TEST_CASE("simd forward allocates nothing: lenet5") {
  check_no_allocation<tn::zoo::lenet5>(4, 1);
  check_no_allocation<tn::zoo::lenet5>(4, 2);
}
TEST_CASE("simd forward allocates nothing: caffe_alexnet (lrn, groups, ceil pools)") {
  check_no_allocation<tn::zoo::caffe_alexnet>(2, 2);
}
TEST_CASE("simd forward allocates nothing: seed_alexnet") {
  check_no_allocation<tn::zoo::seed_alexnet>(2, 1);
  check_no_allocation<tn::zoo::seed_alexnet>(2, 2);
}
TEST_CASE("simd forward allocates nothing: torchvision_alexnet (floor conv1, adaptive pool)") {
  check_no_allocation<tn::zoo::torchvision_alexnet>(2, 1);
  check_no_allocation<tn::zoo::torchvision_alexnet>(2, 2);
}

TEST_CASE("simd forward allocates nothing: the graph networks (resnet18, resnet50, mobilenet_v2, squeezenet1_1)") {
  check_no_allocation<tn::zoo::resnet18>(2, 2);
  check_no_allocation<tn::zoo::resnet50>(1, 2);
  check_no_allocation<tn::zoo::mobilenet_v2>(2, 1);
  check_no_allocation<tn::zoo::mobilenet_v2>(2, 2);
  check_no_allocation<tn::zoo::squeezenet1_1>(2, 2);
}

namespace {
// Every layer kind and stage shape of exec::simd that the zoo networks leave out: stand-alone relu, lrn,
// pools (ceil, padded) and adaptive pooling (pooling and upsampling), a Winograd convolution, conv + avg
// pool fused, a spatial output. (Every zoo network is listed above; a new one needs a line too.)
struct every_stage : tn::network<tn::input<5, 12, 12>, tn::relu, tn::lrn<3>,
                                 tn::max_pool<tn::kernel<3>, tn::stride<1>, tn::pad<1>>,                 // 5 x 12 x 12
                                 tn::conv2d<20, tn::kernel<3>, tn::pad<1>>, tn::relu,                    // Winograd
                                 tn::conv2d<20, tn::kernel<2>>, tn::relu, tn::lrn<4>,                    // 20 x 11 x 11
                                 tn::avg_pool<tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::ceil_mode>,  // 20 x 6 x 6
                                 tn::adaptive_avg_pool<4, 4>, tn::adaptive_avg_pool<7, 5>,               // 20 x 7 x 5
                                 tn::avg_pool<tn::kernel<2>, tn::stride<2>, tn::ceil_mode>, tn::relu> {};  // 20 x 4 x 3
struct every_flat_stage : tn::network<tn::input<20, 4, 4>, tn::adaptive_avg_pool<2, 2>, tn::flatten, tn::dropout<50>,
                                      tn::dense<30>, tn::relu, tn::dense<7>, tn::softmax> {};
}  // namespace

TEST_CASE("simd forward allocates nothing: every stage kind (stand-alone layers, adaptive pooling, Winograd)") {
  check_no_allocation<every_stage>(3, 1);
  check_no_allocation<every_stage>(3, 2);
  check_no_allocation<every_flat_stage>(3, 1);
  check_no_allocation<every_flat_stage>(3, 2);
}

#if TYPENET_HAS_BF16
TEST_CASE("bf16 forward allocates nothing: lenet5, seed_alexnet, every stage kind, resnet18, mobilenet_v2" *
          doctest::skip(!tn::exec::bf16_available())) {
  using bf16 = tn::exec::simd<xsimd::default_arch, tn::precision::bf16>;
  check_no_allocation<tn::zoo::lenet5, bf16>(9, 2);
  check_no_allocation<tn::zoo::seed_alexnet, bf16>(2, 2);
  check_no_allocation<every_stage, bf16>(3, 2);
  check_no_allocation<every_flat_stage, bf16>(9, 1);
  check_no_allocation<tn::zoo::resnet18, bf16>(2, 2);
  check_no_allocation<tn::zoo::mobilenet_v2, bf16>(2, 2);
}
#endif

#if TYPENET_HAS_VNNI
TEST_CASE("int8 forward allocates nothing: lenet5, seed_alexnet, the graph networks" *
          doctest::skip(!tn::exec::int8_available())) {
  using int8 = tn::exec::simd<xsimd::default_arch, tn::precision::int8>;
  check_no_allocation<tn::zoo::lenet5, int8>(9, 2);
  check_no_allocation<tn::zoo::seed_alexnet, int8>(2, 2);
  check_no_allocation<every_stage, int8>(3, 2);
  check_no_allocation<tn::zoo::resnet18, int8>(2, 2);
  check_no_allocation<tn::zoo::mobilenet_v2, int8>(2, 1);
  check_no_allocation<tn::zoo::squeezenet1_1, int8>(2, 2);
}
#endif

// A training step of exec::simd (forward, loss, backward) and an SGD update allocate nothing after the
// trainer is built.
template <class Net>
void check_no_allocation_in_training(int max_batch, int threads) {
  tn::params<Net> p;
  tn::init_he(p, 3);
  tn::exec::simd<> policy;
  policy.threads = threads;
  tn::train::trainer<Net, tn::exec::simd<>> t(p, max_batch, {.dropout = true, .seed = 2}, policy);
  tn::train::sgd<Net> opt;
  std::vector<float> in(static_cast<std::size_t>(max_batch * Net::input_shape::size));
  tn::fill_uniform(in, 9);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(max_batch), 1);
  t.forward_backward(in.data(), labels.data(), max_batch);  // warm: first use of the pool's threads
  const long before = allocations.load();
  for (int batch = 2; batch <= max_batch; ++batch) {
    t.forward_backward(in.data(), labels.data(), batch);
    opt.step(p, t.grads());
  }
  CHECK(allocations.load() - before == 0);
}

TEST_CASE("simd training allocates nothing per step: lenet5, every flat stage, squeezenet1_1") {
  check_no_allocation_in_training<tn::zoo::lenet5>(4, 2);
  check_no_allocation_in_training<every_flat_stage>(3, 2);
  check_no_allocation_in_training<tn::zoo::squeezenet1_1>(2, 2);
}
