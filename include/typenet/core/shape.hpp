// typenet/core/shape.hpp: compile-time tensor shapes (per image; the batch is a run-time value).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <type_traits>

namespace typenet {

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

  static std::string str() {
    std::string s;
    ((s += (s.empty() ? "" : " x ") + std::to_string(Dims)), ...);
    return s;
  }
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
