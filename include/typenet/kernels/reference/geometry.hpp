// typenet/kernels/reference/geometry.hpp: the sizes a windowed reference kernel loops over.
//
// The typed kernels (one overload per layer kind, e.g. forward(conv2d<...>, shape<...>, shape<...>, ...))
// fill a geometry from their template arguments as a constant and call one plain loop nest. Tests call
// the same loop nests over many small run-time sizes to check the shape law.
#pragma once

namespace typenet::kernels::reference {

/// A window sliding over a C x H x W image (conv2d and the pools). Output extents come from the layer's
/// shape rule; the kernels never compute them.
struct window_geometry {
  int in_c, in_h, in_w;     ///< input channels and extents
  int out_c, out_h, out_w;  ///< output channels and extents
  int kernel_h, kernel_w;
  int stride_h, stride_w;
  int pad_h, pad_w;
  int groups;  ///< conv2d only; 1 for pools
};

template <class Layer, int C, int H, int W, int OC, int OH, int OW>
constexpr window_geometry make_window_geometry() {
  int groups = 1;
  if constexpr (requires { Layer::group_count; }) groups = Layer::group_count;
  return {C,
          H,
          W,
          OC,
          OH,
          OW,
          Layer::kernel_h,
          Layer::kernel_w,
          Layer::stride_h,
          Layer::stride_w,
          Layer::pad_h,
          Layer::pad_w,
          groups};
}

}  // namespace typenet::kernels::reference
