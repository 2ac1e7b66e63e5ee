// Cross-checks against numpy: files written by Python are read here, and files written here are read
// by Python. When the interpreter cannot import numpy these tests never pass: they print the reason and,
// under CTest (io.python, which sets TYPENET_IO_PYTHON_SKIP_CODE=77 and SKIP_RETURN_CODE 77), end the
// process with that code so that CTest reports them as skipped; run by hand they fail.
#include "io_test_util.hpp"

#include <typenet/io/npy.hpp>
#include <typenet/io/safetensors.hpp>

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <cstdlib>

using namespace typenet_io_test;
namespace io = typenet::io;

namespace {

struct run_result {
  int status = -1;
  std::string output;
};

// Runs `python script args...` and captures stdout and stderr.
run_result run_python(const fs::path& script, const fs::path& dir) {
  const std::string cmd =
      std::string("'") + TYPENET_IO_TEST_PYTHON + "' '" + script.string() + "' '" + dir.string() + "' 2>&1";
  run_result r;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 512> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

bool numpy_available() {
  static const bool ok = [] {
    const std::string cmd = std::string("'") + TYPENET_IO_TEST_PYTHON + "' -c 'import numpy' >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
  }();
  return ok;
}

// Without numpy: skip visibly (exit with TYPENET_IO_PYTHON_SKIP_CODE when CTest sets it) or fail.
void require_numpy() {
  if (numpy_available()) return;
  const std::string reason = std::string(TYPENET_IO_TEST_PYTHON) + " cannot import numpy";
  if (const char* code = std::getenv("TYPENET_IO_PYTHON_SKIP_CODE"); code != nullptr && *code != '\0') {
    std::printf("SKIPPED io.python: %s\n", reason.c_str());
    std::fflush(stdout);
    std::_Exit(std::atoi(code));
  }
  FAIL("numpy is required for the io.python cross-checks: " << reason);
}

constexpr const char* python_writes = R"PY(
import json, struct, sys
import numpy as np
d = sys.argv[1]
np.save(d + "/a.npy", np.arange(24, dtype=np.float32).reshape(2, 3, 4) * np.float32(0.25) - np.float32(2))
np.save(d + "/scalar.npy", np.float32(3.5))
np.save(d + "/empty.npy", np.zeros((0, 7), dtype=np.float32))
np.save(d + "/f64.npy", np.zeros(3))
np.save(d + "/fortran.npy", np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
np.save(d + "/big_endian.npy", np.ones(3, dtype=">f4"))
w = (np.arange(6, dtype=np.float32) ** 2).reshape(2, 3)
b = np.array([-1.5, 2.25], dtype=np.float32)
header = {"__metadata__": {"format": "pt"},
          "0.weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
          "0.bias": {"dtype": "F32", "shape": [2], "data_offsets": [24, 32]}}
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
with open(d + "/m.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + w.astype("<f4").tobytes() + b.astype("<f4").tobytes())
print("written")
)PY";

constexpr const char* python_reads = R"PY(
import json, struct, sys
import numpy as np
d = sys.argv[1]
a = np.load(d + "/c.npy", allow_pickle=False)
assert a.dtype == np.float32, a.dtype
assert a.shape == (3, 2, 2), a.shape
assert a.flags["C_CONTIGUOUS"]
assert np.array_equal(a.ravel(), np.arange(12, dtype=np.float32) * np.float32(1.5) - np.float32(4)), a
s = np.load(d + "/c0.npy", allow_pickle=False)
assert s.shape == () and s.dtype == np.float32 and s == np.float32(-0.75), s
raw = open(d + "/c.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
assert n % 8 == 0, n
hdr = json.loads(raw[8:8 + n])
buf = raw[8 + n:]
assert list(hdr) == ["__metadata__", "conv.weight", "conv.bias"], list(hdr)
assert hdr["__metadata__"] == {"producer": "typenet"}
expect = {"conv.weight": (np.arange(8, dtype=np.float32) / np.float32(8)).reshape(2, 1, 2, 2),
          "conv.bias": np.array([10, -10], dtype=np.float32)}
end = 0
for name, want in expect.items():
    info = hdr[name]
    assert info["dtype"] == "F32"
    s, e = info["data_offsets"]
    assert s == end, (name, s, end)
    end = e
    got = np.frombuffer(buf[s:e], dtype="<f4").reshape(info["shape"])
    assert np.array_equal(got, want), (name, got, want)
assert end == len(buf)
print("verified")
)PY";

}  // namespace

TEST_SUITE("io.python") {
  TEST_CASE("files written by numpy and by hand in Python are read exactly") {
    require_numpy();
    scratch_dir dir;
    write_bytes(dir / "write.py", python_writes);
    const auto r = run_python(dir / "write.py", dir.path());
    INFO(r.output);
    REQUIRE(r.status == 0);

    const auto a = io::read_npy(dir / "a.npy");
    CHECK(a.shape == std::vector<std::int64_t>{2, 3, 4});
    REQUIRE(a.data.size() == 24);
    for (std::size_t i = 0; i < 24; ++i) CHECK(a.data[i] == static_cast<float>(i) * 0.25f - 2.0f);

    const auto s = io::read_npy(dir / "scalar.npy");
    CHECK(s.shape.empty());
    CHECK(s.data == std::vector<float>{3.5f});
    CHECK(io::read_npy(dir / "empty.npy").shape == std::vector<std::int64_t>{0, 7});

    CHECK(io_error_of([&] { (void)io::read_npy(dir / "f64.npy"); }) ==
          (dir / "f64.npy").string() + ": dtype '<f8' is not supported (only float32 '<f4')");
    CHECK(io_error_of([&] { (void)io::read_npy(dir / "fortran.npy"); }) ==
          (dir / "fortran.npy").string() +
              ": fortran_order True (column-major) is not supported (only C order, fortran_order False)");
    CHECK(io_error_of([&] { (void)io::read_npy(dir / "big_endian.npy"); }) ==
          (dir / "big_endian.npy").string() + ": dtype '>f4' is not supported (only float32 '<f4')");

    const auto m = io::read_safetensors(dir / "m.safetensors");
    CHECK(m.metadata().at("format") == "pt");
    CHECK(m.find("0.weight")->shape == std::vector<std::int64_t>{2, 3});
    CHECK(m.floats("0.weight") == std::vector<float>{0, 1, 4, 9, 16, 25});
    CHECK(m.floats("0.bias") == std::vector<float>{-1.5f, 2.25f});
  }

  TEST_CASE("files written here are read exactly by numpy and by hand in Python") {
    require_numpy();
    scratch_dir dir;
    std::vector<float> c(12);
    for (std::size_t i = 0; i < c.size(); ++i) c[i] = static_cast<float>(i) * 1.5f - 4.0f;
    io::write_npy(dir / "c.npy", {3, 2, 2}, c);
    io::write_npy(dir / "c0.npy", {}, std::vector<float>{-0.75f});

    std::vector<float> w(8);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i) / 8.0f;
    const std::vector<float> b{10, -10};
    io::write_safetensors(dir / "c.safetensors", {{"conv.weight", {2, 1, 2, 2}, w}, {"conv.bias", {2}, b}},
                          {{"producer", "typenet"}});

    write_bytes(dir / "read.py", python_reads);
    const auto r = run_python(dir / "read.py", dir.path());
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(r.output.find("verified") != std::string::npos);
  }

}  // TEST_SUITE
