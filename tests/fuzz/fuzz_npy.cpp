// libFuzzer target for typenet::io::read_npy_from_memory. An io_error is the expected way to reject a
// file; any other exception, a crash, a sanitizer report or a broken invariant (__builtin_trap) is a finding.
#include <typenet/io/npy.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto a = typenet::io::read_npy_from_memory(bytes, "fuzz.npy");
    // An accepted file holds exactly product(shape) floats, and they are the last bytes of the file.
    std::uint64_t n = 1;
    for (const auto d : a.shape) {
      if (d < 0) __builtin_trap();
      n *= static_cast<std::uint64_t>(d);
    }
    if (n != a.data.size() || a.data.size() * 4 > size) __builtin_trap();
  } catch (const typenet::io::io_error& e) {
    if (e.file() != "fuzz.npy" || e.problem().empty()) __builtin_trap();
  }
  return 0;
}
