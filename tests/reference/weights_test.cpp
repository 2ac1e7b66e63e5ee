// io::load_weights / save_weights / read_input / write_output against the network type.
#include <doctest/doctest.h>

#include <typenet/io/weights.hpp>
#include <typenet/zoo/alexnet.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "reference_util.hpp"

namespace tn = typenet;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test case, removed at the end.
struct temp_dir {
  fs::path path;
  explicit temp_dir(const std::string& tag)
      : path(fs::temp_directory_path() / ("typenet_weights_test_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() { fs::remove_all(path); }
  fs::path operator/(const std::string& name) const { return path / name; }
};

struct small
    : tn::network<tn::input<2, 4, 4>, tn::conv2d<3, tn::kernel<3>, tn::pad<1>>, tn::relu, tn::flatten, tn::dense<5>> {};

std::string message_of(auto&& f) {
  try {
    f();
  } catch (const tn::io::io_error& e) {
    return e.what();
  }
  return "(no io_error)";
}

// Writes a safetensors file with the given tensors (names, shapes, values given; all F32).
void write_tensors(const fs::path& path, const std::vector<tn::io::named_tensor>& tensors) {
  tn::io::write_safetensors(path, std::span<const tn::io::named_tensor>(tensors));
}

}  // namespace

TEST_CASE("save_weights then load_weights gives back every parameter, under PyTorch's names") {
  temp_dir dir("roundtrip");
  tn::params<small> p;
  tn::init_he(p, 21);
  tn::io::save_weights(dir / "w.safetensors", p);

  const auto file = tn::io::read_safetensors(dir / "w.safetensors");
  REQUIRE(file.tensors().size() == 4);
  REQUIRE(file.find("0.weight") != nullptr);
  CHECK(file.find("0.weight")->shape == std::vector<std::int64_t>{3, 2, 3, 3});
  CHECK(file.find("0.bias")->shape == std::vector<std::int64_t>{3});
  CHECK(file.find("3.weight")->shape == std::vector<std::int64_t>{5, 48});
  CHECK(file.find("3.bias")->shape == std::vector<std::int64_t>{5});

  tn::params<small> q;
  tn::io::load_weights(dir / "w.safetensors", q);
  CHECK(std::equal(p.span().begin(), p.span().end(), q.span().begin()));
}

TEST_CASE("torchvision_alexnet's weights are keyed like torchvision") {
  tn::params<tn::zoo::torchvision_alexnet> p;
  std::vector<std::string> names;
  for (const auto& s : tn::io::weight_slots(p)) names.push_back(s.name);
  CHECK(names == std::vector<std::string>{
                     "features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias",
                     "features.6.weight", "features.6.bias", "features.8.weight", "features.8.bias",
                     "features.10.weight", "features.10.bias", "classifier.1.weight", "classifier.1.bias",
                     "classifier.4.weight", "classifier.4.bias", "classifier.6.weight", "classifier.6.bias"});
}

TEST_CASE("load_weights rejects missing, extra and mis-shaped tensors and leaves the params unchanged") {
  temp_dir dir("bad");
  tn::params<small> good;
  tn::init_he(good, 5);
  std::vector<float> w0(54, 1.f), b0(3, 1.f), w3(240, 1.f), b3(5, 1.f), extra(2, 0.f);
  const tn::io::named_tensor t_w0{"0.weight", {3, 2, 3, 3}, w0}, t_b0{"0.bias", {3}, b0}, t_w3{"3.weight", {5, 48}, w3},
      t_b3{"3.bias", {5}, b3};

  auto expect_failure = [&](const std::string& file, const std::vector<tn::io::named_tensor>& tensors,
                            const std::string& expected) {
    write_tensors(dir / file, tensors);
    tn::params<small> p = good;
    const std::string msg = message_of([&] { tn::io::load_weights(dir / file, p); });
    CAPTURE(msg);
    CHECK(msg.find(file) != std::string::npos);
    CHECK(msg.find(expected) != std::string::npos);
    CHECK(std::equal(p.span().begin(), p.span().end(), good.span().begin()));
  };
  expect_failure("missing.safetensors", {t_w0, t_b0, t_w3}, "missing tensor '3.bias'");
  expect_failure("extra.safetensors", {t_w0, t_b0, t_w3, t_b3, {"4.weight", {2}, extra}}, "'4.weight'");
  // The dense layer's weight transposed: both shapes appear.
  expect_failure("shape.safetensors", {t_w0, t_b0, {"3.weight", {48, 5}, w3}, t_b3}, "[48, 5]");
  expect_failure("shape2.safetensors", {t_w0, t_b0, {"3.weight", {48, 5}, w3}, t_b3}, "[5, 48]");
  expect_failure("flatconv.safetensors", {{"0.weight", {54}, w0}, t_b0, t_w3, t_b3}, "[3, 2, 3, 3]");
}

TEST_CASE("load_weights with extra_tensors::ignore: a features-only network from a whole network's checkpoint") {
  using whole = tn::network<tn::input<3, 8, 8>,
                            tn::named<"features", tn::seq<tn::conv2d<4, tn::kernel<3>, tn::pad<1>>, tn::relu>>,
                            tn::flatten, tn::named<"classifier", tn::dense<5>>>;
  using features = tn::network<tn::input<3, 8, 8>,
                               tn::named<"features", tn::seq<tn::conv2d<4, tn::kernel<3>, tn::pad<1>>, tn::relu>>>;
  temp_dir dir("partial");
  tn::params<whole> w;
  tn::init_he(w, 8);
  tn::io::save_weights(dir / "whole.safetensors", w);

  tn::params<features> f;
  tn::init_he(f, 9);
  const tn::params<features> before = f;
  const std::string msg = message_of([&] { tn::io::load_weights(dir / "whole.safetensors", f); });
  CHECK(msg.find("unexpected tensor 'classifier.weight'") != std::string::npos);  // strict by default
  CHECK(std::equal(f.span().begin(), f.span().end(), before.span().begin()));

  CHECK(tn::io::load_weights(dir / "whole.safetensors", f, tn::io::extra_tensors::ignore) == 2);
  const auto file = tn::io::read_safetensors(dir / "whole.safetensors");
  for (const auto& t : f.tensors()) {
    CAPTURE(t.name);
    const std::vector<float> want = file.floats(t.name);
    CHECK(std::equal(t.data.begin(), t.data.end(), want.begin(), want.end()));
  }
}

TEST_CASE("load_weights rejects another dtype, naming it") {
  temp_dir dir("dtype");
  // A safetensors file whose only tensor is F16: header, then 2 bytes of data.
  const std::string header = R"({"0.weight":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})";
  std::ofstream f(dir / "f16.safetensors", std::ios::binary);
  const std::uint64_t n = header.size();
  for (int b = 0; b < 8; ++b) f.put(static_cast<char>((n >> (8 * b)) & 0xff));
  f << header;
  f.put(0).put(0x3c);
  f.close();
  tn::params<small> p;
  const std::string msg = message_of([&] { tn::io::load_weights(dir / "f16.safetensors", p); });
  CAPTURE(msg);
  CHECK(msg.find("F16") != std::string::npos);
  CHECK(msg.find("f16.safetensors") != std::string::npos);
}

TEST_CASE("read_input checks the array against the network's input, write_output writes [N, outputs]") {
  temp_dir dir("input");
  std::vector<float> x(3 * 2 * 4 * 4);
  tn::fill_uniform(x, 1);
  tn::io::write_npy(dir / "x.npy", {3, 2, 4, 4}, x);
  const auto in = tn::io::read_input<small>(dir / "x.npy");
  CHECK(in.batch == 3);
  CHECK(in.data == x);

  const std::vector<float> wrong(3 * 2 * 4 * 5, 0.5f);
  tn::io::write_npy(dir / "wrong.npy", {3, 2, 4, 5}, wrong);
  std::string msg = message_of([&] { (void)tn::io::read_input<small>(dir / "wrong.npy"); });
  CAPTURE(msg);
  CHECK(msg.find("wrong.npy") != std::string::npos);
  CHECK(msg.find("[3, 2, 4, 5]") != std::string::npos);
  CHECK(msg.find("[N, 2, 4, 4]") != std::string::npos);

  tn::io::write_npy(dir / "single.npy", {2, 4, 4}, std::span<const float>(x.data(), 32));
  msg = message_of([&] { (void)tn::io::read_input<small>(dir / "single.npy"); });
  CHECK(msg.find("add a leading batch dimension") != std::string::npos);

  tn::io::write_npy(dir / "empty.npy", {0, 2, 4, 4}, std::span<const float>());
  msg = message_of([&] { (void)tn::io::read_input<small>(dir / "empty.npy"); });
  CHECK(msg.find("empty") != std::string::npos);

  std::vector<float> y(3 * 5, 0.25f);
  tn::io::write_output<small>(dir / "y.npy", y, 3);
  const auto back = tn::io::read_npy(dir / "y.npy");
  CHECK(back.shape == std::vector<std::int64_t>{3, 5});
  CHECK(back.data == y);
}

namespace {
// conv (no bias) + batch norm + a flat head: the tensors torchvision's state_dict() has for such a stem.
struct bn_net
    : tn::network<tn::input<2, 4, 4>, tn::named<"conv1", tn::conv2d<3, tn::kernel<3>, tn::pad<1>, tn::no_bias>>,
                  tn::named<"bn1", tn::batch_norm>, tn::relu, tn::flatten, tn::named<"fc", tn::dense<5>>> {};

// A safetensors file with the network's F32 tensors, each filled with its index + 1, plus extra raw
// tensors (name, dtype, bytes) such as PyTorch's int64 num_batches_tracked.
void write_with_extras(const fs::path& path, tn::params<bn_net>& p,
                       const std::vector<std::tuple<std::string, std::string, std::string>>& extras) {
  std::string header = "{";
  std::string data;
  auto add = [&](const std::string& name, const std::string& dtype, const std::string& shape,
                 const std::string& bytes) {
    // Built with += only: g++ 12 warns falsely (-Wrestrict) on "..." + std::string&& chains.
    if (header.size() > 1) header += ',';
    header += '"';
    header += name;
    header += "\":{\"dtype\":\"";
    header += dtype;
    header += "\",\"shape\":";
    header += shape;
    header += ",\"data_offsets\":[";
    header += std::to_string(data.size());
    header += ',';
    header += std::to_string(data.size() + bytes.size());
    header += "]}";
    data += bytes;
  };
  float fill = 1.f;
  for (const auto& t : p.tensors()) {
    std::string shape = "[";
    for (std::size_t i = 0; i < t.shape.size(); ++i) {
      if (i != 0) shape += ',';
      shape += std::to_string(t.shape[i]);
    }
    shape += ']';
    std::string bytes(t.data.size() * 4, '\0');
    for (std::size_t i = 0; i < t.data.size(); ++i) std::memcpy(bytes.data() + 4 * i, &fill, 4);
    add(t.name, "F32", shape, bytes);
    fill += 1.f;
  }
  for (const auto& [name, dtype, bytes] : extras) add(name, dtype, "[]", bytes);
  header += "}";
  std::ofstream f(path, std::ios::binary);
  const std::uint64_t n = header.size();
  for (int b = 0; b < 8; ++b) f.put(static_cast<char>((n >> (8 * b)) & 0xff));
  f << header << data;
}
}  // namespace

TEST_CASE("batch norm: its four tensors load, num_batches_tracked is ignored, other extras are not") {
  temp_dir dir("bn");
  tn::params<bn_net> p;
  const auto t = p.tensors();
  REQUIRE(t.size() == 7);  // conv1.weight, bn1.{weight,bias,running_mean,running_var}, fc.{weight,bias}
  CHECK(t[3].name == "bn1.running_mean");
  const std::string counter(8, '\0');  // int64 0, shape []
  write_with_extras(dir / "ok.safetensors", p, {{"bn1.num_batches_tracked", "I64", counter}});
  tn::io::load_weights(dir / "ok.safetensors", p);
  const auto loaded = p.tensors();
  for (std::size_t i = 0; i < loaded.size(); ++i) {
    CAPTURE(loaded[i].name);
    CHECK(loaded[i].data[0] == static_cast<float>(i + 1));
  }
  // A counter next to something that is not a batch norm is an unexpected tensor, like any other.
  write_with_extras(dir / "bad.safetensors", p, {{"fc.num_batches_tracked", "I64", counter}});
  const std::string msg = message_of([&] { tn::io::load_weights(dir / "bad.safetensors", p); });
  CAPTURE(msg);
  CHECK(msg.find("unexpected tensor 'fc.num_batches_tracked'") != std::string::npos);
}
