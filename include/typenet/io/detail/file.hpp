// typenet/io/detail/file.hpp: bounded file reading, safe writing, little-endian float conversion and
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
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

namespace typenet::io {

// The most bytes (preamble, header and data together) a reader takes from a file that is not a regular
// file: a pipe, a FIFO, a character device, standard input. Such a file's size is unknown until its end,
// so what its header declares is checked against this limit before anything more is read; a regular
// file's declared sizes are checked against its actual size instead. 4 GiB.
inline constexpr std::uint64_t max_stream_bytes = std::uint64_t{4} << 30;

}  // namespace typenet::io

namespace typenet::io::detail {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "typenet io: mixed-endian platforms are not supported");
static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559,
              "typenet io: float must be IEEE-754 binary32");

inline std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// ---- reading -------------------------------------------------------------------------------------

// Runs f(); a std::bad_alloc or std::length_error escaping from it (memory for the file's contents or
// for its parsed header) becomes an io_error naming the file.
template <class F>
decltype(auto) naming_memory_failures(const std::string& name, F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    throw io_error(name, "not enough memory to read it");
  } catch (const std::length_error&) {
    throw io_error(name, "not enough memory to read it");
  }
}

// A std::vector<T> of n elements, or an io_error naming the file, the byte count and what they are for.
template <class T>
std::vector<T> allocate_for(const std::string& name, std::uint64_t n, std::string_view what) {
  const auto fail = [&] {
    throw io_error(name,
                   "not enough memory for the " + std::to_string(n * sizeof(T)) + " bytes of " + std::string(what));
  };
  if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) fail();
  try {
    return std::vector<T>(static_cast<std::size_t>(n));
  } catch (const std::bad_alloc&) {
    fail();
  } catch (const std::length_error&) {
    fail();
  }
  return {};  // not reached
}

// A file opened for reading. Regular files have a known size(); anything else (a pipe, a FIFO, a
// character device, standard input) is read as a stream whose length is only known at its end, and the
// readers check what its header declares against typenet::io::max_stream_bytes before reading on.
class input_file {
 public:
  explicit input_file(const std::filesystem::path& path) : name_(path.string()) {
    do {
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd_ < 0 && errno == EINTR);
    if (fd_ < 0) throw io_error(name_, "cannot open for reading (" + errno_text(errno) + ")");
    struct ::stat st {};
    if (::fstat(fd_, &st) != 0) {
      const int err = errno;
      ::close(fd_);
      throw io_error(name_, "cannot read its status (" + errno_text(err) + ")");
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd_);
      throw io_error(name_, "is a directory, not a file");
    }
    regular_ = S_ISREG(st.st_mode);
    if (regular_) size_ = static_cast<std::uint64_t>(st.st_size);
  }
  input_file(const input_file&) = delete;
  input_file& operator=(const input_file&) = delete;
  ~input_file() { ::close(fd_); }

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] bool regular() const noexcept { return regular_; }
  // The size of a regular file when it was opened (0 for anything else).
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

  // Reads up to n bytes into dst; fewer only at the end of the file. Throws on a read error.
  std::uint64_t read(void* dst, std::uint64_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    std::uint64_t got = 0;
    while (got < n) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n - got, std::uint64_t{1} << 30));
      const ::ssize_t r = ::read(fd_, out + got, want);
      if (r < 0) {
        if (errno == EINTR) continue;
        throw io_error(name_, "read error (" + errno_text(errno) + ")");
      }
      if (r == 0) break;
      got += static_cast<std::uint64_t>(r);
    }
    return got;
  }

  // True if at least one more byte can be read (the byte is consumed).
  bool has_more() {
    unsigned char c;
    return read(&c, 1) == 1;
  }

  // For a regular file, what was read must be exactly what its size promised: a shorter or longer file
  // means it changed while being read.
  [[noreturn]] void changed_while_reading() const {
    throw io_error(name_, "file changed while it was being read (its size was " + std::to_string(size_) +
                              " bytes when it was opened)");
  }

  // Checks what a stream's header declares (the whole file's size) against max_stream_bytes.
  void check_stream_size(std::uint64_t declared_total) const {
    if (declared_total > max_stream_bytes) {
      throw io_error(name_, "its header declares " + std::to_string(declared_total) +
                                " bytes in all, more than the limit of " + std::to_string(max_stream_bytes) +
                                " bytes for a file that is not a regular file (typenet::io::max_stream_bytes)");
    }
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool regular_ = false;
  std::uint64_t size_ = 0;
};

// ---- writing -------------------------------------------------------------------------------------

// Temporary files being written, so that a fatal signal does not leave them behind. A fixed table that a
// signal handler can read: a slot is claimed (state 1), filled with the path, then published (state 2).
struct temp_slot {
  static constexpr std::size_t path_bytes = 4096;
  std::atomic<int> state{0};  // 0 free, 1 being filled, 2 live
  char path[path_bytes]{};
};
// Constant-initialized (no guard variable): a signal handler may read it at any time.
inline constinit temp_slot temp_slots[32]{};

