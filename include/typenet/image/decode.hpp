// typenet/image/decode.hpp: JPEG and PNG files to typenet::image::decoded, through libjpeg-turbo and libpng
// (link typenet::image, which adds both). Every problem is a typenet::io::io_error "<file>: <problem>".
//
// Why these two libraries: Pillow, torchvision's usual image reader, decodes JPEG with libjpeg-turbo too,
// so with the same settings (libjpeg's defaults: the accurate integer IDCT, fancy upsampling) a JPEG
// decodes to the same pixels here as in PIL, which a different decoder (stb_image's, for one) does not
// promise. PNG is lossless and libpng is the reference implementation of the format.
#pragma once

#include <typenet/image/types.hpp>
#include <typenet/io/detail/file.hpp>
#include <typenet/io/error.hpp>

#include <algorithm>
#include <bit>
#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// jpeglib.h needs <cstdio> (above) and does not include it itself; jerror.h, its message codes, after it.
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on
#include <png.h>

namespace typenet::image {

// What decode() accepts before it allocates anything for the pixels. A file declaring more pixels is an
// error that names both numbers (a corrupt or hostile header can declare 100,000 x 100,000).
struct decode_limits {
  std::uint64_t max_pixels = std::uint64_t{1} << 27;      // 134 million: 16384 x 8192
  std::uint64_t max_file_bytes = std::uint64_t{1} << 30;  // read_image(): files larger than 1 GiB
};

namespace detail {

inline constexpr unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

inline void check_pixel_count(std::string_view name, std::uint64_t width, std::uint64_t height,
                              const decode_limits& limits) {
  if (width == 0 || height == 0)
    throw io::io_error(name, "the image is empty (" + std::to_string(width) + " x " + std::to_string(height) + ")");
  if (width > limits.max_pixels / height) {
    throw io::io_error(name, "the image declares " + std::to_string(width) + " x " + std::to_string(height) +
                                 " pixels, more than the limit of " + std::to_string(limits.max_pixels) +
                                 " (typenet::image::decode_limits::max_pixels)");
  }
}

// ---- JPEG ----------------------------------------------------------------------------------------
// libjpeg reports errors through a callback that must not return; it leaves by longjmp to the setjmp of
// the phase that called libjpeg. Each phase is a function whose only automatic objects are trivial (no
// destructor is skipped by the jump), and every C++ object it fills lives in its caller.

struct jpeg_state {
  jpeg_decompress_struct info;
  jpeg_error_mgr errors;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool created;
};

inline void jpeg_fail(j_common_ptr info) {
  auto* s = static_cast<jpeg_state*>(info->client_data);
  (*info->err->format_message)(info, s->message);
  std::longjmp(s->jump, 1);
}

// Warnings (level -1) mean corrupt data that libjpeg would paper over (e.g. a truncated file is padded
// with grey): they fail too, except for stray bytes between markers, which lose nothing. Trace messages
// (level >= 0) are ignored.
inline void jpeg_message(j_common_ptr info, int level) {
  if (level < 0 && info->err->msg_code != JWRN_EXTRANEOUS_DATA) jpeg_fail(info);
}

// Phase 1: the header. Returns false (and s->message) on an error.
inline bool jpeg_read_info(jpeg_state* s, const unsigned char* data, std::size_t size) {
  if (setjmp(s->jump)) return false;
  jpeg_create_decompress(&s->info);
  s->created = true;
  jpeg_mem_src(&s->info, data, static_cast<unsigned long>(size));
  jpeg_read_header(&s->info, TRUE);
  return true;
}

// Phase 2: the pixels, row by row into `out` (rows of row_bytes bytes).
inline bool jpeg_read_pixels(jpeg_state* s, unsigned char* out, std::size_t row_bytes) {
  if (setjmp(s->jump)) return false;
  jpeg_start_decompress(&s->info);
  while (s->info.output_scanline < s->info.output_height) {
    JSAMPROW row = out + static_cast<std::size_t>(s->info.output_scanline) * row_bytes;
    jpeg_read_scanlines(&s->info, &row, 1);
  }
  // jpeg_finish_decompress is not called: every pixel has been read. (A file that ends without its
  // end-of-image marker is refused all the same: libjpeg reads ahead, so it cannot be told from a
  // truncated one.)
  return true;
}

inline decoded decode_jpeg(std::span<const unsigned char> bytes, std::string_view name, const decode_limits& limits) {
  jpeg_state s{};
  s.info.err = jpeg_std_error(&s.errors);
  s.info.client_data = &s;  // kept by jpeg_create_decompress
  s.errors.error_exit = jpeg_fail;
  s.errors.emit_message = jpeg_message;
  struct destroy {
    jpeg_state& s;
    ~destroy() {
      if (s.created) jpeg_destroy_decompress(&s.info);
    }
  } guard{s};
  const auto fail = [&] {
    throw io::io_error(name, std::string("corrupt or truncated JPEG file (libjpeg: ") + s.message + ")");
  };
  if (!jpeg_read_info(&s, bytes.data(), bytes.size())) fail();

  decoded out;
  switch (s.info.jpeg_color_space) {
    case JCS_GRAYSCALE:
      s.info.out_color_space = JCS_GRAYSCALE;
      out.channels = 1;
      break;
    case JCS_YCbCr:
    case JCS_RGB:
      s.info.out_color_space = JCS_RGB;
      out.channels = 3;
      break;
    default:
      throw io::io_error(name, "a JPEG in CMYK or YCCK colour is not supported (only grey and RGB/YCbCr are)");
  }
  out.width = s.info.image_width;
  out.height = s.info.image_height;
  out.bit_depth = 8;
  check_pixel_count(name, out.width, out.height, limits);
  const std::size_t row_bytes = out.width * static_cast<std::size_t>(out.channels);
  out.bytes = io::detail::allocate_for<std::uint8_t>(std::string(name), std::uint64_t{row_bytes} * out.height,
                                                     "the decoded image");
  if (!jpeg_read_pixels(&s, out.bytes.data(), row_bytes)) fail();
  return out;
}

// ---- PNG -----------------------------------------------------------------------------------------

struct png_state {
  png_structp png;
  png_infop info;
  const unsigned char* data;
  std::size_t size;
  std::size_t at;
  char message[256];
};

inline void png_fail(png_structp png, png_const_charp text) {
  auto* s = static_cast<png_state*>(png_get_error_ptr(png));
  std::snprintf(s->message, sizeof s->message, "%s", text);
  png_longjmp(png, 1);
}

inline void png_warn(png_structp, png_const_charp) {}  // ancillary-chunk problems: the pixels are intact

inline void png_read_bytes(png_structp png, png_bytep dst, png_size_t n) {
  auto* s = static_cast<png_state*>(png_get_io_ptr(png));
  if (n > s->size - s->at) png_error(png, "the file ends before the image does");
  std::memcpy(dst, s->data + s->at, n);
  s->at += n;
}

// Phase 1: the header, and the transformations to what `decoded` holds. Returns false on an error.
inline bool png_read_header(png_state* s) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_set_read_fn(s->png, s, png_read_bytes);
  png_read_info(s->png, s->info);
  const int colour = png_get_color_type(s->png, s->info);
  const int depth = png_get_bit_depth(s->png, s->info);
  if (colour == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(s->png);
  if (colour == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(s->png);
  if (depth == 16 && std::endian::native == std::endian::little) png_set_swap(s->png);
  png_set_interlace_handling(s->png);
  png_read_update_info(s->png, s->info);
  return true;
}

inline bool png_read_pixels(png_state* s, png_bytepp rows) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_read_image(s->png, rows);
  return true;
}

inline decoded decode_png(std::span<const unsigned char> bytes, std::string_view name, const decode_limits& limits) {
  // The size, from the IHDR chunk that must come first, checked before libpng sees it (libpng calls a
  // 0 x 0 image only "Invalid IHDR data").
  if (bytes.size() >= 24 && std::memcmp(bytes.data() + 12, "IHDR", 4) == 0) {
    const auto be32 = [&](std::size_t at) {
      return std::uint32_t{bytes[at]} << 24 | std::uint32_t{bytes[at + 1]} << 16 | std::uint32_t{bytes[at + 2]} << 8 |
             std::uint32_t{bytes[at + 3]};
    };
    check_pixel_count(name, be32(16), be32(20), limits);
  }
  png_state s{};
  s.data = bytes.data();
  s.size = bytes.size();
  s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, png_fail, png_warn);
  if (s.png != nullptr) s.info = png_create_info_struct(s.png);
  struct destroy {
    png_state& s;
    ~destroy() { png_destroy_read_struct(&s.png, s.info != nullptr ? &s.info : nullptr, nullptr); }
  } guard{s};
  if (s.png == nullptr || s.info == nullptr) throw io::io_error(name, "not enough memory to start decoding it");
  const auto fail = [&] {
    throw io::io_error(name, std::string("corrupt or truncated PNG file (libpng: ") + s.message + ")");
  };
  if (!png_read_header(&s)) fail();

