// bench/ab/model.cpp: one side of an A/B comparison of two versions of typenet's headers (bench/ab/ab.sh).
// Built once per version into a shared library with hidden symbols, so that both versions' inline
// functions live in one process without clashing; the driver (driver.cpp) loads both and alternates their
// forward passes. TYPENET_AB_NET names the zoo network (e.g. resnet50).
#include <typenet/exec/simd.hpp>
#include <typenet/typenet.hpp>
#include <typenet/zoo/networks.hpp>

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace tn = typenet;
using net = tn::zoo::TYPENET_AB_NET;

struct side {
  std::unique_ptr<tn::params<net>> p = std::make_unique<tn::params<net>>();
  std::vector<float> x, y;
  std::unique_ptr<tn::model<net, tn::exec::simd<>>> m;
  int batch = 1;
};

}  // namespace

#define TYPENET_AB_EXPORT extern "C" __attribute__((visibility("default")))

/// A model of `batch` images on `threads` threads, He weights (seed 1), a uniform input (seed 2), one warm-up
/// pass; null on failure (the message on stderr).
TYPENET_AB_EXPORT void* typenet_ab_make(int batch, int threads) {
  try {
    auto s = std::make_unique<side>();
    s->batch = batch;
    tn::init_he(*s->p, 1);
    s->x.resize(std::size_t(batch) * net::input_shape::size);
    s->y.resize(std::size_t(batch) * net::output_shape::size);
    tn::fill_uniform(s->x, 2);
    tn::exec::simd<> policy;
    policy.threads = threads;
    s->m = std::make_unique<tn::model<net, tn::exec::simd<>>>(*s->p, batch, policy);
    s->m->forward(s->x.data(), s->y.data(), batch);
    return s.release();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "typenet_ab_make: %s\n", e.what());
    return nullptr;
  }
}

/// One timed forward pass (program::time_ops): op i's time into ms[i] (at most `capacity` ops), the ops'
/// names, one per line, into names (at most names_size bytes with the terminator), the sum of the outputs
/// into *checksum. Returns the op count, or -1 when the buffers are too small.
TYPENET_AB_EXPORT int typenet_ab_pass(void* handle, double* ms, int capacity, char* names, int names_size,
                                      double* checksum) {
  auto* s = static_cast<side*>(handle);
  const auto t = s->m->program().time_ops(s->x.data(), s->y.data(), s->batch, 1);
  std::string text;
  for (const auto& op : t) text += op.name + "\n";
  if (static_cast<int>(t.size()) > capacity || static_cast<int>(text.size()) >= names_size) return -1;
  for (std::size_t i = 0; i < t.size(); ++i) ms[i] = t[i].ms;
  std::memcpy(names, text.c_str(), text.size() + 1);
  double sum = 0;
  for (float v : s->y) sum += v;
  *checksum = sum;
  return static_cast<int>(t.size());
}
