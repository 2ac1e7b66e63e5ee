// typenet/image/types.hpp: the two image types of <typenet/image.hpp>: an image as its file stores it
// (decoded) and an 8-bit image being prepared for a network (pixels).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace typenet::image {

// An image as the file stores it: height rows of width pixels, each of `channels` interleaved samples
// (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA; a palette image is expanded to RGB), `bit_depth` 8 or 16 bits
// per sample. Samples of 8-bit images take one byte each in `bytes`, those of 16-bit images two bytes in
// this machine's byte order; sample() reads either.
struct decoded {
  std::size_t width = 0;
  std::size_t height = 0;
  int channels = 0;
  int bit_depth = 0;
  std::vector<std::uint8_t> bytes;

  // The sample of channel c of the pixel in row y, column x: 0 .. 2^bit_depth - 1.
  [[nodiscard]] std::uint16_t sample(std::size_t y, std::size_t x, int c) const noexcept {
    const std::size_t i = (y * width + x) * static_cast<std::size_t>(channels) + static_cast<std::size_t>(c);
    if (bit_depth == 8) return bytes[i];
    std::uint16_t v;
    std::memcpy(&v, bytes.data() + 2 * i, 2);
    return v;
  }
};

// An 8-bit image with 1 (grey) or 3 (RGB) channels, interleaved: data[(y * width + x) * channels + c].
// The stage between a decoded file and a network's input (to_rgb8, resize_shorter, center_crop).
struct pixels {
  std::size_t width = 0;
  std::size_t height = 0;
  int channels = 0;
  std::vector<std::uint8_t> data;

  [[nodiscard]] std::uint8_t at(std::size_t y, std::size_t x, int c) const noexcept {
    return data[(y * width + x) * static_cast<std::size_t>(channels) + static_cast<std::size_t>(c)];
  }
};

}  // namespace typenet::image
