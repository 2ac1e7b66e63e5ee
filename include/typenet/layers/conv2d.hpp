// typenet/layers/conv2d.hpp: 2-D convolution with bias (PyTorch's nn.Conv2d).
//
//   conv2d<Filters, kernel<K>, stride<S>, pad<P>, groups<G>, floor_mode, no_bias>
//   (tags in any order; kernel required)
//
// Weights: [Filters, C / G, KH, KW] then bias [Filters] (none with no_bias), as in PyTorch. A depthwise
// convolution is groups<C> with C input channels.
#pragma once
#include "layer.hpp"

namespace typenet {

namespace detail {
struct conv_tags {
  template <class T>
  static constexpr bool accepts() {
    if constexpr (any_tag<T>)
      return T::id != tag_id::rounding || std::is_same_v<T, floor_mode>;  // no_bias included
    else
      return false;
  }
};
}  // namespace detail

template <int Filters, class... Tags>
struct conv2d : layer_base {
  static constexpr layer_kind category = layer_kind::conv;
  using window = detail::window<Tags...>;
  static constexpr int filters = Filters;
  static constexpr int kernel_h = window::kernel_h, kernel_w = window::kernel_w;
  static constexpr int stride_h = window::stride_h, stride_w = window::stride_w;
  static constexpr int pad_h = window::pad_h, pad_w = window::pad_w;
  static constexpr int group_count = window::group_count;
  static constexpr rounding round = window::round;
  static constexpr bool has_bias = window::has_bias;

  static std::string name() { return window::str("conv2d", Filters); }

  template <int Index, class In>
  struct at : detail::no_params {
    using error = diag::needs_spatial_input<Index, conv2d, In>;
    using output = In;
  };
  template <int Index, int C, int H, int W>
  struct at<Index, shape<C, H, W>> {
    using in = shape<C, H, W>;
    static constexpr int oh = detail::window_extent(H, kernel_h, stride_h, pad_h, round);
    static constexpr int ow = detail::window_extent(W, kernel_w, stride_w, pad_w, round);
    using unaccepted = typename detail::first_unaccepted<detail::conv_tags, Tags...>::type;
    using error = detail::first_error_t<
        detail::when<!detail::is_void<unaccepted>>, diag::unknown_tag<Index, conv2d, unaccepted>,
        detail::when<!detail::is_void<typename window::repeated_tag>>,
        diag::repeated_tag<Index, conv2d, typename window::repeated_tag>, detail::when<!window::has_kernel>,
        diag::missing_kernel<Index, conv2d>, detail::when<(Filters <= 0 || !window::positive)>,
        diag::non_positive_parameter<Index, conv2d, in>,
        detail::when<(group_count > 0 && (C % group_count != 0 || Filters % group_count != 0))>,
        diag::groups_do_not_divide_channels<Index, conv2d, in>, detail::when<(oh == -1 || ow == -1)>,
        diag::kernel_larger_than_input<Index, conv2d, in>, detail::when<(oh == -2 || ow == -2)>,
        diag::stride_does_not_tile_input<Index, conv2d, in>>;
    using output = shape<Filters, oh, ow>;
    static constexpr std::int64_t weights =
        std::int64_t{Filters} * (C / (group_count > 0 ? group_count : 1)) * kernel_h * kernel_w;
    static constexpr std::int64_t biases = has_bias ? Filters : 0;
    static constexpr std::int64_t macs = weights * oh * ow;
    static constexpr auto tensors = detail::weight_and_bias<has_bias>(
        Filters, {Filters, C / (group_count > 0 ? group_count : 1), kernel_h, kernel_w}, 4);
  };
};

}  // namespace typenet
