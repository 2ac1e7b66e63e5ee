// Non-finite inputs (NaN, +inf, -inf) for policy-vs-reference tests: where to plant them in a batch, and
// a comparison that checks every output's class (finite, NaN, +inf, -inf) as well as its value.
// Shared by tests/simd/nonfinite_test.cpp and tests/cuda/nonfinite.cu; includes no policy but the reference.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

namespace typenet::test::nonfinite {

enum class value_class { finite, nan, plus_inf, minus_inf };

inline value_class classify(float v) {
  if (std::isnan(v)) return value_class::nan;
  if (std::isinf(v)) return v > 0 ? value_class::plus_inf : value_class::minus_inf;
  return value_class::finite;
}

inline const char* class_name(value_class c) {
  switch (c) {
    case value_class::finite:
      return "finite";
    case value_class::nan:
      return "NaN";
    case value_class::plus_inf:
      return "+inf";
    default:
      return "-inf";
  }
}

/// Where the non-finite values of a batch go. Every pattern but `scattered` and `image_of_minus_inf` touches
/// image 0 only, so the other images check that nothing leaks between images.
enum class pattern {
  nan_in_channel_1,     ///< one NaN, channel 1 (a vector lane), centre of image 0
  nan_in_last_channel,  ///< one NaN, the last channel (the vector tail when C is no multiple of the width)
  infs_apart,           ///< +inf and -inf in different channels, far apart
  infs_adjacent,        ///< +inf and -inf side by side in one channel: windows that hold both sum to NaN
  scattered,            ///< about 3 % of all values, NaN / +inf / -inf mixed, in every image
  image_of_minus_inf,   ///< the last image entirely -inf (max pooling's start value, softmax of -inf)
};

inline const pattern all_patterns[] = {pattern::nan_in_channel_1, pattern::nan_in_last_channel,
                                       pattern::infs_apart,       pattern::infs_adjacent,
                                       pattern::scattered,        pattern::image_of_minus_inf};
inline const pattern single_value_patterns[] = {pattern::nan_in_channel_1, pattern::nan_in_last_channel,
                                                pattern::infs_apart};

inline const char* pattern_name(pattern p) {
  switch (p) {
    case pattern::nan_in_channel_1:
      return "one NaN in channel 1";
    case pattern::nan_in_last_channel:
      return "one NaN in the last channel";
    case pattern::infs_apart:
      return "+inf and -inf apart";
    case pattern::infs_adjacent:
      return "+inf next to -inf";
    case pattern::scattered:
      return "scattered NaN/+inf/-inf";
    default:
      return "last image all -inf";
  }
}

/// True for the patterns whose reference output must hold a NaN (every layer propagates NaN).
inline bool plants_nan(pattern p) {
  return p == pattern::nan_in_channel_1 || p == pattern::nan_in_last_channel || p == pattern::scattered;
}

/// An image's extents; a flat input of N values is N x 1 x 1.
struct extents {
  int c, h, w;
};
template <class Shape>
constexpr extents extents_of() {
  if constexpr (Shape::rank == 1)
    return {Shape::dims[0], 1, 1};
  else
    return {Shape::dims[0], Shape::dims[1], Shape::dims[2]};
}

/// Plants pattern p into `in` (batch NCHW images of extents e), which holds finite values.
inline void plant(pattern p, std::vector<float>& in, extents e, int batch) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::int64_t image = std::int64_t{e.c} * e.h * e.w;
  auto at = [&](int n, int c, int y, int x) -> float& {
    return in[static_cast<std::size_t>(n * image + (std::int64_t{c} * e.h + y) * e.w + x)];
  };
  switch (p) {
    case pattern::nan_in_channel_1:
      at(0, e.c > 1 ? 1 : 0, e.h / 2, e.w / 2) = nan;
      break;
    case pattern::nan_in_last_channel:
      at(0, e.c - 1, e.h / 3, e.w - 1) = nan;
      break;
    case pattern::infs_apart:
      at(0, 0, e.h > 2 ? 1 : 0, e.w > 2 ? 1 : 0) = inf;
      at(0, e.c / 2, e.h > 2 ? e.h - 2 : e.h - 1, e.w > 2 ? e.w - 2 : e.w - 1) = -inf;
      if (e.h == 1 && e.w == 1 && e.c / 2 == 0) at(0, e.c - 1, 0, 0) = -inf;  // a one-channel flat input
      break;
    case pattern::infs_adjacent:
      if (e.w > 1) {
        at(0, 0, e.h / 2, e.w / 2 - 1) = inf;
        at(0, 0, e.h / 2, e.w / 2) = -inf;
      } else if (e.h > 1) {
        at(0, 0, e.h / 2 - 1, 0) = inf;
        at(0, 0, e.h / 2, 0) = -inf;
      } else {  // flat: neighbouring units
        at(0, e.c / 2 - 1 >= 0 ? e.c / 2 - 1 : 0, 0, 0) = inf;
        at(0, e.c / 2, 0, 0) = -inf;
      }
      break;
    case pattern::scattered: {
      std::uint64_t s = 0x9e3779b97f4a7c15ull;
      for (auto& v : in) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const unsigned r = static_cast<unsigned>(s >> 33) % 100;
        if (r == 0) v = nan;
        if (r == 1) v = inf;
        if (r == 2) v = -inf;
      }
      break;
    }
    case pattern::image_of_minus_inf:
      for (std::int64_t i = 0; i < image; ++i) in[static_cast<std::size_t>((batch - 1) * image + i)] = -inf;
      break;
  }
}

