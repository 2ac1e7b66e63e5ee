// typenet/train/data.hpp: training batches, shuffled and augmented on a thread of their own.
//
//   tn::train::batch_loader<lenet5> data(images, labels, {.batch = 32, .seed = 1, .pad_crop = 2});
//   for (std::int64_t step = 0; step < steps; ++step) {
//     const tn::train::batch& b = data.next();   // the batch of step `step`, prepared while the last ran
//     trainer.forward_backward(b.images, b.labels, b.size);
//   }
//
// What a batch holds is a function of the seed and the step alone, so a run resumed at step k (start_at)
// sees the batches an uninterrupted run sees from step k on:
//   - epoch e = step / batches_per_epoch uses the permutation of the images drawn from (seed, e) (a
//     Fisher-Yates shuffle with splitmix64); its batches are consecutive slices of it, the last one of an
//     epoch shorter when the batch does not divide the images;
//   - image j of the batch of step s gets its augmentation from (seed, s, j): with pad_crop = P, a crop at
//     an offset in [-P, P]^2 of the image padded by P zeros on each side (the crop keeps the input size);
//     with flip, a mirror left-right with probability 1/2;
//   - then each channel c becomes (x - mean[c]) / std[c] (normalisation; mean 0 and std 1 when not given).
// The next batch is prepared on a worker thread while the caller trains on the current one; next() waits
// only when the worker is behind. All buffers are allocated at construction.
#pragma once
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../core/network.hpp"
#include "../core/params.hpp"

namespace typenet::train {

struct data_options {
  int batch = 32;
  std::uint64_t seed = 1;
  int pad_crop = 0;                  ///< P: random crops from the image padded by P (0: none)
  bool flip = false;                 ///< random left-right mirrors
  std::vector<float> mean{}, std{};  ///< per channel; empty: no normalisation
};

/// One batch: `size` images (NCHW floats) and their labels.
struct batch {
  const float* images = nullptr;
  const std::int64_t* labels = nullptr;
  int size = 0;
  std::int64_t step = 0;
};

template <Network Net>
class batch_loader {
  using in = typename Net::input_shape;
  static constexpr std::int64_t image_floats = in::size;

 public:
  /// images: N x input floats, labels: N; both are read for the loader's lifetime (not copied).
  batch_loader(std::span<const float> images, std::span<const std::int64_t> labels, data_options o)
      : images_(images), labels_(labels), o_(std::move(o)), count_(static_cast<std::int64_t>(labels.size())) {
    if (count_ < 1) throw std::invalid_argument("typenet: batch_loader: no images");
    if (static_cast<std::int64_t>(images.size()) != count_ * image_floats)
      throw std::invalid_argument("typenet: batch_loader: " + std::to_string(images.size()) + " floats of images for " +
                                  std::to_string(count_) + " labels (expected " +
                                  std::to_string(count_ * image_floats) + ")");
    if (o_.batch < 1) throw std::invalid_argument("typenet: batch_loader: batch must be at least 1");
    constexpr int channels = in::rank == 3 ? in::dims[0] : 1;
    if ((!o_.mean.empty() || !o_.std.empty()) && (o_.mean.size() != channels || o_.std.size() != channels))
      throw std::invalid_argument("typenet: batch_loader: mean and std need one value per channel (" +
                                  std::to_string(channels) + ")");
    for (float s : o_.std)
      if (!(s > 0.f)) throw std::invalid_argument("typenet: batch_loader: std must be positive");
    if (o_.pad_crop < 0 || ((o_.pad_crop > 0 || o_.flip) && in::rank != 3))
      throw std::invalid_argument("typenet: batch_loader: crops and flips need C x H x W images and pad_crop >= 0");
    for (auto& s : slots_) {
      s.images.resize(static_cast<std::size_t>(o_.batch * image_floats));
      s.labels.resize(static_cast<std::size_t>(o_.batch));
    }
    order_.resize(static_cast<std::size_t>(count_));
    worker_ = std::thread([this] { work(); });
    request(0);
  }
  batch_loader(const batch_loader&) = delete;
  batch_loader& operator=(const batch_loader&) = delete;
  ~batch_loader() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    worker_.join();
  }

  std::int64_t batches_per_epoch() const noexcept { return (count_ + o_.batch - 1) / o_.batch; }
  std::int64_t images() const noexcept { return count_; }

  /// Continues from `step` (a resumed run): the next next() returns the batch of that step.
  void start_at(std::int64_t step) { request(step); }

