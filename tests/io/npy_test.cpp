// Tests of the .npy reader and writer.
#include "io_test_util.hpp"

#include <typenet/io/npy.hpp>

#include <cmath>
#include <limits>

using namespace typenet_io_test;
namespace io = typenet::io;

namespace {

// A .npy file with the given version and header text taken verbatim (no padding added).
std::string npy_file(int major, std::string_view header, std::string_view data) {
  std::string s = "\x93NUMPY";
  s += static_cast<char>(major);
  s += '\0';
  s += major == 1 ? le_u16(static_cast<unsigned>(header.size())) : le_u32(static_cast<std::uint32_t>(header.size()));
  s += header;
  s += data;
  return s;
}

std::string header_for(std::string_view descr, std::string_view fortran, std::string_view shape) {
  return "{'descr': '" + std::string(descr) + "', 'fortran_order': " + std::string(fortran) +
         ", 'shape': " + std::string(shape) + ", }\n";
}

// Reads bytes given as a string through the in-memory reader.
io::npy_array parse(std::string_view bytes, std::string_view name = "x.npy") {
  const auto v = to_bytes(bytes);
  return io::read_npy_from_memory(v, name);
}

std::string parse_error(std::string_view bytes) {
  return io_error_of([&] { (void)parse(bytes); });
}

}  // namespace