  decoded out;
  out.width = png_get_image_width(s.png, s.info);
  out.height = png_get_image_height(s.png, s.info);
  out.channels = png_get_channels(s.png, s.info);
  out.bit_depth = png_get_bit_depth(s.png, s.info);
  check_pixel_count(name, out.width, out.height, limits);
  const std::size_t row_bytes = png_get_rowbytes(s.png, s.info);
  if (row_bytes != out.width * static_cast<std::size_t>(out.channels) * static_cast<std::size_t>(out.bit_depth / 8))
    throw io::io_error(name, "unexpected PNG row layout after conversion");  // a libpng we do not know
  const std::string file(name);
  out.bytes = io::detail::allocate_for<std::uint8_t>(file, std::uint64_t{row_bytes} * out.height, "the decoded image");
  auto rows = io::detail::allocate_for<png_bytep>(file, out.height, "the decoded image's row table");
  for (std::size_t y = 0; y < out.height; ++y) rows[y] = out.bytes.data() + y * row_bytes;
  if (!png_read_pixels(&s, rows.data())) fail();
  return out;
}

}  // namespace detail

// Decodes a JPEG or PNG image held in memory; `name` is what error messages call it (a file name).
// Recognised by content, not by name: PNG by its signature, JPEG by its start-of-image marker. JPEG: grey or
// colour (YCbCr/RGB), 8-bit, baseline or progressive. PNG: every colour type and bit depth; grey below 8
// bits is widened to 8, palette images become RGB, 16-bit samples are kept. Corrupt or truncated data,
// an empty (0 x 0) image or one with more pixels than limits.max_pixels is an io_error.
inline decoded decode(std::span<const unsigned char> bytes, std::string_view name, const decode_limits& limits = {}) {
  if (bytes.empty()) throw io::io_error(name, "empty file, not an image");
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), detail::png_signature, 8) == 0)
    return detail::decode_png(bytes, name, limits);
  if (bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff)
    return detail::decode_jpeg(bytes, name, limits);
  const std::string_view start(reinterpret_cast<const char*>(bytes.data()), std::min<std::size_t>(bytes.size(), 8));
  throw io::io_error(name, "not a JPEG or PNG image (it starts with \"" + io::detail::printable(start) + "\")");
}