  /// The batch of the current step; valid until the next call. Asks the worker for the step after it.
  const batch& next() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return slots_[ready_].done; });
    slot& s = slots_[ready_];
    current_ = {s.images.data(), s.labels.data(), s.size, s.step};
    s.done = false;
    const std::int64_t following = s.step + 1;
    ready_ ^= 1;  // the worker fills the other slot while the caller trains on this one
    lock.unlock();
    request(following);
    return current_;
  }

 private:
  struct slot {
    std::vector<float> images;
    std::vector<std::int64_t> labels;
    int size = 0;
    std::int64_t step = -1;
    bool done = false;
  };

  // Points the ready slot at `step`; a fill of it under way for another step is redone.
  void request(std::int64_t step) {
    {
      std::lock_guard lock(mutex_);
      slot& s = slots_[ready_];
      s.step = step;
      s.done = false;
      pending_ = true;
    }
    changed_.notify_all();
  }

  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [&] { return stop_ || pending_; });
      if (stop_) return;
      pending_ = false;
      slot& s = slots_[ready_];
      const std::int64_t step = s.step;
      lock.unlock();
      fill(s, step);
      lock.lock();
      if (s.step == step) s.done = true;
      changed_.notify_all();
    }
  }

  // The permutation of epoch e: Fisher-Yates from (seed, e). Only the worker calls it.
  void shuffle(std::int64_t epoch) {
    if (epoch == order_epoch_) return;
    std::iota(order_.begin(), order_.end(), std::int64_t{0});
    typenet::detail::splitmix64 g{o_.seed * 0x9e3779b97f4a7c15ull ^
                                  static_cast<std::uint64_t>(epoch) * 0xbf58476d1ce4e5b9ull};
    for (std::int64_t i = count_ - 1; i > 0; --i)
      std::swap(order_[static_cast<std::size_t>(i)],
                order_[static_cast<std::size_t>(g.next() % static_cast<std::uint64_t>(i + 1))]);
    order_epoch_ = epoch;
  }

  void fill(slot& s, std::int64_t step) {
    const std::int64_t per_epoch = batches_per_epoch();
    const std::int64_t epoch = step / per_epoch, first = (step % per_epoch) * o_.batch;
    shuffle(epoch);
    s.size = static_cast<int>(std::min<std::int64_t>(o_.batch, count_ - first));
    for (int j = 0; j < s.size; ++j) {
      const std::int64_t source = order_[static_cast<std::size_t>(first + j)];
      s.labels[static_cast<std::size_t>(j)] = labels_[static_cast<std::size_t>(source)];
      const float* from = images_.data() + source * image_floats;
      float* to = s.images.data() + j * image_floats;
      typenet::detail::splitmix64 g{o_.seed * 0xd1b54a32d192ed03ull ^
                                    static_cast<std::uint64_t>(step) * 0x8cb92ba72f3d8dd7ull ^
                                    static_cast<std::uint64_t>(j) * 0x94d049bb133111ebull};
      augment(from, to, g);
    }
  }

  void augment(const float* from, float* to, typenet::detail::splitmix64& g) const {
    if constexpr (in::rank == 3) {
      constexpr int c = in::dims[0], h = in::dims[1], w = in::dims[2];
      const int p = o_.pad_crop;
      const int dy = p > 0 ? static_cast<int>(g.next() % static_cast<std::uint64_t>(2 * p + 1)) - p : 0;
      const int dx = p > 0 ? static_cast<int>(g.next() % static_cast<std::uint64_t>(2 * p + 1)) - p : 0;
      const bool mirror = o_.flip && (g.next() & 1u) != 0;
      for (int ch = 0; ch < c; ++ch) {
        const float mean = o_.mean.empty() ? 0.f : o_.mean[static_cast<std::size_t>(ch)];
        const float inv = o_.std.empty() ? 1.f : 1.f / o_.std[static_cast<std::size_t>(ch)];
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < w; ++x) {
            const int sy = y + dy, sx = (mirror ? w - 1 - x : x) + dx;
            const float v = sy < 0 || sy >= h || sx < 0 || sx >= w ? 0.f : from[(ch * h + sy) * w + sx];
            to[(ch * h + y) * w + x] = (v - mean) * inv;
          }
      }
    } else {
      const float mean = o_.mean.empty() ? 0.f : o_.mean[0];
      const float inv = o_.std.empty() ? 1.f : 1.f / o_.std[0];
      for (std::int64_t i = 0; i < image_floats; ++i) to[i] = (from[i] - mean) * inv;
    }
  }

  std::span<const float> images_;
  std::span<const std::int64_t> labels_;
  data_options o_;
  std::int64_t count_;
  std::vector<std::int64_t> order_;
  std::int64_t order_epoch_ = -1;
  slot slots_[2];
  std::size_t ready_ = 0;  // the slot next() returns next; guarded by mutex_
  batch current_{};
  std::mutex mutex_;
  std::condition_variable changed_;
  bool pending_ = false, stop_ = false;
  std::thread worker_;
};

}  // namespace typenet::train
