// typenet/train/sgd.hpp: stochastic gradient descent with momentum and weight decay, with PyTorch's update
// rule (torch.optim.SGD, dampening 0, not Nesterov), element by element in float:
//
//   d = g + weight_decay * p
//   b = d                      on the first step,
//   b = momentum * b + d       after it;
//   p = p - lr * b
//
// Only parameters are updated: batch norm's running statistics (buffers) are left as the training-mode
// forward pass set them. The defaults are the AlexNet paper's momentum 0.9 and weight decay 5e-4.
#pragma once
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "../core/leaf_table.hpp"
#include "../core/params.hpp"

namespace typenet::train {

struct sgd_options {
  float lr = 0.01f;
  float momentum = 0.9f;
  float weight_decay = 5e-4f;
};

template <Network Net>
class sgd {
 public:
  explicit sgd(sgd_options o = {}) : options_(checked(o)), momentum_(), trainable_(trainable_ranges()) {}

  /// One update of p with the gradients g (same layout: params<Net>).
  void step(params<Net>& p, const params<Net>& g) {
    float* w = p.data();
    float* b = momentum_.data();
    const float* d = g.data();
    const float lr = options_.lr, m = options_.momentum, wd = options_.weight_decay;
    const bool first = steps_ == 0;
    for (const auto& [begin, end] : trainable_)
      for (std::int64_t i = begin; i < end; ++i) {
        const float grad = wd != 0.f ? std::fma(wd, w[i], d[i]) : d[i];
        float direction = grad;
        if (m != 0.f) {
          b[i] = first ? grad : m * b[i] + grad;
          direction = b[i];
        }
        w[i] = std::fma(-lr, direction, w[i]);
      }
    ++steps_;
  }

  float lr() const noexcept { return options_.lr; }
  /// The step learning-rate schedule sets it between epochs.
  void set_lr(float lr) { options_ = checked({lr, options_.momentum, options_.weight_decay}); }
  const sgd_options& options() const noexcept { return options_; }
  /// The momentum buffers (PyTorch's momentum_buffer), keyed like the parameters; saved in checkpoints.
  params<Net>& momentum_buffers() noexcept { return momentum_; }
  const params<Net>& momentum_buffers() const noexcept { return momentum_; }
  std::int64_t steps() const noexcept { return steps_; }
  /// For a resumed run: the number of updates already made (0 makes the next step the first).
  void set_steps(std::int64_t s) noexcept { steps_ = s; }

 private:
  static sgd_options checked(sgd_options o) {
    auto bad = [](float v) { return !std::isfinite(v) || v < 0.f; };
    if (bad(o.lr) || bad(o.momentum) || bad(o.weight_decay))
      throw std::invalid_argument("typenet: sgd: lr, momentum and weight decay must be finite and >= 0, got " +
                                  std::to_string(o.lr) + ", " + std::to_string(o.momentum) + ", " +
                                  std::to_string(o.weight_decay));
    return o;
  }
  // The parameter tensors' float ranges in the buffer (buffers left out).
  static std::vector<std::pair<std::int64_t, std::int64_t>> trainable_ranges() {
    std::vector<std::pair<std::int64_t, std::int64_t>> out;
    for (const leaf_info& leaf : leaf_table<Net>) {
      std::int64_t at = leaf.offset;
      for (std::size_t i = 0; i < leaf.tensor_count; ++i) {
        const std::int64_t n = leaf.tensors[i].size();
        if (!leaf.tensors[i].buffer) out.emplace_back(at, at + n);
        at += n;
      }
    }
    return out;
  }

  sgd_options options_;
  params<Net> momentum_;
  std::vector<std::pair<std::int64_t, std::int64_t>> trainable_;
  std::int64_t steps_ = 0;
};

}  // namespace typenet::train
