// Tests of <typenet/image.hpp>.
//   image.decode      files encoded here with libpng/libjpeg, hand-made headers, every refusal
//   image.preprocess  resize, crop and normalisation against values derived by hand
//   image.torchvision files made by tests/image/make_cases.py: decoding against PIL, preprocessing
//                     against torchvision (directory in TYPENET_IMAGE_CASES; exit status 77 without it)
#include <typenet/image.hpp>
#include <typenet/io/npy.hpp>

#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <zlib.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

namespace img = typenet::image;
namespace fs = std::filesystem;
using bytes = std::vector<unsigned char>;

namespace {

// The message of the io_error that decoding `data` raises, or "" when it decodes.
std::string refusal(const bytes& data, const img::decode_limits& limits = {}) {
  try {
    img::decode(data, "photo.bin", limits);
  } catch (const typenet::io::io_error& e) {
    CHECK(e.file() == "photo.bin");
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// ---- encoders for the tests ----------------------------------------------------------------------

void put_be32(bytes& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<unsigned char>(v >> s));
}

// A PNG chunk with its length and CRC; `crc_delta` spoils the CRC.
void chunk(bytes& out, const char* kind, const bytes& data, std::uint32_t crc_delta = 0) {
  put_be32(out, static_cast<std::uint32_t>(data.size()));
  bytes body(kind, kind + 4);
  body.insert(body.end(), data.begin(), data.end());
  out.insert(out.end(), body.begin(), body.end());
  put_be32(out, static_cast<std::uint32_t>(crc32(0, body.data(), static_cast<uInt>(body.size()))) + crc_delta);
}

// A PNG by hand: signature, IHDR, one IDAT of the given filtered rows, IEND.
bytes png_by_hand(std::uint32_t width, std::uint32_t height, int depth, int colour, const bytes& filtered_rows,
                  std::uint32_t ihdr_crc_delta = 0) {
  bytes out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  bytes ihdr;
  put_be32(ihdr, width);
  put_be32(ihdr, height);
  ihdr.insert(ihdr.end(), {static_cast<unsigned char>(depth), static_cast<unsigned char>(colour), 0, 0, 0});
  chunk(out, "IHDR", ihdr, ihdr_crc_delta);
  uLongf size = compressBound(static_cast<uLong>(filtered_rows.size()));
  bytes z(size);
  REQUIRE(compress(z.data(), &size, filtered_rows.data(), static_cast<uLong>(filtered_rows.size())) == Z_OK);
  z.resize(size);
  chunk(out, "IDAT", z);
  chunk(out, "IEND", {});
  return out;
}

// A PNG written by libpng: 8 or 16-bit samples (16-bit given as big-endian pairs), optionally interlaced.
bytes png_by_libpng(std::uint32_t width, std::uint32_t height, int depth, int colour, const bytes& samples,
                    bool interlaced = false) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  bytes out;
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, png_size_t n) {
        auto* o = static_cast<bytes*>(png_get_io_ptr(p));
        o->insert(o->end(), data, data + n);
      },
      nullptr);
  png_set_IHDR(png, info, width, height, depth, colour, interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const std::size_t row = samples.size() / height;
  std::vector<png_bytep> rows(height);
  for (std::uint32_t y = 0; y < height; ++y) rows[y] = const_cast<png_bytep>(samples.data() + y * row);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

// A JPEG written by libjpeg (quality 95) from interleaved 8-bit samples.
bytes jpeg_by_libjpeg(int width, int height, int components, J_COLOR_SPACE space, const bytes& samples) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buffer, &size);
  c.image_width = static_cast<JDIMENSION>(width);
  c.image_height = static_cast<JDIMENSION>(height);
  c.input_components = components;
  c.in_color_space = space;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 95, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row =
        const_cast<JSAMPROW>(samples.data() + c.next_scanline * static_cast<std::size_t>(width * components));
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  bytes out(buffer, buffer + size);
  jpeg_destroy_compress(&c);
  std::free(buffer);
  return out;
}

// Deterministic 8-bit test content.
bytes pattern(std::size_t n, unsigned seed) {
  bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<unsigned char>((i * 37 + seed * 11 + (i / 7) * 3) & 0xff);
  return b;
}

}  // namespace

