// typenet/detail/thread_pool.hpp: a small persistent fork-join pool of std::threads.
//
//   detail::thread_pool pool(2);                          // the calling thread plus one worker
//   pool.run([&](int t, int n) { ... share t of n ... });  // returns when every share is done
//
// Workers are created once, in the constructor, and live until the destructor. run() allocates
// nothing: the job is passed as a pointer to the caller's callable plus a plain function pointer
// that invokes it. The caller runs share 0 itself. Waiting threads spin briefly (a fork-join on a
// quiet machine costs about a microsecond) and then block on C++20 atomic wait/notify (a futex on
// Linux), so an idle pool does not burn the CPU other processes need.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "../config.hpp"

namespace typenet::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

class thread_pool {
 public:
  /// `threads` is the total number of threads that run a job, the caller included (at least 1).
  explicit thread_pool(int threads) : size_(threads) {
    if (threads < 1)
      throw std::invalid_argument("typenet: thread_pool: threads must be at least 1, got " + std::to_string(threads));
    workers_.reserve(static_cast<std::size_t>(threads - 1));
    try {
      for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { worker(t); });
    } catch (...) {
      stop();
      throw;
    }
  }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  ~thread_pool() { stop(); }

  int size() const noexcept { return size_; }

  /// Runs f(t, size()) for t in [0, size()) on the pool's threads (t = 0 on the caller) and waits for
  /// all of them. Jobs must not throw (the kernels do not); run() is not reentrant.
  template <class F>
  void run(F& f) {
    if (size_ == 1) {
      f(0, 1);
      return;
    }
    run_job(&f, [](void* p, int t, int n) { (*static_cast<F*>(p))(t, n); });
  }

 private:
  static constexpr int spin_limit = 1 << 14;

  // run()'s body, compiled once for every job type (a network's executors bring dozens of them): the job is
  // a pointer to the caller's callable and a function that invokes it.
  TYPENET_NOINLINE void run_job(void* job, void (*invoke)(void*, int, int)) {
    job_ = job;
    invoke_ = invoke;
    pending_.store(size_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    invoke(job, 0, size_);
    // Wait for the workers: spin, then block.
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
      if (spin < spin_limit) {
        cpu_relax();
      } else {
        const int left = pending_.load(std::memory_order_acquire);
        if (left != 0) pending_.wait(left, std::memory_order_acquire);
      }
    }
  }

  void worker(int t) {
    std::uint64_t seen = 0;
    for (;;) {
      std::uint64_t g = generation_.load(std::memory_order_acquire);
      for (int spin = 0; g == seen; ++spin) {
        if (spin < spin_limit)
          cpu_relax();
        else
          generation_.wait(g, std::memory_order_acquire);
        g = generation_.load(std::memory_order_acquire);
      }
      seen = g;
      if (stopping_.load(std::memory_order_acquire)) return;
      invoke_(job_, t, size_);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
  }

  void stop() noexcept {
    stopping_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (std::thread& w : workers_)
      if (w.joinable()) w.join();
    workers_.clear();
  }

  int size_;
  std::vector<std::thread> workers_;
  void* job_ = nullptr;
  void (*invoke_)(void*, int, int) = nullptr;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stopping_{false};
};

/// The half-open range [begin, end) of share t of n over `count` items, in contiguous even pieces.
struct share_range {
  std::int64_t begin, end;
};
inline share_range split(std::int64_t count, int t, int n) noexcept { return {count * t / n, count * (t + 1) / n}; }

}  // namespace typenet::detail
