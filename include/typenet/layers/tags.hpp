// typenet/layers/tags.hpp: the tags that parameterise windowed layers (conv2d, pools).
//
//   kernel<K> or kernel<KH, KW>     window size (required)
//   stride<S> or stride<SH, SW>     default 1
//   pad<P> or pad<PH, PW>           zero padding on each side, default 0
//   groups<G>                       grouped convolution, default 1 (conv2d only)
//   floor_mode, ceil_mode           output-size rounding; default: the size must divide exactly
//   no_bias                         conv2d and dense without a bias tensor (PyTorch's bias=False)
//
// Tags may come in any order; each at most once.
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>

#include "../detail/type_list.hpp"

namespace typenet {

enum class tag_id { kernel, stride, pad, groups, rounding, bias };

/// How a windowed layer's output size is rounded when (in + 2*pad - kernel) is not a multiple of stride.
enum class rounding {
  exact,  ///< default: it must be a multiple, or the network does not compile
  floor,  ///< PyTorch's rule (conv2d and pools)
  ceil,   ///< Caffe's pooling rule (pools only); the last window must start inside the input or left pad
};

template <int H, int W = H>
struct kernel {
  static constexpr tag_id id = tag_id::kernel;
  static constexpr int h = H, w = W;
};
template <int H, int W = H>
struct stride {
  static constexpr tag_id id = tag_id::stride;
  static constexpr int h = H, w = W;
};
template <int H, int W = H>
struct pad {
  static constexpr tag_id id = tag_id::pad;
  static constexpr int h = H, w = W;
};
template <int G>
struct groups {
  static constexpr tag_id id = tag_id::groups;
  static constexpr int value = G;
};
struct floor_mode {
  static constexpr tag_id id = tag_id::rounding;
  static constexpr rounding mode = rounding::floor;
};
struct ceil_mode {
  static constexpr tag_id id = tag_id::rounding;
  static constexpr rounding mode = rounding::ceil;
};
/// conv2d and dense without a bias (PyTorch's bias=False), as before a batch norm.
struct no_bias {
  static constexpr tag_id id = tag_id::bias;
};

namespace detail {

template <class T>
concept any_tag = requires {
  { T::id } -> std::convertible_to<tag_id>;
};

template <class T, tag_id Id>
constexpr bool tag_is() {
  if constexpr (any_tag<T>)
    return T::id == Id;
  else
    return false;
}

// The first tag with the given id, or Default when there is none.
template <tag_id Id, class Default, class... Tags>
struct find_tag {
  using type = Default;
};
template <tag_id Id, class Default, class T, class... Tags>
struct find_tag<Id, Default, T, Tags...>
    : std::conditional_t<tag_is<T, Id>(), std::type_identity<T>, find_tag<Id, Default, Tags...>> {};

template <tag_id Id, class... Tags>
constexpr int count_tag = (0 + ... + int(tag_is<Tags, Id>()));

// The first tag that appears twice (by id), or void.
template <class T, class... Rest>
constexpr bool repeats_later() {
  if constexpr (any_tag<T>)
    return (0 + ... + int(tag_is<Rest, T::id>())) > 0;
  else
    return false;
}
template <class... Tags>
struct first_repeated {
  using type = void;
};
template <class T, class... Tags>
struct first_repeated<T, Tags...>
    : std::conditional_t<repeats_later<T, Tags...>(), std::type_identity<T>, first_repeated<Tags...>> {};

// The first type that is not among the accepted tag ids, or void.
template <class Accepts, class... Tags>
struct first_unaccepted {
  using type = void;
};
template <class Accepts, class T, class... Tags>
struct first_unaccepted<Accepts, T, Tags...>
    : std::conditional_t<Accepts::template accepts<T>(), first_unaccepted<Accepts, Tags...>, std::type_identity<T>> {};

struct no_tag {};
struct default_kernel {
  static constexpr int h = 0, w = 0;
};
using default_stride = stride<1>;
using default_pad = pad<0>;
using default_groups = groups<1>;
struct default_rounding {
  static constexpr rounding mode = rounding::exact;
};

/// "conv2d 64, kernel 3x3, stride 2, pad 1, no bias": window<Tags...>::str("conv2d", 64), the name of a layer
/// with a window (count < 0: none, as for the pools). An ordinary function, so that its code exists once and
/// not once per layer type.
inline std::string window_text(const char* layer, int count, int kernel_h, int kernel_w, int stride_h, int stride_w,
                               int pad_h, int pad_w, int groups, rounding round, bool has_bias) {
  // Appends only: g++ 12 at -O3 warns (-Wrestrict, a false positive) on "text" + std::string temporaries here.
  std::string out = layer;
  auto pair = [&out](const char* what, int a, int b) {
    out += what;
    out += std::to_string(a);
    if (a != b) {
      out += 'x';
      out += std::to_string(b);
    }
  };
  if (count >= 0) {
    out += ' ';
    out += std::to_string(count);
    out += ',';
  }
  out += " kernel ";
  out += std::to_string(kernel_h);
  out += 'x';
  out += std::to_string(kernel_w);
  if (stride_h != 1 || stride_w != 1) pair(", stride ", stride_h, stride_w);
  if (pad_h != 0 || pad_w != 0) pair(", pad ", pad_h, pad_w);
  if (groups != 1) {
    out += ", groups ";
    out += std::to_string(groups);
  }
  if (round == rounding::floor) out += ", floor";
  if (round == rounding::ceil) out += ", ceil";
  if (!has_bias) out += ", no bias";
  return out;
}

/// The window parameters common to conv2d and the pools, read from a tag list.
template <class... Tags>
struct window {
  using k = typename find_tag<tag_id::kernel, default_kernel, Tags...>::type;
  using s = typename find_tag<tag_id::stride, default_stride, Tags...>::type;
  using p = typename find_tag<tag_id::pad, default_pad, Tags...>::type;
  using g = typename find_tag<tag_id::groups, default_groups, Tags...>::type;
  using r = typename find_tag<tag_id::rounding, default_rounding, Tags...>::type;
  static constexpr bool has_kernel = count_tag<tag_id::kernel, Tags...> > 0;
  static constexpr int kernel_h = k::h, kernel_w = k::w;
  static constexpr int stride_h = s::h, stride_w = s::w;
  static constexpr int pad_h = p::h, pad_w = p::w;
  static constexpr int group_count = g::value;
  static constexpr rounding round = r::mode;
  static constexpr bool has_bias = count_tag<tag_id::bias, Tags...> == 0;
  using repeated_tag = typename first_repeated<Tags...>::type;
  static constexpr bool positive =
      kernel_h > 0 && kernel_w > 0 && stride_h > 0 && stride_w > 0 && pad_h >= 0 && pad_w >= 0 && group_count > 0;
  static std::string str(const char* layer, int count = -1) {
    return window_text(layer, count, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, group_count, round,
                       has_bias);
  }
};

/// Output extent of a window sliding over `in` (after padding). Returns -1 when the kernel does not fit
/// and -2 when rounding is exact and the stride does not tile the padded input.
constexpr int window_extent(int in, int k, int s, int p, rounding r) {
  if (s <= 0 || k <= 0) return -1;
  const int span = in + 2 * p - k;
  if (span < 0) return -1;
  switch (r) {
    case rounding::exact:
      return span % s == 0 ? span / s + 1 : -2;
    case rounding::floor:
      return span / s + 1;
    case rounding::ceil: {
      int out = (span + s - 1) / s + 1;
      if ((out - 1) * s >= in + p) --out;  // the last window must start inside the input or the left pad
      return out;
    }
  }
  return -1;
}

}  // namespace detail
}  // namespace typenet