TEST_SUITE("image.decode") {
  TEST_CASE("an 8-bit RGB and an RGBA PNG decode to the samples written") {
    for (const int colour : {PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA}) {
      const int ch = colour == PNG_COLOR_TYPE_RGB ? 3 : 4;
      const bytes s = pattern(13 * 7 * ch, 1);
      const img::decoded d = img::decode(png_by_libpng(13, 7, 8, colour, s), "x.png");
      CHECK(d.width == 13);
      CHECK(d.height == 7);
      CHECK(d.channels == ch);
      CHECK(d.bit_depth == 8);
      CHECK(d.bytes == s);
      CHECK(d.sample(6, 12, ch - 1) == s.back());
    }
  }

  TEST_CASE("16-bit grey and grey + alpha keep their 16-bit samples") {
    bytes be(11 * 5 * 2 * 2);  // grey + alpha, big-endian in the file
    for (std::size_t i = 0; i < be.size(); ++i) be[i] = static_cast<unsigned char>((i * 151 + 7) & 0xff);
    const img::decoded d = img::decode(png_by_libpng(11, 5, 16, PNG_COLOR_TYPE_GRAY_ALPHA, be), "x.png");
    CHECK(d.channels == 2);
    CHECK(d.bit_depth == 16);
    CHECK(d.sample(0, 0, 0) == (be[0] << 8 | be[1]));
    CHECK(d.sample(4, 10, 1) == (be[be.size() - 2] << 8 | be.back()));
    const img::pixels rgb = img::to_rgb8(d);  // grey repeated, high byte, alpha dropped
    CHECK(rgb.at(4, 10, 0) == be[be.size() - 4]);
    CHECK(rgb.at(4, 10, 2) == be[be.size() - 4]);
  }

  TEST_CASE("an interlaced PNG decodes like the same image not interlaced") {
    const bytes s = pattern(37 * 23 * 3, 2);
    const img::decoded a = img::decode(png_by_libpng(37, 23, 8, PNG_COLOR_TYPE_RGB, s, true), "i.png");
    CHECK(a.bytes == s);
  }

  TEST_CASE("1-bit grey and palette PNGs are widened to 8-bit grey and RGB") {
    // 1-bit grey by hand: 10 pixels per row, filter byte 0, bits 1011001110 -> 255 0 255 255 0 0 255 255 255 0.
    const img::decoded g = img::decode(png_by_hand(10, 1, 1, 0, {0, 0b10110011, 0b10000000}), "g.png");
    CHECK(g.channels == 1);
    CHECK(g.bit_depth == 8);
    CHECK(g.bytes == bytes{255, 0, 255, 255, 0, 0, 255, 255, 255, 0});
    // A 2-entry palette PNG by hand: PLTE before IDAT.
    bytes p = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    bytes ihdr;
    put_be32(ihdr, 3);
    put_be32(ihdr, 1);
    ihdr.insert(ihdr.end(), {8, 3, 0, 0, 0});
    chunk(p, "IHDR", ihdr);
    chunk(p, "PLTE", {10, 20, 30, 200, 150, 100});
    const bytes rows = {0, 1, 0, 1};
    uLongf size = compressBound(4);
    bytes z(size);
    compress(z.data(), &size, rows.data(), 4);
    z.resize(size);
    chunk(p, "IDAT", z);
    chunk(p, "IEND", {});
    const img::decoded d = img::decode(p, "p.png");
    CHECK(d.channels == 3);
    CHECK(d.bytes == bytes{200, 150, 100, 10, 20, 30, 200, 150, 100});
  }

  TEST_CASE("a JPEG written by libjpeg decodes to its size and close to its samples") {
    const bytes s(40 * 24 * 3, 120);
    const img::decoded d = img::decode(jpeg_by_libjpeg(40, 24, 3, JCS_RGB, s), "x.jpg");
    CHECK(d.width == 40);
    CHECK(d.height == 24);
    CHECK(d.channels == 3);
    for (const auto v : d.bytes) CHECK(std::abs(int(v) - 120) <= 2);
    const img::decoded g = img::decode(jpeg_by_libjpeg(9, 5, 1, JCS_GRAYSCALE, bytes(45, 77)), "g.jpg");
    CHECK(g.channels == 1);
  }

  TEST_CASE("what is not an image is refused with the file's name and why") {
    CHECK(contains(refusal({}), "photo.bin: empty file, not an image"));
    CHECK(contains(refusal({'G', 'I', 'F', '8', '9', 'a', 1, 0}),
                   "not a JPEG or PNG image (it starts with \"GIF89a\\x01\\x00\")"));
    CHECK(contains(refusal({0xff, 0xd8}), "not a JPEG or PNG image"));
  }

  TEST_CASE("truncated files are refused, not padded") {
    const bytes png = png_by_libpng(64, 64, 8, PNG_COLOR_TYPE_RGB, pattern(64 * 64 * 3, 3));
    for (const std::size_t keep : {std::size_t{8}, std::size_t{20}, std::size_t{40}, png.size() / 2, png.size() - 13}) {
      const std::string m = refusal(bytes(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(keep)));
      CAPTURE(keep);
      CHECK(contains(m, "photo.bin: corrupt or truncated PNG file (libpng: "));
    }
    const bytes jpg = jpeg_by_libjpeg(64, 48, 3, JCS_RGB, pattern(64 * 48 * 3, 4));
    for (const std::size_t keep : {std::size_t{3}, std::size_t{100}, jpg.size() / 2, jpg.size() - 40}) {
      const std::string m = refusal(bytes(jpg.begin(), jpg.begin() + static_cast<std::ptrdiff_t>(keep)));
      CAPTURE(keep);
      CHECK(contains(m, "photo.bin: corrupt or truncated JPEG file (libjpeg: "));
    }
    // Without its end-of-image marker a JPEG cannot be told from a truncated one (libjpeg reads ahead).
    CHECK(contains(refusal(bytes(jpg.begin(), jpg.end() - 2)), "Premature end of JPEG file"));
    CHECK(refusal(jpg).empty());
  }

  TEST_CASE("empty images and headers declaring too many pixels are refused before allocating") {
    CHECK(contains(refusal(png_by_hand(0, 0, 8, 2, {})), "photo.bin: the image is empty (0 x 0)"));
    CHECK(contains(refusal(png_by_hand(5, 0, 8, 2, {})), "photo.bin: the image is empty (5 x 0)"));
    CHECK(contains(refusal(png_by_hand(100000, 100000, 8, 2, {0})),
                   "photo.bin: the image declares 100000 x 100000 pixels, more than the limit of 134217728"));
    CHECK(contains(refusal(png_by_libpng(20, 10, 8, PNG_COLOR_TYPE_RGB, pattern(600, 5)), {.max_pixels = 199}),
                   "the image declares 20 x 10 pixels, more than the limit of 199"));
    CHECK(contains(refusal(jpeg_by_libjpeg(20, 10, 3, JCS_RGB, pattern(600, 6)), {.max_pixels = 199}),
                   "the image declares 20 x 10 pixels, more than the limit of 199"));
  }

  TEST_CASE("a damaged header CRC and a CMYK JPEG are refused") {
    CHECK(contains(refusal(png_by_hand(4, 4, 8, 2, bytes(4 * 13, 0), 1)), "IHDR: CRC error"));
    const std::string m = refusal(jpeg_by_libjpeg(8, 8, 4, JCS_CMYK, pattern(256, 7)));
    CHECK(contains(m, "photo.bin: a JPEG in CMYK or YCCK colour is not supported"));
  }

  TEST_CASE("read_image names the file it cannot open or read") {
    const fs::path dir = fs::temp_directory_path() / ("typenet_image_test_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const fs::path file = dir / "cut.png";
    const bytes png = png_by_libpng(16, 16, 8, PNG_COLOR_TYPE_GRAY, pattern(256, 8));
    std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(png.data()), 40);
    try {
      img::read_image(file);
      FAIL("a truncated file was accepted");
    } catch (const typenet::io::io_error& e) {
      CHECK(e.file() == file.string());
      CHECK(contains(e.what(), "corrupt or truncated PNG file"));
    }
    CHECK_THROWS_WITH_AS(img::read_image(dir / "absent.jpg"), doctest::Contains("absent.jpg: cannot open for reading"),
                         typenet::io::io_error);
    CHECK_THROWS_WITH_AS(img::read_image(file, {.max_file_bytes = 39}),
                         doctest::Contains("40 bytes, more than the limit of 39"), typenet::io::io_error);
    fs::remove_all(dir);
  }
}