// Reads and decodes an image file (a regular file, or a pipe or standard input up to limits.max_file_bytes).
inline decoded read_image(const std::filesystem::path& path, const decode_limits& limits = {}) {
  io::detail::input_file in(path);
  const std::string& name = in.name();
  std::vector<unsigned char> bytes;
  if (in.regular()) {
    if (in.size() > limits.max_file_bytes) {
      throw io::io_error(name, std::to_string(in.size()) + " bytes, more than the limit of " +
                                   std::to_string(limits.max_file_bytes) +
                                   " for an image file (typenet::image::decode_limits::max_file_bytes)");
    }
    bytes = io::detail::allocate_for<unsigned char>(name, in.size(), "the file");
    if (in.read(bytes.data(), bytes.size()) != bytes.size() || in.has_more()) in.changed_while_reading();
  } else {
    constexpr std::size_t chunk = std::size_t{1} << 20;
    for (;;) {
      const std::size_t had = bytes.size();
      if (had >= limits.max_file_bytes) {
        if (!in.has_more()) break;
        throw io::io_error(name,
                           "more than " + std::to_string(limits.max_file_bytes) +
                               " bytes, the limit for an image file (typenet::image::decode_limits::max_file_bytes)");
      }
      io::detail::naming_memory_failures(name, [&] { bytes.resize(had + chunk); });
      const auto got = in.read(bytes.data() + had, std::min<std::uint64_t>(chunk, limits.max_file_bytes - had));
      bytes.resize(had + static_cast<std::size_t>(got));
      if (got == 0) break;
    }
  }
  return decode(bytes, name, limits);
}

}  // namespace typenet::image
