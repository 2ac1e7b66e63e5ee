// tests/unit/window_oracle.hpp: an independent model of a sliding window's output size, for the shape
// law tests. It does not use typenet's formula: it walks the window along the padded input, one
// position at a time, and counts the positions each rounding mode keeps.
#pragma once
#include <typenet/layers/tags.hpp>

namespace typenet_test {

/// The windows' output count, or -1 when no window fits (kernel larger than the padded input) and -2
/// when rounding is exact and the last fitting window does not end at the padded edge.
constexpr int count_windows(int in, int k, int s, int p, typenet::rounding mode) {
  // Window j covers input positions [start, start + k) with start = -p + j*s (negative: in the left pad).
  const int padded_end = in + p;  // one past the last position of the right pad
  int fitting = 0;
  int last_fit_end = 0;
  for (int start = -p; start + k <= padded_end; start += s) {
    ++fitting;
    last_fit_end = start + k;
  }
  if (fitting == 0) return -1;
  switch (mode) {
    case typenet::rounding::exact:
      return last_fit_end == padded_end ? fitting : -2;
    case typenet::rounding::floor:
      return fitting;
    case typenet::rounding::ceil: {
      // Caffe / PyTorch ceil_mode: keep adding windows while the previous one has not reached the padded
      // end, but never one that starts in the right pad (or beyond the input).
      int kept = 0;
      for (int start = -p;; start += s) {
        const bool previous_reached_end = kept > 0 && (start - s) + k >= padded_end;
        if (previous_reached_end || start >= in) break;
        ++kept;
      }
      return kept;
    }
  }
  return -3;
}

}  // namespace typenet_test
