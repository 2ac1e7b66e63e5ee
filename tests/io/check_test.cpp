// Tests of load_tensors: a file checked against the slots a network expects.
#include "io_test_util.hpp"

#include <typenet/io/check.hpp>

#include <algorithm>
#include <stdexcept>

using namespace typenet_io_test;
namespace io = typenet::io;

namespace {

constexpr float sentinel = -777.0f;

// A tiny "network": 0.weight [2, 3], 0.bias [2], 2.weight [1, 2].
struct expected_params {
  std::vector<float> buffer = std::vector<float>(6 + 2 + 2, sentinel);
  std::vector<io::tensor_slot> slots() {
    std::span<float> all(buffer);
    return {{"0.weight", {2, 3}, all.subspan(0, 6)},
            {"0.bias", {2}, all.subspan(6, 2)},
            {"2.weight", {1, 2}, all.subspan(8, 2)}};
  }
  [[nodiscard]] bool untouched() const {
    return std::all_of(buffer.begin(), buffer.end(), [](float v) { return v == sentinel; });
  }
};

const std::vector<float> w0{1, 2, 3, 4, 5, 6}, b0{0.5f, -0.5f}, w2{7, 8};

}  // namespace

TEST_SUITE("io.check") {
  TEST_CASE("a matching file fills every slot") {
    scratch_dir dir;
    const auto p = dir / "w.safetensors";
    // File order differs from the network's order; that is fine.
    io::write_safetensors(p, {{"2.weight", {1, 2}, w2}, {"0.bias", {2}, b0}, {"0.weight", {2, 3}, w0}});
    expected_params net;
    io::load_tensors(p, net.slots());
    CHECK(net.buffer == std::vector<float>{1, 2, 3, 4, 5, 6, 0.5f, -0.5f, 7, 8});
  }

  TEST_CASE("a missing tensor is reported with the expected dtype and shape") {
    scratch_dir dir;
    const auto p = dir / "w.safetensors";
    io::write_safetensors(p, {{"0.weight", {2, 3}, w0}, {"2.weight", {1, 2}, w2}});
    expected_params net;
    CHECK(io_error_of([&] { io::load_tensors(p, net.slots()); }) ==
          p.string() + ": missing tensor '0.bias' (expected float32 [2])");
    CHECK(net.untouched());
  }

  TEST_CASE("a wrong shape is reported with both shapes") {
    scratch_dir dir;
    const auto p = dir / "w.safetensors";
    io::write_safetensors(p, {{"0.weight", {3, 2}, w0}, {"0.bias", {2}, b0}, {"2.weight", {1, 2}, w2}});
    expected_params net;
    CHECK(io_error_of([&] { io::load_tensors(p, net.slots()); }) ==
          p.string() + ": '0.weight' has shape [3, 2] but the network expects [2, 3]");
    CHECK(net.untouched());
  }

  TEST_CASE("a wrong dtype is reported") {
    // Written by hand: the library's writer only writes F32.
    const std::string header = R"({"0.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                               R"("0.bias":{"dtype":"F16","shape":[2],"data_offsets":[24,28]},)"
                               R"("2.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[28,36]}})";
    const auto bytes = to_bytes(le_u64(header.size()) + header + f32_bytes({1, 2, 3, 4, 5, 6}) +
                                std::string("\0\x3c\0\x3c", 4) + f32_bytes({7, 8}));
    const auto file = io::read_safetensors_from_memory(bytes, "w.safetensors");
    expected_params net;
    CHECK(io_error_of([&] { io::load_tensors(file, net.slots()); }) ==
          "w.safetensors: '0.bias' has dtype F16 [2] but the network expects float32 (F32) [2]");
    CHECK(net.untouched());
  }

  TEST_CASE("an extra tensor is an error") {
    scratch_dir dir;
    const auto p = dir / "w.safetensors";
    const std::vector<float> extra{1};
    io::write_safetensors(
        p, {{"0.weight", {2, 3}, w0}, {"0.bias", {2}, b0}, {"9.bias", {1}, extra}, {"2.weight", {1, 2}, w2}});
    expected_params net;
    CHECK(io_error_of([&] { io::load_tensors(p, net.slots()); }) ==
          p.string() + ": unexpected tensor '9.bias' (F32 [1]): the network has no parameter of that name");
    CHECK(net.untouched());
  }

  TEST_CASE("extra_tensors::ignore: a larger checkpoint loads, and its other tensors are counted") {
    scratch_dir dir;
    const auto p = dir / "w.safetensors";
    const std::vector<float> extra{1}, big(12, 3.f);
    io::write_safetensors(p, {{"head.weight", {3, 4}, big},
                              {"0.weight", {2, 3}, w0},
                              {"0.bias", {2}, b0},
                              {"9.bias", {1}, extra},
                              {"2.weight", {1, 2}, w2}});
    expected_params strict;
    CHECK(io_error_of([&] { io::load_tensors(p, strict.slots()); }) ==
          p.string() + ": unexpected tensor 'head.weight' (F32 [3, 4]): the network has no parameter of that name");
    CHECK(strict.untouched());
    expected_params net;
    CHECK(io::load_tensors(p, net.slots(), io::extra_tensors::ignore) == 2);
    CHECK(net.buffer == std::vector<float>{1, 2, 3, 4, 5, 6, 0.5f, -0.5f, 7, 8});
  }

  TEST_CASE("extra_tensors::ignore still demands every expected tensor, with its shape") {
    scratch_dir dir;
    const auto p = dir / "w.safetensors";
    const std::vector<float> extra{1};
    io::write_safetensors(p, {{"0.weight", {2, 3}, w0}, {"9.bias", {1}, extra}, {"2.weight", {1, 2}, w2}});
    expected_params net;
    CHECK(io_error_of([&] { io::load_tensors(p, net.slots(), io::extra_tensors::ignore); }) ==
          p.string() + ": missing tensor '0.bias' (expected float32 [2])");
    CHECK(net.untouched());
    io::write_safetensors(
        p, {{"0.weight", {3, 2}, w0}, {"0.bias", {2}, b0}, {"9.bias", {1}, extra}, {"2.weight", {1, 2}, w2}});
    CHECK(io_error_of([&] { io::load_tensors(p, net.slots(), io::extra_tensors::ignore); }) ==
          p.string() + ": '0.weight' has shape [3, 2] but the network expects [2, 3]");
    CHECK(net.untouched());
  }

  TEST_CASE("the first mismatch in the network's order is the one reported") {
    scratch_dir dir;
    const auto p = dir / "w.safetensors";
    // Three problems: an extra tensor first in the file, 2.weight missing, 0.bias with a wrong shape.
    const std::vector<float> extra{1}, b3{1, 2, 3};
    io::write_safetensors(p, {{"extra", {1}, extra}, {"0.weight", {2, 3}, w0}, {"0.bias", {3}, b3}});
    expected_params net;
    CHECK(io_error_of([&] { io::load_tensors(p, net.slots()); }) ==
          p.string() + ": '0.bias' has shape [3] but the network expects [2]");
    CHECK(net.untouched());
  }

  TEST_CASE("a bad file is reported before any slot is checked") {
    scratch_dir dir;
    write_bytes(dir / "w.safetensors", "");
    expected_params net;
    CHECK(io_error_of([&] { io::load_tensors(dir / "w.safetensors", net.slots()); }) ==
          (dir / "w.safetensors").string() + ": file is empty (expected a safetensors file)");
    CHECK(net.untouched());
  }

  TEST_CASE("inconsistent slots are a programming error") {
    const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    const auto bytes = to_bytes(le_u64(header.size()) + header + f32_bytes({1, 2}));
    const auto file = io::read_safetensors_from_memory(bytes, "w.safetensors");
    std::vector<float> buf(3);
    const std::vector<io::tensor_slot> wrong_size{{"a", {2}, std::span<float>(buf)}};
    CHECK_THROWS_AS(io::load_tensors(file, wrong_size), std::invalid_argument);
    const std::vector<io::tensor_slot> twice{{"a", {1}, std::span<float>(buf).first(1)},
                                             {"a", {1}, std::span<float>(buf).last(1)}};
    CHECK_THROWS_AS(io::load_tensors(file, twice), std::invalid_argument);
    const std::vector<io::tensor_slot> ok{{"a", {2}, std::span<float>(buf).first(2)}};
    io::load_tensors(file, ok);
    CHECK(buf == std::vector<float>{1, 2, 0});
  }

}  // TEST_SUITE