TEST_SUITE("image.preprocess") {
  // Downscaling 4 -> 2 by the triangle filter widened 2x: output 0 sums inputs 0..2 with weights
  // 0.75, 0.75, 0.25 (normalised: 3/7, 3/7, 1/7), output 1 inputs 1..3 with 1/7, 3/7, 3/7.
  TEST_CASE("antialiased bilinear downscale by 2: values derived by hand, both axes") {
    const img::pixels row{4, 1, 1, {0, 70, 140, 210}};
    CHECK(img::resize(row, 1, 2).data == std::vector<std::uint8_t>{50, 160});
    const img::pixels column{1, 4, 1, {0, 70, 140, 210}};
    CHECK(img::resize(column, 2, 1).data == std::vector<std::uint8_t>{50, 160});
    // Three channels are resampled independently.
    const img::pixels rgb{4, 1, 3, {0, 1, 2, 70, 1, 2, 140, 1, 2, 210, 1, 2}};
    CHECK(img::resize(rgb, 1, 2).data == std::vector<std::uint8_t>{50, 1, 2, 160, 1, 2});
  }

  // Upscaling 2 -> 4 is plain bilinear: output centres 0.25, 0.75, 1.25, 1.75 in input units, clamped at
  // the edges: 0, 0.25 a + 0.75 b ... for a = 0, b = 200: 0, 50, 150, 200.
  TEST_CASE("bilinear upscale by 2: values derived by hand") {
    const img::pixels row{2, 1, 1, {0, 200}};
    CHECK(img::resize(row, 1, 4).data == std::vector<std::uint8_t>{0, 50, 150, 200});
  }

  TEST_CASE("rounding is half to even, as torch.round") {
    // Two inputs averaged (2 -> 1): 3 and 4 give 3.5 -> 4; 4 and 5 give 4.5 -> 4.
    CHECK(img::resize(img::pixels{2, 1, 1, {3, 4}}, 1, 1).data == std::vector<std::uint8_t>{4});
    CHECK(img::resize(img::pixels{2, 1, 1, {4, 5}}, 1, 1).data == std::vector<std::uint8_t>{4});
  }

  TEST_CASE("the shorter side becomes the given size, the longer one in proportion, truncated") {
    CHECK(img::shorter_side_size(300, 400, 256) == std::array<std::size_t, 2>{256, 341});
    CHECK(img::shorter_side_size(400, 300, 256) == std::array<std::size_t, 2>{341, 256});
    CHECK(img::shorter_side_size(500, 500, 256) == std::array<std::size_t, 2>{256, 256});
    CHECK(img::shorter_side_size(61, 97, 256) == std::array<std::size_t, 2>{256, 407});
  }

  TEST_CASE("centre crop offsets round half to even; a window larger than the image is padded with zeros") {
    const img::pixels seven{7, 1, 1, {0, 1, 2, 3, 4, 5, 6}};
    CHECK(img::center_crop(seven, 1, 2).data == std::vector<std::uint8_t>{2, 3});        // offset 2.5 -> 2
    CHECK(img::center_crop(seven, 1, 4).data == std::vector<std::uint8_t>{2, 3, 4, 5});  // 1.5 -> 2
    CHECK(img::center_crop(seven, 1, 3).data == std::vector<std::uint8_t>{2, 3, 4});
    const img::pixels two{2, 1, 1, {8, 9}};
    CHECK(img::center_crop(two, 1, 5).data == std::vector<std::uint8_t>{0, 8, 9, 0, 0});
    CHECK(img::center_crop(two, 2, 2).data == std::vector<std::uint8_t>{8, 9, 0, 0});
  }

  TEST_CASE("grey conversion: torchvision's weights, truncated (white becomes 254)") {
    img::decoded d{2, 1, 3, 8, {255, 255, 255, 10, 200, 30}};
    // 0.2989 * 10 + 0.587 * 200 + 0.114 * 30 = 123.819 -> 123
    CHECK(img::to_grey8(d).data == std::vector<std::uint8_t>{254, 123});
  }

  TEST_CASE("prepare: [0, 1], mean and standard deviation per channel, CHW") {
    // A 1 x 2 image, no resize, no crop beyond its size.
    const img::decoded d{2, 1, 3, 8, {255, 0, 51, 0, 255, 102}};
    img::preprocessing how = img::imagenet(1);
    how.resize = 0;
    how.crop_width = 2;
    const std::vector<float> x = img::prepare(d, how);
    REQUIRE(x.size() == 6);
    CHECK(x[0] == doctest::Approx((1.0 - 0.485) / 0.229).epsilon(1e-6));
    CHECK(x[1] == doctest::Approx((0.0 - 0.485) / 0.229).epsilon(1e-6));
    CHECK(x[2] == doctest::Approx((0.0 - 0.456) / 0.224).epsilon(1e-6));
    CHECK(x[5] == doctest::Approx((0.4 - 0.406) / 0.225).epsilon(1e-5));
    std::vector<float> wrong(5);
    CHECK_THROWS_WITH_AS(img::prepare_into(d, how, wrong),
                         "typenet::image::prepare: the output holds 5 floats, the input needs 6",
                         std::invalid_argument);
  }
}

