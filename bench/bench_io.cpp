// bench_typenet_io: the safetensors header parser on headers with many entries (issue 10 item 3: the
// parse must be linear in the header's size).
//
//   BM_safetensors_load/N     N F32 tensors of shape [1] (4 bytes each): a valid file, parsed, checked and
//                             indexed (read_safetensors_from_memory)
//   BM_safetensors_reject/N   N zero-size tensors and one byte after the last tensor's data: the whole
//                             header is parsed before the trailing byte is found, then the file is rejected
//
// N = 10k, 100k, 1M (the 1M header is about 60 MB, under the 100 MB limit). Counters: entries_per_s and
// header_MB_per_s (10^6 bytes of header JSON per second). Linear parsing shows as a constant rate across N.
#include <benchmark/benchmark.h>

#include <typenet/io/error.hpp>
#include <typenet/io/safetensors.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

// A safetensors file: 8-byte little-endian header length, the header, the data buffer.
std::vector<std::byte> file_bytes(const std::string& header, std::size_t data_bytes) {
  std::vector<std::byte> out(8 + header.size() + data_bytes, std::byte{0});
  const std::uint64_t n = header.size();
  for (int b = 0; b < 8; ++b) out[b] = static_cast<std::byte>((n >> (8 * b)) & 0xff);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

// N entries "t<i>"; each holds `bytes_each` bytes (0 or 4) of an F32 tensor, contiguous from offset 0.
std::string header_of(std::int64_t n, std::uint64_t bytes_each) {
  std::string h = "{\"__metadata__\":{\"format\":\"pt\"}";
  std::uint64_t offset = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    h += ",\"t" + std::to_string(i) + "\":{\"dtype\":\"F32\",\"shape\":[" + (bytes_each ? "1" : "0") +
         "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes_each) + "]}";
    offset += bytes_each;
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');
  return h;
}

void set_counters(benchmark::State& state, std::size_t header_bytes) {
  state.counters["entries_per_s"] =
      benchmark::Counter(static_cast<double>(state.range(0)), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["header_MB_per_s"] =
      benchmark::Counter(static_cast<double>(header_bytes) / 1e6, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_safetensors_load(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const std::string header = header_of(n, 4);
  const auto bytes = file_bytes(header, static_cast<std::size_t>(n) * 4);
  for (auto _ : state) {
    auto f = typenet::io::read_safetensors_from_memory(bytes, "bench.safetensors");
    if (f.tensors().size() != static_cast<std::size_t>(n)) state.SkipWithError("wrong tensor count");
    benchmark::DoNotOptimize(f);
  }
  set_counters(state, header.size());
}

void BM_safetensors_reject(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const std::string header = header_of(n, 0);
  const auto bytes = file_bytes(header, 1);  // one byte that no tensor covers
  for (auto _ : state) {
    try {
      (void)typenet::io::read_safetensors_from_memory(bytes, "bench.safetensors");
      state.SkipWithError("the file was accepted");
    } catch (const typenet::io::io_error& e) {
      benchmark::DoNotOptimize(e.what());
    }
  }
  set_counters(state, header.size());
}

}  // namespace

BENCHMARK(BM_safetensors_load)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_safetensors_reject)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
