// typenet/image/preprocess.hpp: an image to a network's input, as torchvision prepares it for its
// ImageNet models: shorter side resized (bilinear, antialiased), centre crop, [0, 1], mean/std, CHW floats.
//
// The resize reproduces what torchvision 0.14 does to a uint8 image tensor with
// Resize([n], BILINEAR, antialias=True): convert to float, resample (PyTorch's separable antialiased
// bilinear kernel: width first, then height, each output a normalised triangle-filter sum), round half to
// even, back to uint8. The sums are formed in the order and with the roundings of PyTorch 1.13's CPU
// kernel (tests/image checks the result against it bit for bit), so a value that falls next to a
// rounding boundary rounds the same way, and the prepared input equals torchvision's.
#pragma once

#include <typenet/image/types.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace typenet::image {

// ---- channels ------------------------------------------------------------------------------------

// The colour of every pixel, 8 bits per channel, as PIL's Image.convert("RGB") gives it for an 8-bit
// file: grey is repeated in the three channels, alpha is dropped (not blended). 16-bit samples keep their
// high byte (v >> 8), as PIL does when it opens a 16-bit RGB PNG.
inline pixels to_rgb8(const decoded& d) {
  pixels p{d.width, d.height, 3, std::vector<std::uint8_t>(d.width * d.height * 3)};
  const int shift = d.bit_depth - 8;
  const bool grey = d.channels <= 2;
  for (std::size_t y = 0; y < d.height; ++y) {
    for (std::size_t x = 0; x < d.width; ++x) {
      std::uint8_t* out = p.data.data() + (y * d.width + x) * 3;
      for (int c = 0; c < 3; ++c) out[c] = static_cast<std::uint8_t>(d.sample(y, x, grey ? 0 : c) >> shift);
    }
  }
  return p;
}

// One grey channel, 8 bits. A grey file keeps its samples (alpha dropped, 16 bits: the high byte); a
// colour file is converted as torchvision's rgb_to_grayscale converts a uint8 tensor:
// float(0.2989 r + 0.587 g + 0.114 b), truncated.
inline pixels to_grey8(const decoded& d) {
  pixels p{d.width, d.height, 1, std::vector<std::uint8_t>(d.width * d.height)};
  const int shift = d.bit_depth - 8;
  for (std::size_t y = 0; y < d.height; ++y) {
    for (std::size_t x = 0; x < d.width; ++x) {
      std::uint8_t& out = p.data[y * d.width + x];
      if (d.channels <= 2) {
        out = static_cast<std::uint8_t>(d.sample(y, x, 0) >> shift);
      } else {
        const float r = static_cast<float>(d.sample(y, x, 0) >> shift);
        const float g = static_cast<float>(d.sample(y, x, 1) >> shift);
        const float b = static_cast<float>(d.sample(y, x, 2) >> shift);
        // One rounding per operation, as three separate tensor operations make them (no fused multiply-add).
        const float rg =
            static_cast<float>(static_cast<double>(0.2989f) * r) + static_cast<float>(static_cast<double>(0.587f) * g);
        const float l = rg + static_cast<float>(static_cast<double>(0.114f) * b);
        out = static_cast<std::uint8_t>(std::clamp(l, 0.0f, 255.0f));
      }
    }
  }
  return p;
}

// ---- resampling ----------------------------------------------------------------------------------