TEST_SUITE("image.torchvision") {
  TEST_CASE("decoding equals PIL's and preprocessing equals torchvision's, on every generated case") {
    const char* dir_env = std::getenv("TYPENET_IMAGE_CASES");
    const fs::path dir = dir_env != nullptr ? dir_env : "";
    if (dir_env == nullptr || !fs::exists(dir / "cases.json")) {
      std::printf("skipped: no cases (run tests/image/make_cases.py DIR and set TYPENET_IMAGE_CASES=DIR)\n");
      std::exit(77);
    }
    const nlohmann::json cases = nlohmann::json::parse(std::ifstream(dir / "cases.json"));
    REQUIRE(cases.size() >= 10);
    const auto compare = [](const std::vector<float>& got, const fs::path& reference, float tolerance) {
      const auto ref = typenet::io::read_npy(reference);
      REQUIRE(ref.data.size() == got.size());
      std::size_t bad = 0;
      float worst = 0;
      for (std::size_t i = 0; i < got.size(); ++i) {
        const float e = std::abs(got[i] - ref.data[i]);
        worst = std::max(worst, e);
        bad += e > tolerance ? 1 : 0;
      }
      CAPTURE(reference.filename().string());
      CAPTURE(worst);
      CHECK(bad == 0);
    };
    for (const auto& c : cases) {
      const std::string name = c["name"];
      CAPTURE(name);
      const img::decoded d = img::read_image(dir / c["file"].get<std::string>());
      std::vector<float> samples;
      for (std::size_t y = 0; y < d.height; ++y)
        for (std::size_t x = 0; x < d.width; ++x)
          for (int ch = 0; ch < d.channels; ++ch) samples.push_back(d.sample(y, x, ch));
      compare(samples, dir / (name + ".decoded.npy"), 0.0f);
      compare(img::prepare(d, img::imagenet(c["crop"].get<std::size_t>())), dir / (name + ".rgb.npy"), 1e-5f);
      compare(img::prepare(d, img::digits(32)), dir / (name + ".grey.npy"), 1e-5f);
    }
    const img::decoded land = img::read_image(dir / "landscape_jpeg.jpg");
    compare(img::prepare(land, img::imagenet(227)), dir / "landscape_jpeg.rgb227.npy", 1e-5f);
    const img::pixels padded = img::center_crop(img::to_rgb8(img::read_image(dir / "grey_png.png")), 224, 224);
    std::vector<float> chw(3 * 224 * 224);
    for (std::size_t i = 0; i < 224 * 224; ++i)
      for (std::size_t ch = 0; ch < 3; ++ch) chw[ch * 224 * 224 + i] = padded.data[i * 3 + ch];
    compare(chw, dir / "grey_png.pad224.npy", 0.0f);
  }
}
