// typenet/core/shape.hpp: compile-time tensor shapes (per image; the batch is a run-time value).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <type_traits>

namespace typenet {

/// "256 x 56 x 56": the text of shape<256, 56, 56> (shape::str()), from its rank and dimensions.
inline std::string shape_text(const int* dims, int rank) {
  std::string s;
  for (int i = 0; i < rank; ++i) s += (i == 0 ? "" : " x ") + std::to_string(dims[i]);
  return s;
}

/// shape<C, H, W> (an image-like activation) or shape<N> (a flat vector), per image.
/// Two shapes compare equal exactly when they are the same type.
template <int... Dims>
struct shape {
  static constexpr int rank = sizeof...(Dims);
  static constexpr std::array<int, sizeof...(Dims)> dims{Dims...};
  static constexpr std::int64_t size = (std::int64_t{1} * ... * std::int64_t{Dims});

  template <int... Other>
  friend constexpr bool operator==(shape, shape<Other...>) {
    return std::is_same_v<shape, shape<Other...>>;
  }

  static std::string str() { return shape_text(dims.data(), rank); }
};

namespace detail {
template <class S>
struct is_spatial : std::false_type {};
template <int C, int H, int W>
struct is_spatial<shape<C, H, W>> : std::true_type {};
template <class S>
struct is_flat : std::false_type {};
template <int N>
struct is_flat<shape<N>> : std::true_type {};
}  // namespace detail

/// Spatial (C x H x W) and flat (N) shapes, as concepts.
template <class S>
concept SpatialShape = detail::is_spatial<S>::value;
template <class S>
concept FlatShape = detail::is_flat<S>::value;

}  // namespace typenet