namespace detail {

// The product a * b rounded once to float. Written through double (where the product of two floats is
// exact) so that no compiler contracts it with a following addition into a fused multiply-add.
inline float product(float a, float b) noexcept {
  return static_cast<float>(static_cast<double>(a) * static_cast<double>(b));
}

// For each of `out` output positions along one axis of length `in`: the first input position, how many
// inputs it sums, and their weights (`stride` slots per output). Antialiased bilinear (a triangle filter
// widened by the downscale factor), computed with PyTorch's formulas and float/double roundings.
struct taps {
  std::vector<std::size_t> first;
  std::vector<std::size_t> count;
  std::vector<float> weights;
  std::size_t stride = 0;
};

inline taps bilinear_antialiased_taps(std::size_t in, std::size_t out) {
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  const float support = scale >= 1.0f ? scale : 1.0f;
  const float invscale = scale >= 1.0f ? static_cast<float>(1.0 / static_cast<double>(scale)) : 1.0f;
  taps t;
  t.stride = static_cast<std::size_t>(std::ceil(support)) * 2 + 1;
  t.first.resize(out);
  t.count.resize(out);
  t.weights.assign(out * t.stride, 0.0f);
  const auto in_size = static_cast<std::int64_t>(in);
  for (std::size_t i = 0; i < out; ++i) {
    const auto center = static_cast<float>(static_cast<double>(scale) * (static_cast<double>(i) + 0.5));
    const std::int64_t lo =
        std::max<std::int64_t>(static_cast<std::int64_t>(static_cast<double>(center - support) + 0.5), 0);
    const std::int64_t hi =
        std::min<std::int64_t>(static_cast<std::int64_t>(static_cast<double>(center + support) + 0.5), in_size);
    const std::int64_t n = std::max<std::int64_t>(hi - lo, 1);
    float* w = t.weights.data() + i * t.stride;
    float total = 0.0f;
    for (std::int64_t j = 0; j < n; ++j) {
      float x = static_cast<float>((static_cast<double>(static_cast<float>(j + lo) - center) + 0.5) *
                                   static_cast<double>(invscale));
      if (x < 0.0f) x = -x;
      w[j] = x < 1.0f ? static_cast<float>(1.0 - static_cast<double>(x)) : 0.0f;
      total += w[j];
    }
    if (total != 0.0f) {
      for (std::int64_t j = 0; j < n; ++j) w[j] /= total;
    }
    t.first[i] = static_cast<std::size_t>(std::min(lo, in_size - 1));
    t.count[i] = static_cast<std::size_t>(std::min(n, in_size - static_cast<std::int64_t>(t.first[i])));
  }
  return t;
}

// One output value: sum of src[k * step] * w[k], k < n. PyTorch 1.13's x86 CPU kernel (as compiled for
// AVX2) adds the taps after the first in groups of four with one rounding per product and per addition,
// and the rest with fused multiply-adds; this does the same.
inline float weighted_sum(const float* src, std::size_t step, const float* w, std::size_t n) noexcept {
  float acc = product(src[0], w[0]);
  const std::size_t grouped = (n - 1) / 4 * 4;
  std::size_t k = 1;
  for (; k <= grouped; ++k) acc = acc + product(src[k * step], w[k]);
  for (; k < n; ++k) acc = std::fma(src[k * step], w[k], acc);
  return acc;
}

}  // namespace detail

// The image resampled to height x width: antialiased bilinear, as torchvision resizes a uint8 tensor with
// antialias=True (see the top of this file). An image already of that size is returned unchanged.
inline pixels resize(const pixels& p, std::size_t height, std::size_t width) {
  if (p.width == 0 || p.height == 0 || height == 0 || width == 0)
    throw std::invalid_argument("typenet::image::resize: empty image or target size");
  if (height == p.height && width == p.width) return p;
  const auto ch = static_cast<std::size_t>(p.channels);
  // Width first, on floats, then height: PyTorch's order.
  const detail::taps tx = detail::bilinear_antialiased_taps(p.width, width);
  const detail::taps ty = detail::bilinear_antialiased_taps(p.height, height);
  std::vector<float> src(p.data.begin(), p.data.end());
  std::vector<float> rows(p.height * width * ch);
  for (std::size_t y = 0; y < p.height; ++y) {
    for (std::size_t x = 0; x < width; ++x) {
      for (std::size_t c = 0; c < ch; ++c) {
        rows[(y * width + x) * ch + c] = detail::weighted_sum(src.data() + (y * p.width + tx.first[x]) * ch + c, ch,
                                                              tx.weights.data() + x * tx.stride, tx.count[x]);
      }
    }
  }
  pixels out{width, height, p.channels, std::vector<std::uint8_t>(height * width * ch)};
  const std::size_t row = width * ch;
  for (std::size_t y = 0; y < height; ++y) {
    for (std::size_t i = 0; i < row; ++i) {
      const float v = detail::weighted_sum(rows.data() + ty.first[y] * row + i, row, ty.weights.data() + y * ty.stride,
                                           ty.count[y]);
      out.data[y * row + i] = static_cast<std::uint8_t>(std::clamp(std::nearbyint(v), 0.0f, 255.0f));
    }
  }
  return out;
}

// The output size of resizing the shorter side to `shorter`, the longer in proportion (truncated), as
// torchvision's Resize([shorter]) computes it. {height, width}.
inline std::array<std::size_t, 2> shorter_side_size(std::size_t height, std::size_t width, std::size_t shorter) {
  const bool portrait = width <= height;
  const std::size_t s = portrait ? width : height;
  const std::size_t l = portrait ? height : width;
  const auto longer = static_cast<std::size_t>(static_cast<double>(shorter * l) / static_cast<double>(s));
  return portrait ? std::array{longer, shorter} : std::array{shorter, longer};
}