/// How a policy's classes may differ from the reference's.
struct class_rules {
  /// A +-inf output of the reference may be NaN (Winograd: the tile transforms add and subtract the
  /// inputs before the products, so one infinite input can meet itself with both signs).
  bool inf_may_become_nan = false;
  /// Outputs that are finite in the reference and non-finite in the policy that are tolerated (Winograd
  /// tiles larger than F(2,3) mix inputs that a direct convolution keeps apart).
  std::int64_t extra_nonfinite_allowed = 0;
};

struct report {
  std::int64_t values = 0;
  std::int64_t reference_nonfinite = 0;  ///< outputs the reference makes non-finite
  std::int64_t class_mismatches = 0;     ///< outputs whose class breaks the rules
  std::int64_t extra_nonfinite = 0;      ///< reference finite, policy non-finite (counted against the allowance)
  std::int64_t value_mismatches = 0;     ///< both finite, outside atol + rtol * |reference|
  std::int64_t first_bad = -1;
  float first_got = 0, first_want = 0;
  double worst_finite_diff = 0;

  bool ok(const class_rules& r) const {
    return class_mismatches == 0 && value_mismatches == 0 && extra_nonfinite <= r.extra_nonfinite_allowed;
  }
  std::string describe() const {
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "%lld values, %lld non-finite in the reference; %lld class mismatches, %lld extra non-finite, "
                  "%lld finite values out of tolerance (worst |diff| %.3g); first bad index %lld: got %g (%s), "
                  "reference %g (%s)",
                  static_cast<long long>(values), static_cast<long long>(reference_nonfinite),
                  static_cast<long long>(class_mismatches), static_cast<long long>(extra_nonfinite),
                  static_cast<long long>(value_mismatches), worst_finite_diff, static_cast<long long>(first_bad),
                  double(first_got), class_name(classify(first_got)), double(first_want),
                  class_name(classify(first_want)));
    return buf;
  }
};

/// Compares got with want (the reference) element by element under the rules: by default every output
/// has the reference's class, and finite outputs agree within atol + rtol * |want|. An output that fails
/// against want passes when `alternative` (another reference run, e.g. with infinities made NaN) is given
/// and the output has its class (and, if finite, its value within the tolerance).
inline report compare(const std::vector<float>& got, const std::vector<float>& want, double atol, double rtol,
                      const class_rules& rules = {}, const std::vector<float>* alternative = nullptr) {
  report r;
  r.values = static_cast<std::int64_t>(want.size());
  auto bad = [&](std::size_t i) {
    if (r.first_bad < 0) {
      r.first_bad = static_cast<std::int64_t>(i);
      r.first_got = got[i];
      r.first_want = want[i];
    }
  };
  for (std::size_t i = 0; i < want.size() && i < got.size(); ++i) {
    const value_class g = classify(got[i]), w = classify(want[i]);
    if (w != value_class::finite) ++r.reference_nonfinite;
    if (alternative != nullptr && i < alternative->size() && g != w && g == classify((*alternative)[i])) {
      const double d = std::fabs(double(got[i]) - double((*alternative)[i]));
      if (g != value_class::finite || d <= atol + rtol * std::fabs(double((*alternative)[i]))) continue;
    }
    if (w == value_class::finite && g == value_class::finite) {
      const double d = std::fabs(double(got[i]) - double(want[i]));
      if (d > r.worst_finite_diff) r.worst_finite_diff = d;
      if (!(d <= atol + rtol * std::fabs(double(want[i])))) {
        ++r.value_mismatches;
        bad(i);
      }
    } else if (w == value_class::finite) {
      ++r.extra_nonfinite;
      if (r.extra_nonfinite > rules.extra_nonfinite_allowed) bad(i);
    } else if (g != w && !(rules.inf_may_become_nan && w != value_class::nan && g == value_class::nan)) {
      ++r.class_mismatches;
      bad(i);
    }
  }
  if (got.size() != want.size()) ++r.class_mismatches;
  return r;
}

}  // namespace typenet::test::nonfinite
