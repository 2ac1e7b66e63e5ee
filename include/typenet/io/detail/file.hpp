// typenet/io/detail/file.hpp: whole-file reading, atomic writing, little-endian float conversion and
// overflow-checked shape arithmetic shared by the .npy and safetensors code.
#pragma once

#include <typenet/io/error.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#if __has_include(<unistd.h>)
#include <unistd.h>
#define TYPENET_IO_HAVE_FSYNC 1
#endif

namespace typenet::io::detail {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "typenet io: mixed-endian platforms are not supported");
static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559,
              "typenet io: float must be IEEE-754 binary32");

inline std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// ---- reading -------------------------------------------------------------------------------------

// Reads a whole file into memory. The file's name in messages is the path as given.
inline std::vector<std::byte> read_file_bytes(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw io_error(name, "is a directory, not a file");

  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw io_error(name, "cannot open for reading (" + errno_text(errno) + ")");
  struct closer {
    std::FILE* f;
    ~closer() { std::fclose(f); }
  } close_on_exit{f};

  std::vector<std::byte> bytes;
  const auto expected = std::filesystem::file_size(path, ec);
  if (!ec && expected < std::numeric_limits<std::size_t>::max() / 2) {
    bytes.reserve(static_cast<std::size_t>(expected));
  }
  constexpr std::size_t chunk = std::size_t{1} << 20;
  for (;;) {
    const std::size_t old = bytes.size();
    bytes.resize(old + chunk);
    const std::size_t got = std::fread(bytes.data() + old, 1, chunk, f);
    bytes.resize(old + got);
    if (got < chunk) break;
  }
  if (std::ferror(f)) throw io_error(name, "read error (" + errno_text(errno) + ")");
  return bytes;
}

// ---- writing -------------------------------------------------------------------------------------

// A file that becomes visible under its final name only when commit() succeeds: the bytes go to a
// temporary file in the same directory, which is renamed over the target at the end. If anything fails
// before that (or commit() is never reached) the temporary file is removed and the target is untouched.
class atomic_output {
 public:
  explicit atomic_output(const std::filesystem::path& target) : target_(target), name_(target.string()) {
    if (target.filename().empty()) throw io_error(name_, "output path names no file");
    static std::atomic<std::uint64_t> counter{0};
    const auto stamp = static_cast<std::uint64_t>(std::chrono::high_resolution_clock::now().time_since_epoch().count());
    for (int attempt = 0; attempt < 16; ++attempt) {
      const std::uint64_t salt =
          stamp ^ (counter.fetch_add(1) * 0x9e3779b97f4a7c15ULL) ^ reinterpret_cast<std::uintptr_t>(this);
      char suffix[32];
      std::snprintf(suffix, sizeof suffix, ".tmp-%016llx", static_cast<unsigned long long>(salt));
      std::string temp_name = ".";  // built with += : g++ 12 warns falsely on "." + std::string&&
      temp_name += target.filename().string();
      temp_name += suffix;
      temp_ = target.parent_path() / temp_name;
      file_ = std::fopen(temp_.c_str(), "wbx");  // "x": fail rather than reuse an existing file
      if (file_ != nullptr) return;
      if (errno != EEXIST) break;
    }
    const int err = errno;
    throw io_error(name_, "cannot create a temporary file next to it (" + errno_text(err) + ")");
  }

  atomic_output(const atomic_output&) = delete;
  atomic_output& operator=(const atomic_output&) = delete;

  ~atomic_output() {
    if (file_ != nullptr) std::fclose(file_);
    if (!committed_) {
      std::error_code ec;
      std::filesystem::remove(temp_, ec);
    }
  }

  void write(const void* data, std::size_t size) {
    if (size == 0) return;
    if (std::fwrite(data, 1, size, file_) != size) fail("write error");
  }
  void write(std::string_view text) { write(text.data(), text.size()); }

  // Writes floats as little-endian IEEE-754 binary32.
  void write_floats(std::span<const float> values) {
    if constexpr (std::endian::native == std::endian::little) {
      write(values.data(), values.size_bytes());
    } else {
      std::array<std::byte, 4096> buf;
      std::size_t i = 0;
      while (i < values.size()) {
        const std::size_t n = std::min(values.size() - i, buf.size() / 4);
        for (std::size_t k = 0; k < n; ++k) {
          const auto bits = std::bit_cast<std::uint32_t>(values[i + k]);
          for (int b = 0; b < 4; ++b) buf[4 * k + b] = static_cast<std::byte>(bits >> (8 * b));
        }
        write(buf.data(), 4 * n);
        i += n;
      }
    }
  }

  void commit() {
    if (std::fflush(file_) != 0) fail("write error");
#ifdef TYPENET_IO_HAVE_FSYNC
    if (::fsync(::fileno(file_)) != 0) fail("cannot flush to disk");
#endif
    const int rc = std::fclose(file_);
    file_ = nullptr;
    if (rc != 0) fail("write error");
    std::error_code ec;
    std::filesystem::rename(temp_, target_, ec);
    if (ec) throw io_error(name_, "cannot move the finished file into place (" + ec.message() + ")");
    committed_ = true;
  }

  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  [[noreturn]] void fail(const char* what) {
    const int err = errno;
    throw io_error(name_, std::string(what) + " (" + errno_text(err) + ")");
  }

  std::filesystem::path target_;
  std::string name_;
  std::filesystem::path temp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// ---- data conversion -----------------------------------------------------------------------------

// Copies `count` little-endian binary32 values from `src` (any alignment) into `dst`.
inline void load_le_floats(const std::byte* src, std::size_t count, float* dst) noexcept {
  if (count == 0) return;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(dst, src, count * 4);
  } else {
    for (std::size_t i = 0; i < count; ++i) {
      std::uint32_t bits = 0;
      for (int b = 0; b < 4; ++b) bits |= std::uint32_t(std::to_integer<std::uint8_t>(src[4 * i + b])) << (8 * b);
      dst[i] = std::bit_cast<float>(bits);
    }
  }
}

inline std::uint64_t load_le_u64(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  for (int b = 0; b < 8; ++b) v |= std::uint64_t(std::to_integer<std::uint8_t>(p[b])) << (8 * b);
  return v;
}

// ---- shapes --------------------------------------------------------------------------------------

// Number of elements of a shape, or nullopt if a dimension is negative or the product does not fit in
// `limit`. A shape with a zero dimension has 0 elements whatever the other dimensions are.
inline std::optional<std::uint64_t> element_count(std::span<const std::int64_t> shape,
                                                  std::uint64_t limit = std::numeric_limits<std::uint64_t>::max()) {
  bool has_zero = false;
  for (const auto d : shape) {
    if (d < 0) return std::nullopt;
    if (d == 0) has_zero = true;
  }
  if (has_zero) return 0;
  std::uint64_t n = 1;
  for (const auto d : shape) {
    const auto u = static_cast<std::uint64_t>(d);
    if (n > limit / u) return std::nullopt;
    n *= u;
  }
  return n;
}

// "[256, 96, 5, 5]"; "[]" for a scalar.
inline std::string shape_string(std::span<const std::int64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace typenet::io::detail
