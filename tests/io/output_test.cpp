// Where the writers put their bytes (issue 10 item 1): a regular file is replaced atomically through a
// temporary file whose name fits any valid target name; a symbolic link is written through (and stays a
// link); a device or FIFO is written in place, never replaced; write errors are reported; a fatal signal
// during a write leaves no temporary file. Nothing here writes to a real device node except /dev/full,
// and only through a symbolic link: a writer that replaced its target would replace the link, not the
// device.
#include "io_test_util.hpp"

#include <typenet/io/npy.hpp>
#include <typenet/io/safetensors.hpp>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace typenet_io_test;
namespace io = typenet::io;

namespace {

const std::vector<float> values{1.5f, -2, 3, 4.25f};

// The exact bytes write_npy produces for `values` with shape [2, 2], written to a regular file.
std::string expected_npy_bytes() {
  scratch_dir dir;
  io::write_npy(dir / "x.npy", {2, 2}, values);
  return read_bytes(dir / "x.npy");
}

// Anything in `dir` besides `target` is a temporary file of the writer.
bool has_temp(const scratch_dir& dir, const std::string& target) {
  for (const auto& e : dir.entries())
    if (e != target) return true;
  return false;
}

// Reads everything written into a FIFO within `limit`, for up to `want` bytes. Opened non-blocking, so
// that a writer that never opens the FIFO makes the test fail after the limit instead of hanging.
class fifo_reader {
 public:
  fifo_reader(const fs::path& p, std::size_t want) {
    fd_ = ::open(p.c_str(), O_RDONLY | O_NONBLOCK);
    REQUIRE(fd_ >= 0);
    thread_ = std::thread([this, want] {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      char buf[4096];
      while (got_.size() < want && std::chrono::steady_clock::now() < deadline) {
        pollfd pfd{fd_, POLLIN, 0};
        ::poll(&pfd, 1, 10);
        const ::ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n > 0) got_.append(buf, static_cast<std::size_t>(n));
        if (n <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  std::string finish() {
    thread_.join();
    ::close(fd_);
    return got_;
  }

 private:
  int fd_ = -1;
  std::string got_;
  std::thread thread_;
};

}  // namespace

namespace typenet_io_test {
int write_forever(const char* path) {
  const std::vector<float> big(std::size_t{16} << 20, 0.5f);  // 64 MiB per write
  for (;;) io::write_npy(path, {static_cast<std::int64_t>(big.size())}, big);
}
}  // namespace typenet_io_test

TEST_SUITE("io.output") {
  TEST_CASE("a 255-byte file name is accepted: the temporary file's name does not grow with it") {
    scratch_dir dir;
    const std::string name = std::string(251, 'n') + ".npy";  // NAME_MAX on Linux file systems
    io::write_npy(dir / name, {2, 2}, values);
    CHECK(io::read_npy(dir / name).data == values);
    io::write_npy(dir / name, {4}, values);  // replacing it works too
    CHECK(io::read_npy(dir / name).shape == std::vector<std::int64_t>{4});
    CHECK(dir.entries() == std::vector<std::string>{name});
    const std::string st_name = std::string(243, 's') + ".safetensors";
    io::write_safetensors(dir / st_name, {{"t", {4}, values}});
    CHECK(io::read_safetensors(dir / st_name).floats("t") == values);
  }

  TEST_CASE("a symbolic link is written through and stays a link") {
    scratch_dir dir;
    fs::create_directory(dir / "sub");
    write_bytes(dir / "sub" / "real.npy", "old contents");
    fs::create_symlink("sub/real.npy", dir / "link.npy");  // relative, resolved from the link's directory
    io::write_npy(dir / "link.npy", {2, 2}, values);
    CHECK(fs::is_symlink(dir / "link.npy"));
    CHECK(fs::read_symlink(dir / "link.npy") == fs::path("sub/real.npy"));
    CHECK(read_bytes(dir / "sub" / "real.npy") == expected_npy_bytes());
    CHECK(dir.entries().size() == 2);  // "sub" and "link.npy": no temporary file here...
    std::vector<std::string> in_sub;
    for (const auto& e : fs::directory_iterator(dir / "sub")) in_sub.push_back(e.path().filename().string());
    CHECK(in_sub == std::vector<std::string>{"real.npy"});  // ...nor next to the real file

    // A chain of links, the last one dangling: the file is created where the chain ends.
    fs::create_symlink(dir / "sub" / "new.safetensors", dir / "b.safetensors");
    fs::create_symlink("b.safetensors", dir / "a.safetensors");
    io::write_safetensors(dir / "a.safetensors", {{"t", {4}, values}});
    CHECK(fs::is_symlink(dir / "a.safetensors"));
    CHECK(fs::is_symlink(dir / "b.safetensors"));
    CHECK(fs::is_regular_file(fs::symlink_status(dir / "sub" / "new.safetensors")));
    CHECK(io::read_safetensors(dir / "sub" / "new.safetensors").floats("t") == values);
  }

  TEST_CASE("a write error is reported, and a device behind a link is written, not replaced (/dev/full)") {
    if (!fs::is_character_file("/dev/full")) {
      MESSAGE("SKIPPED (this case only): no /dev/full");
      return;
    }
    scratch_dir dir;
    const auto link = dir / "full.npy";
    fs::create_symlink("/dev/full", link);
    CHECK(io_error_of([&] {
            io::write_npy(link, {2, 2}, values);
          }) == link.string() + ": write error (No space left on device)");
    CHECK(io_error_of([&] {
            io::write_safetensors(link, {{"t", {4}, values}});
          }) == link.string() + ": write error (No space left on device)");
    CHECK(fs::is_symlink(link));
    CHECK(fs::read_symlink(link) == fs::path("/dev/full"));
    CHECK(fs::is_character_file("/dev/full"));
    CHECK(dir.entries() == std::vector<std::string>{"full.npy"});
  }

  TEST_CASE("a FIFO is written in place and stays a FIFO") {
    scratch_dir dir;
    const auto fifo = dir / "out.npy";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const std::string expected = expected_npy_bytes();
    fifo_reader reader(fifo, expected.size());
    io::write_npy(fifo, {2, 2}, values);
    CHECK(reader.finish() == expected);
    CHECK(fs::is_fifo(fs::symlink_status(fifo)));
    CHECK(dir.entries() == std::vector<std::string>{"out.npy"});
  }

  TEST_CASE("a link to a pipe through /proc/self/fd (as /dev/stdout is) is written in place") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    scratch_dir dir;
    const auto link = dir / "stdout";
    fs::create_symlink("/proc/self/fd/" + std::to_string(fds[1]), link);
    const std::string expected = expected_npy_bytes();  // smaller than a pipe's buffer: the write cannot block
    io::write_npy(link, {2, 2}, values);
    ::close(fds[1]);
    std::string got;
    char buf[4096];
    for (::ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    CHECK(got == expected);
    CHECK(fs::is_symlink(link));
    CHECK(dir.entries() == std::vector<std::string>{"stdout"});
  }

  TEST_CASE("a character device node is written in place and stays a device") {
    scratch_dir dir;
    const auto null_node = dir / "null";  // a private node for the null device (1, 3)
    const auto full_node = dir / "full";  // and for the full device (1, 7)
    if (::mknod(null_node.c_str(), S_IFCHR | 0600, makedev(1, 3)) != 0 ||
        ::mknod(full_node.c_str(), S_IFCHR | 0600, makedev(1, 7)) != 0) {
      MESSAGE("SKIPPED (this case only): cannot create device nodes here (needs CAP_MKNOD)");
      return;
    }
    io::write_npy(null_node, {2, 2}, values);
    io::write_safetensors(null_node, {{"t", {4}, values}});
    CHECK(fs::is_character_file(fs::symlink_status(null_node)));
    CHECK(io_error_of([&] {
            io::write_npy(full_node, {2, 2}, values);
          }) == full_node.string() + ": write error (No space left on device)");
    CHECK(fs::is_character_file(fs::symlink_status(full_node)));
    CHECK(dir.entries().size() == 2);
  }

  TEST_CASE("SIGTERM or SIGINT during a write leaves no temporary file") {
    for (const int sig : {SIGTERM, SIGINT}) {
      CAPTURE(sig);
      scratch_dir dir;
      const auto target = dir / "big.npy";
      const pid_t child = ::fork();
      REQUIRE(child >= 0);
      if (child == 0) {
        // A fresh program: exec resets the signal handlers this (doctest) process has installed.
        ::execl("/proc/self/exe", "typenet_io_tests", "--write-forever", target.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
      }
      // Wait until a temporary file exists (a write is under way), then send the signal.
      bool saw_temp = false;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (!saw_temp && std::chrono::steady_clock::now() < deadline) {
        saw_temp = has_temp(dir, "big.npy");
        if (!saw_temp) std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      ::kill(child, sig);
      int status = 0;
      REQUIRE(::waitpid(child, &status, 0) == child);
      CHECK(saw_temp);
      INFO("child status " << status);
      CHECK(WIFSIGNALED(status));
      if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == sig);  // the handler re-raises the signal
      CHECK_FALSE(has_temp(dir, "big.npy"));
    }
  }
}  // TEST_SUITE
