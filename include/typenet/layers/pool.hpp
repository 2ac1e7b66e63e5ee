// typenet/layers/pool.hpp: max and average pooling over windows, and adaptive average pooling.
//
//   max_pool<kernel<K>, stride<S>, pad<P>, floor_mode | ceil_mode>   (kernel required; stride defaults to 1)
//   avg_pool<...same tags...>            padding counts as zeros in the average (PyTorch's default,
//                                        count_include_pad=True); windows are clipped as in PyTorch
//   adaptive_avg_pool<OH, OW = OH>       PyTorch's window rule: start = floor(i*H/OH), end = ceil((i+1)*H/OH)
#pragma once
#include "layer.hpp"

namespace typenet {

enum class pool_kind { max, average };

namespace detail {
struct pool_tags {
  template <class T>
  static constexpr bool accepts() {
    if constexpr (any_tag<T>)
      return T::id != tag_id::groups && T::id != tag_id::bias;
    else
      return false;
  }
};

// The parameters max_pool and avg_pool share.
template <pool_kind Kind, class... Tags>
struct pool_params : layer_base {
  static constexpr layer_kind category = layer_kind::pool;  // max_pool, avg_pool
  using window = detail::window<Tags...>;
  static constexpr pool_kind kind = Kind;
  static constexpr int kernel_h = window::kernel_h, kernel_w = window::kernel_w;
  static constexpr int stride_h = window::stride_h, stride_w = window::stride_w;
  static constexpr int pad_h = window::pad_h, pad_w = window::pad_w;
  static constexpr rounding round = window::round;
};
}  // namespace detail

#define TYPENET_POOL_RULES(self)                                                                                      \
  template <int Index, class In>                                                                                      \
  struct at : detail::no_params {                                                                                     \
    using error = diag::needs_spatial_input<Index, self, In>;                                                         \
    using output = In;                                                                                                \
  };                                                                                                                  \
  template <int Index, int C, int H, int W>                                                                           \
  struct at<Index, shape<C, H, W>> : detail::no_params {                                                              \
    using in = shape<C, H, W>;                                                                                        \
    static constexpr int oh = detail::window_extent(H, self::kernel_h, self::stride_h, self::pad_h, self::round);     \
    static constexpr int ow = detail::window_extent(W, self::kernel_w, self::stride_w, self::pad_w, self::round);     \
    using unaccepted = typename detail::first_unaccepted<detail::pool_tags, Tags...>::type;                           \
    using error =                                                                                                     \
        detail::first_error_t<detail::when<!detail::is_void<unaccepted>>, diag::unknown_tag<Index, self, unaccepted>, \
                              detail::when<!detail::is_void<typename self::window::repeated_tag>>,                    \
                              diag::repeated_tag<Index, self, typename self::window::repeated_tag>,                   \
                              detail::when<!self::window::has_kernel>, diag::missing_kernel<Index, self>,             \
                              detail::when<!self::window::positive>, diag::non_positive_parameter<Index, self, in>,   \
                              detail::when<(2 * self::pad_h > self::kernel_h || 2 * self::pad_w > self::kernel_w)>,   \
                              diag::pool_padding_too_large<Index, self, in>, detail::when<(oh == -1 || ow == -1)>,    \
                              diag::kernel_larger_than_input<Index, self, in>, detail::when<(oh == -2 || ow == -2)>,  \
                              diag::stride_does_not_tile_input<Index, self, in>>;                                     \
    using output = shape<C, oh, ow>;                                                                                  \
  };

template <class... Tags>
struct max_pool : detail::pool_params<pool_kind::max, Tags...> {
  static std::string name() { return detail::window<Tags...>::str("max_pool"); }
  TYPENET_POOL_RULES(max_pool)
};

template <class... Tags>
struct avg_pool : detail::pool_params<pool_kind::average, Tags...> {
  static std::string name() { return detail::window<Tags...>::str("avg_pool"); }
  TYPENET_POOL_RULES(avg_pool)
};

#undef TYPENET_POOL_RULES

template <int OH, int OW = OH>
struct adaptive_avg_pool : layer_base {
  static constexpr layer_kind category = layer_kind::adaptive_pool;
  static constexpr int out_h = OH, out_w = OW;
  static std::string name() { return "adaptive_avg_pool " + std::to_string(OH) + "x" + std::to_string(OW); }
  template <int Index, class In>
  struct at : detail::no_params {
    using error = diag::needs_spatial_input<Index, adaptive_avg_pool, In>;
    using output = In;
  };
  template <int Index, int C, int H, int W>
  struct at<Index, shape<C, H, W>> : detail::no_params {
    using error = std::conditional_t<(OH > 0 && OW > 0), void,
                                     diag::non_positive_parameter<Index, adaptive_avg_pool, shape<C, H, W>>>;
    using output = shape<C, OH, OW>;
  };
};

}  // namespace typenet
