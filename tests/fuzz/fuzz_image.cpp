// libFuzzer target for typenet::image::decode (JPEG through libjpeg-turbo, PNG through libpng) and the
// preprocessing of what it accepts. An io_error is the expected way to reject a file; any other
// exception, a crash, a sanitizer report or a broken invariant (__builtin_trap) is a finding.
#include <typenet/image.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A small pixel limit: the fuzzer explores headers, not the machine's memory.
  const typenet::image::decode_limits limits{.max_pixels = std::uint64_t{1} << 20};
  try {
    const auto d = typenet::image::decode(std::span<const unsigned char>(data, size), "fuzz.img", limits);
    // An accepted image is non-empty, within the limit, and holds exactly its samples.
    if (d.width == 0 || d.height == 0 || d.width * d.height > limits.max_pixels) __builtin_trap();
    if (d.channels < 1 || d.channels > 4 || (d.bit_depth != 8 && d.bit_depth != 16)) __builtin_trap();
    if (d.bytes.size() != d.width * d.height * static_cast<std::size_t>(d.channels * d.bit_depth / 8)) __builtin_trap();
    for (const auto& how : {typenet::image::imagenet(7, 9), typenet::image::digits(5)}) {
      for (const float v : typenet::image::prepare(d, how)) {
        if (!std::isfinite(v) || v < -3.0f || v > 3.0f) __builtin_trap();  // (v / 255 - mean) / std, bounded
      }
    }
  } catch (const typenet::io::io_error& e) {
    if (e.file() != "fuzz.img" || e.problem().empty()) __builtin_trap();
  }
  return 0;
}