inline pixels resize_shorter(const pixels& p, std::size_t shorter) {
  const auto [h, w] = shorter_side_size(p.height, p.width, shorter);
  return resize(p, h, w);
}

// The centre height x width window, as torchvision's center_crop takes it (offsets rounded half to
// even); where the image is smaller than the window, the window is filled out with zeros on both sides.
inline pixels center_crop(const pixels& p, std::size_t height, std::size_t width) {
  const auto offset = [](std::size_t have, std::size_t want) -> std::ptrdiff_t {
    if (want > have) return -static_cast<std::ptrdiff_t>((want - have) / 2);
    return static_cast<std::ptrdiff_t>(std::nearbyint(static_cast<double>(have - want) / 2.0));
  };
  const std::ptrdiff_t top = offset(p.height, height);
  const std::ptrdiff_t left = offset(p.width, width);
  const auto ch = static_cast<std::size_t>(p.channels);
  pixels out{width, height, p.channels, std::vector<std::uint8_t>(height * width * ch, 0)};
  for (std::size_t y = 0; y < height; ++y) {
    const std::ptrdiff_t sy = top + static_cast<std::ptrdiff_t>(y);
    if (sy < 0 || sy >= static_cast<std::ptrdiff_t>(p.height)) continue;
    for (std::size_t x = 0; x < width; ++x) {
      const std::ptrdiff_t sx = left + static_cast<std::ptrdiff_t>(x);
      if (sx < 0 || sx >= static_cast<std::ptrdiff_t>(p.width)) continue;
      const std::uint8_t* from =
          p.data.data() + (static_cast<std::size_t>(sy) * p.width + static_cast<std::size_t>(sx)) * ch;
      std::copy(from, from + ch, out.data.data() + (y * width + x) * ch);
    }
  }
  return out;
}

// ---- to a network's input ------------------------------------------------------------------------

// How an image becomes a network input: resize the shorter side to `resize` (0: keep the size), crop the
// centre crop_height x crop_width, convert to `channels` (1: to_grey8, 3: to_rgb8), then per channel
// (v / 255 - mean) / stddev, laid out CHW.
struct preprocessing {
  std::size_t resize = 256;
  std::size_t crop_height = 224;
  std::size_t crop_width = 224;
  int channels = 3;
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> stddev{0.229f, 0.224f, 0.225f};

  [[nodiscard]] std::size_t values() const noexcept {
    return static_cast<std::size_t>(channels) * crop_height * crop_width;
  }
};

// torchvision's ImageNet classification preset (resize 256, centre crop, ImageNet mean and std) for a
// network taking crop x crop images: 224 for torchvision's models, 227 for the original AlexNet.
inline preprocessing imagenet(std::size_t crop = 224, std::size_t resize = 256) {
  return preprocessing{resize, crop, crop, 3, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
}

// Grey digits for a size x size network (LeNet-5: 32): shorter side to `size`, centre crop, [0, 1].
inline preprocessing digits(std::size_t size = 32) {
  return preprocessing{size, size, size, 1, {0.0f, 0.0f, 0.0f}, {1.0f, 1.0f, 1.0f}};
}

// The steps of `how` applied to a decoded image; `out` takes how.values() floats (CHW).
inline void prepare_into(const decoded& image, const preprocessing& how, std::span<float> out) {
  if (how.channels != 1 && how.channels != 3)
    throw std::invalid_argument("typenet::image::prepare: channels must be 1 or 3, not " +
                                std::to_string(how.channels));
  if (how.crop_height == 0 || how.crop_width == 0)
    throw std::invalid_argument("typenet::image::prepare: the crop size is 0");
  if (out.size() != how.values()) {
    throw std::invalid_argument("typenet::image::prepare: the output holds " + std::to_string(out.size()) +
                                " floats, the input needs " + std::to_string(how.values()));
  }
  pixels p = how.channels == 3 ? to_rgb8(image) : to_grey8(image);
  if (how.resize != 0) p = resize_shorter(p, how.resize);
  p = center_crop(p, how.crop_height, how.crop_width);
  const std::size_t plane = how.crop_height * how.crop_width;
  for (std::size_t c = 0; c < static_cast<std::size_t>(how.channels); ++c) {
    for (std::size_t i = 0; i < plane; ++i) {
      const float v = static_cast<float>(p.data[i * static_cast<std::size_t>(how.channels) + c]) / 255.0f;
      out[c * plane + i] = (v - how.mean[c]) / how.stddev[c];
    }
  }
}

inline std::vector<float> prepare(const decoded& image, const preprocessing& how) {
  std::vector<float> out(how.values());
  prepare_into(image, how, out);
  return out;
}

}  // namespace typenet::image