TEST_SUITE("io.npy") {
  TEST_CASE("reads a version 1.0 float32 C-order array") {
    const auto a = parse(npy_file(1, header_for("<f4", "False", "(2, 3)"), f32_bytes({1, 2, 3, 4, 5, 6.5f})));
    CHECK(a.shape == std::vector<std::int64_t>{2, 3});
    CHECK(a.data == std::vector<float>{1, 2, 3, 4, 5, 6.5f});
  }

  TEST_CASE("reads versions 2.0 and 3.0, whose header length has 4 bytes") {
    for (const int major : {2, 3}) {
      CAPTURE(major);
      const auto a = parse(npy_file(major, header_for("<f4", "False", "(3,)"), f32_bytes({-1, 0.25f, 1e30f})));
      CHECK(a.shape == std::vector<std::int64_t>{3});
      CHECK(a.data == std::vector<float>{-1, 0.25f, 1e30f});
    }
  }

  TEST_CASE("reads 0-d, empty and high-rank arrays") {
    const auto scalar = parse(npy_file(1, header_for("<f4", "False", "()"), f32_bytes({7})));
    CHECK(scalar.shape.empty());
    CHECK(scalar.data == std::vector<float>{7});

    const auto empty = parse(npy_file(1, header_for("<f4", "False", "(0, 5)"), ""));
    CHECK(empty.shape == std::vector<std::int64_t>{0, 5});
    CHECK(empty.data.empty());

    // A zero dimension makes the array empty whatever the other dimensions are.
    const auto huge_empty = parse(npy_file(1, header_for("<f4", "False", "(1000000000000, 0)"), ""));
    CHECK(huge_empty.shape == std::vector<std::int64_t>{1000000000000, 0});
    CHECK(huge_empty.data.empty());

    const auto r6 = parse(npy_file(1, header_for("<f4", "False", "(1, 1, 2, 1, 1, 1)"), f32_bytes({3, 4})));
    CHECK(r6.shape == std::vector<std::int64_t>{1, 1, 2, 1, 1, 1});
    CHECK(r6.data == std::vector<float>{3, 4});
  }

  TEST_CASE("accepts header variations numpy produces or accepts") {
    // Keys in another order, double quotes, no trailing comma, no final newline, Python 2 long suffix.
    const auto a =
        parse(npy_file(1, "{\"shape\": (2L,), \"fortran_order\": False, \"descr\": \"<f4\"}", f32_bytes({1, 2})));
    CHECK(a.shape == std::vector<std::int64_t>{2});
    CHECK(a.data == std::vector<float>{1, 2});
  }

  TEST_CASE("NaN and infinities are data") {
    const float inf = std::numeric_limits<float>::infinity();
    const auto a = parse(npy_file(1, header_for("<f4", "False", "(3,)"), f32_bytes({std::nanf(""), inf, -inf})));
    CHECK(std::isnan(a.data[0]));
    CHECK(a.data[1] == inf);
    CHECK(a.data[2] == -inf);
  }

  TEST_CASE("write then read gives back the shape and the exact values") {
    scratch_dir dir;
    std::vector<float> values(2 * 3 * 4);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.125f - 1.0f;
    const std::vector<std::int64_t> shape{2, 3, 4};
    io::write_npy(dir / "a.npy", shape, values);
    const auto a = io::read_npy(dir / "a.npy");
    CHECK(a.shape == shape);
    CHECK(a.data == values);

    io::write_npy(dir / "s.npy", {}, std::vector<float>{2.5f});
    CHECK(io::read_npy(dir / "s.npy").data == std::vector<float>{2.5f});
    io::write_npy(dir / "e.npy", {0, 3}, std::vector<float>{});
    CHECK(io::read_npy(dir / "e.npy").shape == std::vector<std::int64_t>{0, 3});
  }

  TEST_CASE("the writer produces numpy's exact layout: version 1.0, data aligned to 64 bytes") {
    scratch_dir dir;
    io::write_npy(dir / "a.npy", {3}, std::vector<float>{1, 2, 3});
    const std::string bytes = read_bytes(dir / "a.npy");
    // 10 bytes of preamble + 58 of dictionary + padding + '\n' = 128.
    REQUIRE(bytes.size() == 128 + 12);
    CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
    CHECK(bytes.substr(8, 2) == le_u16(118));
    const std::string header = bytes.substr(10, 118);
    CHECK(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"));
    CHECK(header.back() == '\n');
    CHECK(header.find_first_not_of(' ', 58) == 117);
    CHECK(bytes.substr(128) == f32_bytes({1, 2, 3}));
  }

  TEST_CASE("a header too long for version 1.0 makes the writer use version 2.0") {
    scratch_dir dir;
    std::vector<std::int64_t> shape(25000, 1);  // "1, " * 25000 is over 65535 bytes of header
    shape.push_back(2);
    io::write_npy(dir / "wide.npy", shape, std::vector<float>{4, 5});
    const std::string bytes = read_bytes(dir / "wide.npy");
    CHECK(bytes[6] == '\x02');
    std::uint32_t header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= std::uint32_t(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    CHECK(header_len > 65535);
    CHECK((12 + header_len) % 64 == 0);
    CHECK(bytes.size() == 12 + header_len + 8);
    const auto a = io::read_npy(dir / "wide.npy");
    CHECK(a.shape == shape);
    CHECK(a.data == std::vector<float>{4, 5});
  }

  TEST_CASE("the writer replaces an existing file and leaves no temporary file behind") {
    scratch_dir dir;
    write_bytes(dir / "a.npy", "old contents");
    io::write_npy(dir / "a.npy", {2}, std::vector<float>{8, 9});
    CHECK(io::read_npy(dir / "a.npy").data == std::vector<float>{8, 9});
    CHECK(dir.entries() == std::vector<std::string>{"a.npy"});
  }

  TEST_CASE("a failed write leaves no partial file and keeps the old one") {
    scratch_dir dir;
    write_bytes(dir / "a.npy", "old contents");
    const auto path = (dir / "a.npy").string();

    CHECK(io_error_of([&] {
            io::write_npy(dir / "a.npy", {2, 3}, std::vector<float>{1, 2});
          }) == path + ": cannot write shape [2, 3]: it has 6 elements but 2 values were given");
    CHECK(io_error_of([&] { io::write_npy(dir / "a.npy", {-1}, std::vector<float>{}); }) ==
          path + ": cannot write shape [-1]: dimensions must be >= 0 and their product must fit in 64 bits");
    CHECK(read_bytes(dir / "a.npy") == "old contents");

    // The target is a directory: refused before anything is written.
    std::filesystem::create_directory(dir / "d.npy");
    CHECK(io_error_of([&] { io::write_npy(dir / "d.npy", {1}, std::vector<float>{1}); }) ==
          (dir / "d.npy").string() + ": is a directory; cannot write a file over it");
    CHECK(dir.entries().size() == 2);

    // The directory does not exist: nothing can be created.
    const auto missing = dir / "no" / "such" / "dir.npy";
    CHECK(io_error_of([&] { io::write_npy(missing, {1}, std::vector<float>{1}); }) ==
          missing.string() + ": cannot create a temporary file next to it (No such file or directory)");
  }

  TEST_CASE("files that cannot be read") {
    scratch_dir dir;
    const auto missing = dir / "missing.npy";
    CHECK(io_error_of([&] { (void)io::read_npy(missing); }) ==
          missing.string() + ": cannot open for reading (No such file or directory)");
    CHECK(io_error_of([&] { (void)io::read_npy(dir.path()); }) == dir.path().string() + ": is a directory, not a file");
    write_bytes(dir / "empty.npy", "");
    CHECK(io_error_of([&] { (void)io::read_npy(dir / "empty.npy"); }) ==
          (dir / "empty.npy").string() + ": file is empty (expected a .npy file)");
  }

  TEST_CASE("malformed preambles") {
    CHECK(parse_error("PK\x03\x04 zip") ==
          "x.npy: not a .npy file: it does not start with the magic string \\x93NUMPY");
    CHECK(parse_error(std::string("\x93NUM", 4)) == "x.npy: file is 4 bytes, too short for a .npy preamble");
    CHECK(parse_error(std::string("\x93NUMPY\x01\x00\x10", 9)) ==
          "x.npy: file is 9 bytes, too short for a .npy preamble");
    CHECK(parse_error(std::string("\x93NUMPY\x02\x00\x10\x00", 10)) ==
          "x.npy: file is 10 bytes, too short for a version 2.0 preamble");
    CHECK(parse_error(npy_file(4, header_for("<f4", "False", "(1,)"), f32_bytes({1}))) ==
          "x.npy: unsupported .npy format version 4.0 (supported: 1.0, 2.0, 3.0)");
    std::string v11 = npy_file(1, header_for("<f4", "False", "(1,)"), f32_bytes({1}));
    v11[7] = 1;
    CHECK(parse_error(v11) == "x.npy: unsupported .npy format version 1.1 (supported: 1.0, 2.0, 3.0)");
  }

  TEST_CASE("header length beyond the end of the file") {
    std::string bytes = npy_file(1, "{'descr'", "");
    bytes[8] = '\xff';
    bytes[9] = '\xff';
    CHECK(parse_error(bytes) == "x.npy: header length 65535 exceeds file size 18");
    std::string v2 = npy_file(2, "{}", "");
    v2.replace(8, 4, le_u32(0xffffffffu));
    CHECK(parse_error(v2) == "x.npy: header length 4294967295 exceeds file size 14");
  }

  TEST_CASE("unsupported dtypes are named, with what is accepted") {
    CHECK(parse_error(npy_file(1, header_for("<f8", "False", "(1,)"), std::string(8, '\0'))) ==
          "x.npy: dtype '<f8' is not supported (only float32 '<f4')");
    CHECK(parse_error(npy_file(1, header_for(">f4", "False", "(1,)"), std::string(4, '\0'))) ==
          "x.npy: dtype '>f4' is not supported (only float32 '<f4')");
    CHECK(parse_error(npy_file(1, header_for("|u1", "False", "(4,)"), std::string(4, '\0'))) ==
          "x.npy: dtype '|u1' is not supported (only float32 '<f4')");
    CHECK(parse_error(
              npy_file(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", f32_bytes({1}))) ==
          "x.npy: structured dtype [('a', '<f4')] is not supported (only float32 '<f4')");
  }

  TEST_CASE("Fortran order is rejected") {
    CHECK(parse_error(npy_file(1, header_for("<f4", "True", "(2, 2)"), f32_bytes({1, 2, 3, 4}))) ==
          "x.npy: fortran_order True (column-major) is not supported (only C order, fortran_order False)");
    CHECK(parse_error(npy_file(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", f32_bytes({1}))) ==
          "x.npy: fortran_order must be True or False, found 0");
  }

  TEST_CASE("malformed header dictionaries") {
    CHECK(parse_error(npy_file(1, "{'descr': '<f4', 'fortran_order': False}", "")) ==
          "x.npy: header has no 'shape' key");
    CHECK(parse_error(npy_file(1, "{'shape': (), 'fortran_order': False}", "")) ==
          "x.npy: header has no 'descr' key (the dtype)");
    CHECK(parse_error(npy_file(1, "{'descr': '<f4', 'shape': ()}", "")) == "x.npy: header has no 'fortran_order' key");
    CHECK(parse_error(npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}", "")) ==
          "x.npy: unexpected key 'x' in header (a .npy header has exactly 'descr', 'fortran_order' and 'shape')");
    CHECK(parse_error(npy_file(1, "{'descr': '<f4', 'descr': '<f4'}", "")) ==
          "x.npy: key 'descr' appears twice in header");
    CHECK(parse_error(npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", "")) ==
          "x.npy: shape must be a tuple of non-negative integers, found [2]");
    CHECK(parse_error(npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", "")) ==
          "x.npy: malformed header: expected a non-negative integer at offset 51 of "
          "'{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}'");
    CHECK(parse_error(npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", "")) ==
          "x.npy: malformed header: '(n)' is not a tuple (a 1-D shape is written '(n,)') at offset 53 of "
          "'{'descr': '<f4', 'fortran_order': False, 'shape': (3)}'");
    CHECK(parse_error(npy_file(1, "{'descr': '<f4'", "")) ==
          "x.npy: malformed header: expected ',' or '}' at offset 15 of '{'descr': '<f4''");
    CHECK(parse_error(npy_file(1, "", "")) == "x.npy: malformed header: expected '{' at offset 0 of ''");
    CHECK(parse_error(npy_file(1, "{'descr': '<f4\x01', 'fortran_order': False, 'shape': ()}", "")) ==
          "x.npy: dtype '<f4\\x01' is not supported (only float32 '<f4')");
    CHECK(parse_error(npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), } junk", f32_bytes({1}))) ==
          "x.npy: malformed header: unexpected text after the header dictionary at offset 56 of "
          "'{'descr': '<f4', 'fortran_order': False, 'shape': (), } junk'");
  }

  TEST_CASE("data size must match the shape exactly") {
    CHECK(parse_error(npy_file(1, header_for("<f4", "False", "(2, 3)"), f32_bytes({1, 2, 3, 4, 5}))) ==
          "x.npy: data is truncated: shape [2, 3] needs 24 bytes but the file has 20 after the header");
    CHECK(parse_error(npy_file(1, header_for("<f4", "False", "(2, 3)"), f32_bytes({1, 2, 3, 4, 5, 6}) + "ab")) ==
          "x.npy: file has 2 trailing bytes after the data (shape [2, 3] needs 24 bytes)");
    CHECK(parse_error(npy_file(1, header_for("<f4", "False", "(0,)"), "a")) ==
          "x.npy: file has 1 trailing bytes after the data (shape [0] needs 0 bytes)");
  }

  TEST_CASE("shapes whose size overflows are rejected, not wrapped around") {
    // 2^32 * 2^32 wraps to 0 in 64 bits; 2^31 * 2^31 * 4 bytes wraps too.
    CHECK(parse_error(npy_file(1, header_for("<f4", "False", "(4294967296, 4294967296)"), "")) ==
          "x.npy: shape [4294967296, 4294967296] has more elements than any file can hold (the product overflows)");
    CHECK(parse_error(npy_file(1, header_for("<f4", "False", "(4611686018427387904,)"), "")) ==
          "x.npy: shape [4611686018427387904] has more elements than any file can hold (the product overflows)");
    CHECK(parse_error(npy_file(1, header_for("<f4", "False", "(9223372036854775808,)"), "")) ==
          "x.npy: a dimension in the header's shape does not fit in 64 bits");
  }

}  // TEST_SUITE
