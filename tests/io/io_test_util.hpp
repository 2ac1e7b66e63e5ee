// Helpers shared by the io tests: scratch directories, raw file building, exception capture.
#pragma once

#include <typenet/io/error.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

namespace typenet_io_test {

namespace fs = std::filesystem;

// A fresh directory under the system temp directory, removed with everything in it at the end.
class scratch_dir {
 public:
  scratch_dir() {
    static std::atomic<int> counter{0};
    path_ =
        fs::temp_directory_path() / ("typenet_io_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  [[nodiscard]] const fs::path& path() const { return path_; }
  [[nodiscard]] fs::path operator/(std::string_view name) const { return path_ / name; }

  // Names of everything in the directory.
  [[nodiscard]] std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path_)) names.push_back(e.path().filename().string());
    return names;
  }

 private:
  fs::path path_;
};

inline void write_bytes(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

inline std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::vector<std::byte> to_bytes(std::string_view s) {
  std::vector<std::byte> v(s.size());
  if (!s.empty()) std::memcpy(v.data(), s.data(), s.size());
  return v;
}

// Little-endian encodings written out byte by byte (independently of the library's own helpers).
inline std::string le_u16(unsigned v) { return {static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff)}; }
inline std::string le_u32(std::uint32_t v) {
  std::string s;
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}
inline std::string le_u64(std::uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}
inline std::string f32_bytes(std::initializer_list<float> values) {
  std::string s;
  for (const float f : values) {
    std::uint32_t bits;
    std::memcpy(&bits, &f, 4);
    s += le_u32(bits);
  }
  return s;
}

// The what() of the io_error thrown by f; fails the test if f throws nothing or something else.
template <class F>
std::string io_error_of(F&& f) {
  try {
    f();
  } catch (const typenet::io::io_error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("expected typenet::io::io_error, got another exception: " << e.what());
    return {};
  }
  FAIL("expected typenet::io::io_error, nothing was thrown");
  return {};
}

}  // namespace typenet_io_test
