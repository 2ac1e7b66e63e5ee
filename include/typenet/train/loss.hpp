// typenet/train/loss.hpp: the training loss, softmax cross-entropy over integer labels (DESIGN.md §8).
//
//   loss = 1/N sum_n (logsumexp(z_n) - z_n[label_n]),   d(loss)/dz_n = (softmax(z_n) - onehot(label_n)) / N
//
// in double, with the row's maximum subtracted before exp (large logits neither overflow nor lose the
// gradient). Labels outside 0..classes-1 are an error naming the image, never an out-of-bounds read.
#pragma once
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace typenet::train {

/// Throws std::invalid_argument naming the first label outside 0..classes-1.
inline void check_labels(const std::int64_t* labels, int batch, int classes) {
  for (int n = 0; n < batch; ++n)
    if (labels[n] < 0 || labels[n] >= classes)
      throw std::invalid_argument("typenet: training: label " + std::to_string(labels[n]) + " of image " +
                                  std::to_string(n) + " is outside 0.." + std::to_string(classes - 1));
}

/// Mean softmax cross-entropy of `batch` rows of `classes` logits; writes its gradient to dlogits (same
/// layout as logits) and returns the loss. The labels must be checked (check_labels).
inline double softmax_cross_entropy(const float* logits, const std::int64_t* labels, int batch, int classes,
                                    float* dlogits) {
  double total = 0;
  for (int n = 0; n < batch; ++n) {
    const float* z = logits + std::int64_t{n} * classes;
    float* dz = dlogits + std::int64_t{n} * classes;
    double top = z[0];
    for (int i = 1; i < classes; ++i) top = std::fmax(top, double{z[i]});
    double sum = 0;
    for (int i = 0; i < classes; ++i) sum += std::exp(double{z[i]} - top);
    const double log_sum = std::log(sum) + top;
    total += log_sum - z[labels[n]];
    for (int i = 0; i < classes; ++i) {
      const double p = std::exp(double{z[i]} - log_sum);
      dz[i] = static_cast<float>((p - (i == labels[n] ? 1.0 : 0.0)) / batch);
    }
  }
  return total / batch;
}

}  // namespace typenet::train
