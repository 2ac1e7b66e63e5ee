// libFuzzer target for typenet::io::read_safetensors_from_memory. An io_error is the expected way to
// reject a file; any other exception, a crash, a sanitizer report or a broken invariant (__builtin_trap)
// is a finding.
#include <typenet/io/safetensors.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto file = typenet::io::read_safetensors_from_memory(bytes, "fuzz.safetensors");
    // An accepted file: the tensors tile the data buffer exactly, every name is found again, and every
    // F32 tensor can be read out in full.
    std::uint64_t covered = 0;
    for (const auto& t : file.tensors()) {
      if (file.find(t.name) != &t) __builtin_trap();
      const auto raw = file.raw_data(t);
      if (raw.size() != t.byte_size()) __builtin_trap();
      covered += t.byte_size();
      if (t.dtype == "F32") {
        const auto values = file.floats(t);
        if (values.size() * 4 != t.byte_size()) __builtin_trap();
      }
    }
    if (covered + 8 > size) __builtin_trap();
    const std::uint64_t header_len = typenet::io::detail::load_le_u64(bytes.data());
    if (8 + header_len + covered != size) __builtin_trap();
  } catch (const typenet::io::io_error& e) {
    if (e.file() != "fuzz.safetensors" || e.problem().empty()) __builtin_trap();
  }
  return 0;
}