struct temp_registry {
  static constexpr int slots = 32;
  static constexpr std::size_t path_bytes = temp_slot::path_bytes;
  static temp_slot* table() noexcept { return temp_slots; }

  // Returns the slot index, or -1 if the path is too long or the table is full (then the file is only
  // removed by the normal path, not on a signal).
  static int add(const std::string& path) noexcept {
    if (path.size() >= path_bytes) return -1;
    for (int i = 0; i < slots; ++i) {
      int expected = 0;
      if (table()[i].state.compare_exchange_strong(expected, 1)) {
        std::memcpy(table()[i].path, path.c_str(), path.size() + 1);
        table()[i].state.store(2);
        return i;
      }
    }
    return -1;
  }
  static void remove(int index) noexcept {
    if (index >= 0) table()[index].state.store(0);
  }
  // Async-signal-safe: unlinks every live temporary file.
  static void unlink_all() noexcept {
    for (int i = 0; i < slots; ++i)
      if (table()[i].state.load() == 2) ::unlink(table()[i].path);
  }

  static void on_signal(int sig) {
    const int saved = errno;
    unlink_all();
    ::signal(sig, SIG_DFL);  // then die of the signal as the process would have without this handler
    ::raise(sig);
    errno = saved;
  }
  // Blocks SIGINT, SIGTERM and SIGHUP in this thread for its lifetime (errno is preserved).
  struct signal_block {
    sigset_t old{};
    signal_block() noexcept {
      sigset_t set;
      sigemptyset(&set);
      for (const int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
      ::pthread_sigmask(SIG_BLOCK, &set, &old);
    }
    ~signal_block() {
      const int saved = errno;
      ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
      errno = saved;
    }
    signal_block(const signal_block&) = delete;
    signal_block& operator=(const signal_block&) = delete;
  };

  // Installs on_signal for SIGINT, SIGTERM and SIGHUP where they still have their default action (a
  // program's own handlers are left alone: they can call typenet::io::remove_temporary_files()).
  static void install_handlers() {
    static const bool installed = [] {
      for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
        struct ::sigaction old {};
        if (::sigaction(sig, nullptr, &old) != 0 || (old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
        struct ::sigaction act {};
        act.sa_handler = &temp_registry::on_signal;
        sigemptyset(&act.sa_mask);
        act.sa_flags = SA_RESTART;
        ::sigaction(sig, &act, nullptr);
      }
      return true;
    }();
    (void)installed;
  }
};

// Writes a file. If the target is a regular file or does not exist, the bytes go to a temporary file in
// the same directory (".typenet-<16 hex digits>.tmp", short enough for any valid target name), which is
// flushed to disk and renamed over the target by commit(); on failure, or without commit(), the temporary
// file is removed and the target is untouched, also when SIGINT, SIGTERM or SIGHUP ends the process
// during the write. A symbolic link is written through: the same applies to the file it resolves to. Any
// other target (a character or block device, a FIFO) is opened and written in place, since renaming over
// it would replace the device rather than write to it. Every write, flush and close error is an io_error
// naming the target.
class atomic_output {
 public:
  explicit atomic_output(const std::filesystem::path& target) : name_(target.string()) {
    if (target.filename().empty()) throw io_error(name_, "output path names no file");
    const std::filesystem::path resolved = where_to_replace(target);
    if (resolved.empty()) {
      // A device, a FIFO, or a file reached through a link that does not name it (/dev/stdout and other
      // /proc/self/fd links): written in place. Opening a FIFO waits for a reader.
      do {
        fd_ = ::open(target.c_str(), O_WRONLY | O_CLOEXEC | (in_place_truncates_ ? O_TRUNC : 0));
      } while (fd_ < 0 && errno == EINTR);
      if (fd_ < 0) fail("cannot open for writing");
      return;
    }
    target_ = resolved;
    temp_registry::install_handlers();
    static std::atomic<std::uint64_t> counter{0};
    const auto stamp = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    for (int attempt = 0; attempt < 16; ++attempt) {
      std::uint64_t salt = stamp ^ (counter.fetch_add(1) * 0x9e3779b97f4a7c15ULL) ^
                           (static_cast<std::uint64_t>(::getpid()) << 32) ^ reinterpret_cast<std::uintptr_t>(this);
      salt ^= salt >> 31;
      salt *= 0xbf58476d1ce4e5b9ULL;
      salt ^= salt >> 29;
      char temp_name[40];
      std::snprintf(temp_name, sizeof temp_name, ".typenet-%016llx.tmp", static_cast<unsigned long long>(salt));
      temp_ = target_.parent_path() / temp_name;
      const std::string temp_text = temp_.string();
      {
        // Creating and registering the file is one step for SIGINT/SIGTERM/SIGHUP: one arriving in
        // between is delivered once the file is registered, and its handler removes the file.
        const temp_registry::signal_block block;
        fd_ = ::open(temp_text.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd_ >= 0) registry_slot_ = temp_registry::add(temp_text);
      }
      if (fd_ >= 0) return;
      if (errno != EEXIST) break;
    }
    fail("cannot create a temporary file next to it");
  }

