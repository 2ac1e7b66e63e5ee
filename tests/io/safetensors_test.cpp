// Tests of the safetensors reader and writer.
#include "io_test_util.hpp"

#include <typenet/io/safetensors.hpp>

#include <stdexcept>

using namespace typenet_io_test;
namespace io = typenet::io;

namespace {

std::string st_file(std::string_view header, std::string_view data) {
  return le_u64(header.size()) + std::string(header) + std::string(data);
}

io::safetensors_file parse(std::string_view bytes) {
  const auto v = to_bytes(bytes);
  return io::read_safetensors_from_memory(v, "w.safetensors");
}

std::string parse_error(std::string_view bytes) {
  return io_error_of([&] { (void)parse(bytes); });
}

// A file with one F32 tensor "t" whose entry fields are given verbatim, and `data` as buffer.
std::string one_entry(std::string_view fields, std::string_view data) {
  return st_file("{\"t\":{" + std::string(fields) + "}}", data);
}

}  // namespace

TEST_SUITE("io.safetensors") {
  TEST_CASE("reads tensors in file order with their dtype, shape and values") {
    // "b" comes first in the file although it sorts after "a".
    const auto f = parse(st_file(R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("a":{"dtype":"F32","shape":[1,3],"data_offsets":[8,20]},)"
                                 R"("__metadata__":{"format":"pt","note":"x"}})",
                                 f32_bytes({1.5f, -2, 3, 4, 5})));
    CHECK(f.name() == "w.safetensors");
    REQUIRE(f.tensors().size() == 2);
    CHECK(f.tensors()[0].name == "b");
    CHECK(f.tensors()[1].name == "a");
    CHECK(f.tensors()[1].dtype == "F32");
    CHECK(f.tensors()[1].shape == std::vector<std::int64_t>{1, 3});
    CHECK(f.tensors()[1].begin == 8);
    CHECK(f.tensors()[1].end == 20);
    CHECK(f.floats("b") == std::vector<float>{1.5f, -2});
    CHECK(f.floats("a") == std::vector<float>{3, 4, 5});
    CHECK(f.find("c") == nullptr);
    CHECK(f.metadata() == std::map<std::string, std::string>{{"format", "pt"}, {"note", "x"}});
    CHECK(io_error_of([&] { (void)f.floats("c"); }) == "w.safetensors: has no tensor 'c'");
  }

  TEST_CASE("an empty header and zero-size tensors are valid") {
    CHECK(parse(st_file("{}", "")).tensors().empty());
    CHECK(parse(st_file("{}      ", "")).tensors().empty());  // padding spaces
    const auto f = parse(st_file(R"({"z":{"dtype":"F32","shape":[0,4],"data_offsets":[4,4]},)"
                                 R"("a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})",
                                 f32_bytes({9})));
    CHECK(f.floats("z").empty());
    CHECK(f.floats("a") == std::vector<float>{9});
  }

  TEST_CASE("other dtypes are described but cannot be read as floats") {
    const auto f = parse(st_file(R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                                 R"("i":{"dtype":"I64","shape":[1],"data_offsets":[4,12]}})",
                                 std::string("\x00\x3c\x00\x40", 4) + std::string(8, '\x01')));
    CHECK(f.find("h")->dtype == "F16");
    CHECK(f.raw_data(*f.find("h")).size() == 4);
    CHECK(f.find("i")->byte_size() == 8);
    CHECK(io_error_of([&] { (void)f.floats("h"); }) ==
          "w.safetensors: tensor 'h' has dtype F16; typenet reads only F32 (float32) tensors");
  }

  TEST_CASE("copy_floats checks the destination size") {
    const auto f = parse(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", f32_bytes({1, 2})));
    std::vector<float> small(1);
    CHECK_THROWS_AS(f.copy_floats(*f.find("a"), small), std::invalid_argument);
  }

  TEST_CASE("write then read gives back names, order, shapes, values and metadata") {
    scratch_dir dir;
    const std::vector<float> w{1, 2, 3, 4, 5, 6}, b{-1, 0.5f}, s{42};
    const std::vector<io::named_tensor> tensors{
        {"features.0.weight", {2, 3}, w}, {"features.0.bias", {2}, b}, {"scalar", {}, s}, {"empty", {0}, {}}};
    io::write_safetensors(dir / "m.safetensors", tensors, {{"format", "pt"}});
    const auto f = io::read_safetensors(dir / "m.safetensors");
    REQUIRE(f.tensors().size() == 4);
    CHECK(f.tensors()[0].name == "features.0.weight");
    CHECK(f.tensors()[2].name == "scalar");
    CHECK(f.tensors()[0].shape == std::vector<std::int64_t>{2, 3});
    CHECK(f.floats("features.0.weight") == w);
    CHECK(f.floats("features.0.bias") == b);
    CHECK(f.floats("scalar") == s);
    CHECK(f.find("empty")->shape == std::vector<std::int64_t>{0});
    CHECK(f.metadata().at("format") == "pt");
    CHECK(dir.entries() == std::vector<std::string>{"m.safetensors"});
  }

  TEST_CASE("the writer's layout: header padded to 8 bytes, contiguous offsets in the given order") {
    scratch_dir dir;
    const std::vector<float> a{1, 2}, b{3};
    io::write_safetensors(dir / "x.safetensors", {{"b", {2}, a}, {"a", {1}, b}});
    const std::string bytes = read_bytes(dir / "x.safetensors");
    const std::string expected_header =
        R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
    const std::size_t padded = (expected_header.size() + 7) / 8 * 8;
    REQUIRE(bytes.size() == 8 + padded + 12);
    CHECK(bytes.substr(0, 8) == le_u64(padded));
    CHECK(bytes.substr(8, padded) == expected_header + std::string(padded - expected_header.size(), ' '));
    CHECK(bytes.substr(8 + padded) == f32_bytes({1, 2, 3}));
  }

  TEST_CASE("the writer rejects bad input before touching the file") {
    scratch_dir dir;
    const auto p = dir / "x.safetensors";
    write_bytes(p, "old");
    const std::vector<float> two{1, 2};
    CHECK(io_error_of([&] {
            io::write_safetensors(p, {{"a", {3}, two}});
          }) == p.string() + ": cannot write tensor 'a': shape [3] has 3 elements but 2 values were given");
    CHECK(io_error_of([&] {
            io::write_safetensors(p, {{"a", {2}, two}, {"a", {2}, two}});
          }) == p.string() + ": cannot write tensor 'a' twice");
    CHECK(io_error_of([&] {
            io::write_safetensors(p, {{"__metadata__", {2}, two}});
          }) == p.string() + ": cannot write a tensor named '__metadata__' (reserved)");
    CHECK(io_error_of([&] {
            io::write_safetensors(p, {{"a\xff", {2}, two}});
          }) == p.string() + ": cannot write tensor name 'a\\xff': it is not valid UTF-8");
    CHECK(read_bytes(p) == "old");
    CHECK(dir.entries() == std::vector<std::string>{"x.safetensors"});
  }

  TEST_CASE("files too short for the header length") {
    CHECK(parse_error("") == "w.safetensors: file is empty (expected a safetensors file)");
    CHECK(parse_error("abcde") == "w.safetensors: file is 5 bytes, too short for the 8-byte header length");
  }

  TEST_CASE("header length beyond the file or beyond the limit") {
    CHECK(parse_error(le_u64(9000000000ULL) + std::string(1226, ' ')) ==
          "w.safetensors: header length 9000000000 exceeds file size 1234");
    CHECK(parse_error(le_u64(~0ULL) + "{}") ==
          "w.safetensors: header length 18446744073709551615 exceeds file size 10");
    CHECK(parse_error(le_u64(0)) == "w.safetensors: header length is 0 (the header must be a JSON object)");
    // A file larger than the limit whose header claims all of it.
    std::string big = le_u64(io::safetensors_max_header_bytes + 1);
    big.resize(8 + io::safetensors_max_header_bytes + 1, ' ');
    CHECK(parse_error(big) == "w.safetensors: header length 100000001 exceeds the limit of 100000000 bytes");
  }

  TEST_CASE("the header must be a JSON object") {
    const std::string bad = parse_error(st_file(R"({"a":{"dtype":"F32",)", ""));
    CHECK(bad.starts_with("w.safetensors: header is not valid JSON: [json.exception.parse_error.101] parse error"));
    CHECK(parse_error(st_file("[1, 2]", "")) == "w.safetensors: header is an array, not a JSON object");
    CHECK(parse_error(st_file("7", "")) == "w.safetensors: header is an integer, not a JSON object");
    CHECK(parse_error(st_file(R"({"t": [1]})", "")) ==
          "w.safetensors: header entry for tensor 't' is an array, not a JSON object");
    CHECK(parse_error(st_file(R"({"t": {"shape": [[[1]]]}})", "")) ==
          "w.safetensors: header JSON is nested deeper than the safetensors format allows");
    CHECK(parse_error(st_file(std::string("{\"\xc3\x28\": 1}"), ""))
              .starts_with("w.safetensors: header is not valid JSON: [json.exception.parse_error.101]"));
  }

  TEST_CASE("entries with missing, unexpected or mistyped fields") {
    CHECK(parse_error(one_entry(R"("shape":[1],"data_offsets":[0,4])", f32_bytes({1}))) ==
          "w.safetensors: tensor 't' has no 'dtype' field");
    CHECK(parse_error(one_entry(R"("dtype":"F32","data_offsets":[0,4])", f32_bytes({1}))) ==
          "w.safetensors: tensor 't' has no 'shape' field");
    CHECK(parse_error(one_entry(R"("dtype":"F32","shape":[1])", f32_bytes({1}))) ==
          "w.safetensors: tensor 't' has no 'data_offsets' field");
    CHECK(parse_error(one_entry(R"("dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1)", f32_bytes({1}))) ==
          "w.safetensors: tensor 't' has unexpected field 'x' (expected 'dtype', 'shape' and 'data_offsets')");
    CHECK(parse_error(one_entry(R"("dtype":32,"shape":[1],"data_offsets":[0,4])", f32_bytes({1}))) ==
          "w.safetensors: dtype of tensor 't' is an integer, not a string");
    CHECK(parse_error(one_entry(R"("dtype":"F32","shape":"1","data_offsets":[0,4])", f32_bytes({1}))) ==
          "w.safetensors: shape of tensor 't' is a string, not an array");
    CHECK(parse_error(one_entry(R"("dtype":"F32","shape":["1"],"data_offsets":[0,4])", f32_bytes({1}))) ==
          "w.safetensors: dimension 0 of tensor 't' is a string, not an integer");
    CHECK(parse_error(one_entry(R"("dtype":"F32","shape":[2,-1],"data_offsets":[0,4])", f32_bytes({1}))) ==
          "w.safetensors: dimension 1 of tensor 't' is -1 (dimensions must be >= 0)");
    CHECK(parse_error(one_entry(R"("dtype":"F32","shape":[1.5],"data_offsets":[0,4])", f32_bytes({1}))) ==
          "w.safetensors: dimension 0 of tensor 't' is 1.5, not an integer");
    CHECK(parse_error(one_entry(R"("dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,4])",
                                f32_bytes({1}))) == "w.safetensors: dimension 0 of tensor 't' is too large");
    CHECK(parse_error(one_entry(R"("dtype":"F32","shape":[1],"data_offsets":[0])", f32_bytes({1}))) ==
          "w.safetensors: data_offsets of tensor 't' must be an array [begin, end] of two integers, found [0]");
    CHECK(parse_error(one_entry(R"("dtype":"F32","shape":[1],"data_offsets":[-4,0])", f32_bytes({1}))) ==
          "w.safetensors: data_offsets of tensor 't' must be two non-negative integers, found [-4,0]");
  }

  TEST_CASE("unknown dtypes are rejected by name") {
    CHECK(parse_error(one_entry(R"("dtype":"Q7","shape":[1],"data_offsets":[0,4])", f32_bytes({1}))) ==
          "w.safetensors: tensor 't' has unknown dtype 'Q7'");
  }

  TEST_CASE("data_offsets must lie in the buffer and match the shape") {
    CHECK(parse_error(one_entry(R"("dtype":"F32","shape":[1],"data_offsets":[8,4])", f32_bytes({1, 2}))) ==
          "w.safetensors: tensor 't' has data_offsets [8, 4] with begin after end");
    CHECK(parse_error(one_entry(R"("dtype":"F32","shape":[1],"data_offsets":[0,1000])", f32_bytes({1}))) ==
          "w.safetensors: tensor 't' has data_offsets [0, 1000] beyond the end of the data buffer (4 bytes)");
    CHECK(parse_error(one_entry(R"("dtype":"F32","shape":[2,3],"data_offsets":[0,20])", f32_bytes({1, 2, 3, 4, 5}))) ==
          "w.safetensors: tensor 't' (F32 [2, 3]) needs 24 bytes but its data_offsets [0, 20] span 20");
    CHECK(parse_error(one_entry(R"("dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0])", "")) ==
          "w.safetensors: tensor 't' has shape [4294967296, 4294967296] whose size overflows 64 bits");
  }

  TEST_CASE("tensors must tile the data buffer: no overlap, no gap, no trailing bytes") {
    CHECK(parse_error(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                              f32_bytes({1, 2, 3}))) ==
          "w.safetensors: tensors 'a' [0, 8) and 'b' [4, 12) overlap in the data buffer");
    CHECK(parse_error(st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                              R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                              f32_bytes({1, 2, 3}))) ==
          "w.safetensors: bytes [4, 8) of the data buffer belong to no tensor "
          "(the tensors must cover the buffer without gaps)");
    CHECK(parse_error(st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f32_bytes({1, 2}))) ==
          "w.safetensors: bytes [0, 4) of the data buffer belong to no tensor "
          "(the tensors must cover the buffer without gaps)");
    CHECK(parse_error(st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f32_bytes({1}) + "xyz")) ==
          "w.safetensors: file has 3 trailing bytes after the last tensor's data "
          "(bytes [4, 7) of the data buffer belong to no tensor)");
    CHECK(parse_error(st_file("{}", "x")) ==
          "w.safetensors: file has 1 trailing bytes after the last tensor's data "
          "(bytes [0, 1) of the data buffer belong to no tensor)");
  }

  TEST_CASE("duplicate names are rejected (JSON parsers would silently keep one)") {
    CHECK(parse_error(st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                              R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                              f32_bytes({1, 2}))) == "w.safetensors: tensor 'a' appears twice in the header");
    CHECK(parse_error(one_entry(R"("dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4])", f32_bytes({1}))) ==
          "w.safetensors: key 'dtype' appears twice in the header entry 't'");
  }

  TEST_CASE("metadata must map strings to strings") {
    CHECK(parse_error(st_file(R"({"__metadata__":[1]})", "")) ==
          "w.safetensors: __metadata__ is an array, not a JSON object");
    CHECK(parse_error(st_file(R"({"__metadata__":{"epoch":3}})", "")) ==
          "w.safetensors: __metadata__ value for 'epoch' is an integer, not a string");
  }

  TEST_CASE("names with control characters are escaped in messages") {
    CHECK(parse_error(st_file("{\"a\\nb\":1}", "")) ==
          "w.safetensors: header entry for tensor 'a\\x0ab' is an integer, not a JSON object");
  }

  TEST_CASE("the header is exactly one JSON object starting with '{', padded only with spaces (issue 10 item 7)") {
    const std::string entry = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
    // Accepted: no padding, or spaces.
    CHECK(parse(st_file(entry, f32_bytes({1}))).floats("a") == std::vector<float>{1});
    CHECK(parse(st_file(entry + "   ", f32_bytes({1}))).floats("a") == std::vector<float>{1});
    // A NUL and a second object after the first (nlohmann-json stops at a NUL byte).
    CHECK(parse_error(st_file(entry + std::string(1, '\0') + R"({"b":1})", f32_bytes({1}))) ==
          "w.safetensors: header has a NUL byte at offset " + std::to_string(entry.size()) +
              " (the header is one JSON object, padded only with spaces)");
    CHECK(parse_error(st_file(entry + std::string("\0\0\0", 3), f32_bytes({1}))) ==
          "w.safetensors: header has a NUL byte at offset " + std::to_string(entry.size()) +
              " (the header is one JSON object, padded only with spaces)");
    // A UTF-8 byte order mark, or whitespace, before the object.
    CHECK(parse_error(st_file("\xef\xbb\xbf" + entry, f32_bytes({1}))) ==
          "w.safetensors: header starts with a UTF-8 byte order mark (EF BB BF); it must start with the '{' of a "
          "JSON object");
    CHECK(parse_error(st_file(" " + entry, f32_bytes({1}))) ==
          "w.safetensors: header starts with whitespace; it must start with the '{' of a JSON object");
    CHECK(parse_error(st_file("\n" + entry, f32_bytes({1}))) ==
          "w.safetensors: header starts with whitespace; it must start with the '{' of a JSON object");
    CHECK(parse_error(st_file("        ", "")) ==
          "w.safetensors: header starts with whitespace; it must start with the '{' of a JSON object");
    // Padding other than spaces after the object.
    for (const char* pad : {"\n", "\t", " \r\n", "\n   "}) {
      CAPTURE(pad);
      CHECK(parse_error(st_file(entry + pad, f32_bytes({1}))) ==
            "w.safetensors: header has whitespace other than spaces after its JSON object (only spaces, 0x20, may "
            "pad it)");
    }
    // A second object, with or without whitespace between.
    CHECK(parse_error(st_file(entry + "{}", f32_bytes({1})))
              .starts_with("w.safetensors: header is not valid JSON: [json.exception.parse_error.101]"));
    CHECK(parse_error(st_file(entry + " {}", f32_bytes({1})))
              .starts_with("w.safetensors: header is not valid JSON: [json.exception.parse_error.101]"));
  }

  TEST_CASE("a regular file gives the same verdicts as the same bytes in memory") {
    scratch_dir dir;
    const auto p = dir / "f.safetensors";
    const std::vector<std::string> files{
        st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f32_bytes({1}) + "xyz"),
        st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", f32_bytes({1})),
        st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})" + std::string(1, '\0'), f32_bytes({1})),
        st_file(R"({"a":1})", ""),
        le_u64(9000000000ULL) + "{}",
        le_u64(0),
        "abc",
    };
    for (const auto& bytes : files) {
      write_bytes(p, bytes);
      const auto v = to_bytes(bytes);
      const std::string in_memory = io_error_of([&] { (void)io::read_safetensors_from_memory(v, p.string()); });
      CHECK(io_error_of([&] { (void)io::read_safetensors(p); }) == in_memory);
    }
    CHECK(io_error_of([&] { (void)io::read_safetensors(dir.path()); }) ==
          dir.path().string() + ": is a directory, not a file");
  }

  TEST_CASE("copies and moves of a safetensors_file own their data") {
    auto a = parse(st_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", f32_bytes({3, 4})));
    io::safetensors_file b = a;
    CHECK(b.find("x") != a.find("x"));
    CHECK(b.floats("x") == std::vector<float>{3, 4});
    io::safetensors_file c = std::move(a);
    CHECK(c.floats("x") == std::vector<float>{3, 4});
    a = b;
    CHECK(a.floats("x") == std::vector<float>{3, 4});
    CHECK(a.find("x") == &a.tensors()[0]);
  }

  TEST_CASE("read_safetensors names the file it could not open") {
    scratch_dir dir;
    const auto p = dir / "nope.safetensors";
    CHECK(io_error_of([&] { (void)io::read_safetensors(p); }) ==
          p.string() + ": cannot open for reading (No such file or directory)");
    write_bytes(dir / "short.safetensors", "abc");
    CHECK(io_error_of([&] { (void)io::read_safetensors(dir / "short.safetensors"); }) ==
          (dir / "short.safetensors").string() + ": file is 3 bytes, too short for the 8-byte header length");
  }

}  // TEST_SUITE
