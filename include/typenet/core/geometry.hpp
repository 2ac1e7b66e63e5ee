// typenet/core/geometry.hpp: the sizes of a window sliding over a C x H x W image (conv2d and the pools),
// read from a layer and its shapes in this one place. Every policy derives its kernels' geometry from it:
// exec::reference loops over it at run time, exec::simd and exec::cuda turn it into template arguments.
#pragma once

#include "shape.hpp"

namespace typenet {

struct window_geometry {
  int in_c, in_h, in_w;     ///< input channels and extents
  int out_c, out_h, out_w;  ///< output channels and extents (from the layer's shape rule)
  int kernel_h, kernel_w;
  int stride_h, stride_w;
  int pad_h, pad_w;
  int groups;  ///< conv2d's groups; 1 for the pools
};

/// The window of Layer (conv2d, max_pool, avg_pool) applied to In, giving Out.
template <class Layer, class In, class Out>
consteval window_geometry window_of_shapes() {
  int groups = 1;
  if constexpr (requires { Layer::group_count; }) groups = Layer::group_count;
  return {static_cast<int>(In::dims[0]),
          static_cast<int>(In::dims[1]),
          static_cast<int>(In::dims[2]),
          static_cast<int>(Out::dims[0]),
          static_cast<int>(Out::dims[1]),
          static_cast<int>(Out::dims[2]),
          Layer::kernel_h,
          Layer::kernel_w,
          Layer::stride_h,
          Layer::stride_w,
          Layer::pad_h,
          Layer::pad_w,
          groups};
}

/// The window of a bound layer (core/network.hpp: layer, input and output shapes).
template <class B>
inline constexpr window_geometry window_of =
    window_of_shapes<typename B::layer, typename B::input, typename B::output>();

}  // namespace typenet