  atomic_output(const atomic_output&) = delete;
  atomic_output& operator=(const atomic_output&) = delete;

  ~atomic_output() {
    if (fd_ >= 0) ::close(fd_);
    if (!temp_.empty() && !committed_) {
      ::unlink(temp_.c_str());
      temp_registry::remove(registry_slot_);
    }
  }

  void write(const void* data, std::size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    while (size > 0) {
      const ::ssize_t n = ::write(fd_, p, std::min<std::size_t>(size, std::size_t{1} << 30));
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("write error");
      }
      if (n == 0) {
        errno = EIO;
        fail("write error");
      }
      p += n;
      size -= static_cast<std::size_t>(n);
    }
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

  // Finishes the file: for a temporary file, flush it to disk and rename it over the target.
  void commit() {
    if (!temp_.empty() && ::fsync(fd_) != 0) fail("cannot flush to disk");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0 && errno != EINTR) fail("write error");
    if (temp_.empty()) return;
    if (::rename(temp_.c_str(), target_.c_str()) != 0) fail("cannot move the finished file into place");
    committed_ = true;
    temp_registry::remove(registry_slot_);
  }

  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  [[noreturn]] void fail(const char* what) const {
    const int err = errno;
    throw io_error(name_, std::string(what) + " (" + errno_text(err) + ")");
  }

  // The path that a temporary file is renamed over, or an empty path if the target must be written in
  // place. Absent target or regular file: the target itself. Symbolic link to a regular file: the file's
  // real path (when it names the same file). Dangling link: where the chain of links ends.
  std::filesystem::path where_to_replace(const std::filesystem::path& target) {
    struct ::stat lst {};
    if (::lstat(target.c_str(), &lst) != 0) {
      if (errno != ENOENT) fail("cannot examine the output path");
      return target;
    }
    struct ::stat st = lst;
    if (S_ISLNK(lst.st_mode) && ::stat(target.c_str(), &st) != 0) {
      if (errno != ENOENT) fail("cannot follow the symbolic link");
      return dangling_end(target);
    }
    if (S_ISDIR(st.st_mode)) throw io_error(name_, "is a directory; cannot write a file over it");
    if (!S_ISREG(st.st_mode)) return {};
    if (!S_ISLNK(lst.st_mode)) return target;
    std::filesystem::path real;
    if (char* r = ::realpath(target.c_str(), nullptr)) {
      real = r;
      std::free(r);
    }
    struct ::stat rst {};
    if (!real.empty() && ::stat(real.c_str(), &rst) == 0 && rst.st_dev == st.st_dev && rst.st_ino == st.st_ino) {
      return real;
    }
    in_place_truncates_ = true;  // e.g. /dev/stdout redirected to a file that was since deleted
    return {};
  }

  // The path a chain of symbolic links ends at, when that path does not exist.
  std::filesystem::path dangling_end(std::filesystem::path p) const {
    for (int hops = 0; hops < 40; ++hops) {
      std::error_code ec;
      if (!std::filesystem::is_symlink(std::filesystem::symlink_status(p, ec))) return p;
      const auto link = std::filesystem::read_symlink(p, ec);
      if (ec) throw io_error(name_, "cannot read the symbolic link " + p.string() + " (" + ec.message() + ")");
      p = link.is_absolute() ? link : p.parent_path() / link;
    }
    throw io_error(name_, "too many levels of symbolic links");
  }

  std::string name_;
  std::filesystem::path target_;  // the file renamed into place (symbolic links resolved)
  std::filesystem::path temp_;    // empty when writing in place
  int fd_ = -1;
  int registry_slot_ = -1;
  bool committed_ = false;
  bool in_place_truncates_ = false;
};

}  // namespace typenet::io::detail

namespace typenet::io {

// Removes the temporary files of writes in progress (see write_npy, write_safetensors). Async-signal-safe:
// for a program that installs its own SIGINT/SIGTERM/SIGHUP handlers, which typenet then leaves alone.
inline void remove_temporary_files() noexcept { detail::temp_registry::unlink_all(); }

}  // namespace typenet::io

namespace typenet::io::detail {

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

// Turns n little-endian binary32 values, read as raw bytes into `values`, into native floats in place.
inline void le_floats_in_place(float* values, std::size_t n) noexcept {
  if constexpr (std::endian::native == std::endian::big) {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, values + i, 4);
      bits = (bits >> 24) | ((bits >> 8) & 0xff00u) | ((bits << 8) & 0xff0000u) | (bits << 24);
      std::memcpy(values + i, &bits, 4);
    }
  } else {
    (void)values;
    (void)n;
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
