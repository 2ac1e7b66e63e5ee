// typenet/io/safetensors.hpp: reading and writing safetensors files.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON, then the data buffer:
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ..., "__metadata__": {"k": "v"}}
// Offsets are relative to the start of the data buffer. The reader validates the whole file before it
// hands anything out (every rule is listed in docs/io.md); any violation is an io_error naming the file.
// Tensors of every standard dtype are accepted and described; only F32 tensors can be read as floats.
#pragma once

#include <typenet/io/detail/file.hpp>
#include <typenet/io/error.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace typenet::io {

// Headers longer than this are rejected before any JSON is parsed (the reference implementation's
// limit is also 100 MB).
inline constexpr std::uint64_t safetensors_max_header_bytes = 100'000'000;

// One tensor described by a safetensors header.
struct safetensors_tensor {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", "I64", ...
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  // byte offsets [begin, end) in the data buffer
  std::uint64_t end = 0;

  [[nodiscard]] std::uint64_t byte_size() const noexcept { return end - begin; }
};

namespace detail {

struct safetensors_dtype {
  std::string_view name;
  unsigned bits;
};

// The dtypes of the safetensors format. Only F32 can be loaded into typenet; the others are recognised
// so that a file holding them can be described and rejected by name.
inline constexpr safetensors_dtype safetensors_dtypes[] = {
    {"BOOL", 8}, {"U8", 8},   {"I8", 8},    {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"I16", 16},
    {"U16", 16}, {"F16", 16}, {"BF16", 16}, {"I32", 32},    {"U32", 32},    {"F32", 32},    {"F64", 64},
    {"I64", 64}, {"U64", 64}, {"C64", 64},  {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6},
};

inline const safetensors_dtype* find_safetensors_dtype(std::string_view name) noexcept {
  for (const auto& d : safetensors_dtypes)
    if (d.name == name) return &d;
  return nullptr;
}

inline std::string json_type_name(const nlohmann::json& j) {
  if (j.is_number_integer()) return "an integer";
  if (j.is_number_float()) return "a non-integer number";
  const std::string t = j.type_name();
  return (t == "array" || t == "object") ? "an " + t : "a " + t;
}

inline std::string quote_name(std::string_view s) {
  std::string q = "'";  // built with += : g++ 12 warns falsely (-Wrestrict) on "'" + std::string&&
  q += printable(s, true);
  q += '\'';
  return q;
}

}  // namespace detail

class safetensors_file {
 public:
  // The file's name as used in error messages.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  // Every tensor, in the order of the header.
  [[nodiscard]] std::span<const safetensors_tensor> tensors() const noexcept { return tensors_; }

  // The tensor called `tensor_name`, or nullptr.
  [[nodiscard]] const safetensors_tensor* find(std::string_view tensor_name) const {
    const auto it = index_.find(tensor_name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }

  // The "__metadata__" map (empty if the file has none).
  [[nodiscard]] const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }

  // The raw little-endian bytes of a tensor of this file.
  [[nodiscard]] std::span<const std::byte> raw_data(const safetensors_tensor& t) const {
    check_own(t);
    return std::span<const std::byte>(bytes_).subspan(static_cast<std::size_t>(data_start_ + t.begin),
                                                      static_cast<std::size_t>(t.byte_size()));
  }

  // Copies an F32 tensor into `dest`, which must hold exactly its number of elements.
  void copy_floats(const safetensors_tensor& t, std::span<float> dest) const {
    check_own(t);
    if (t.dtype != "F32") {
      throw io_error(name_, "tensor " + detail::quote_name(t.name) + " has dtype " + t.dtype +
                                "; typenet reads only F32 (float32) tensors");
    }
    const std::uint64_t count = t.byte_size() / 4;
    if (dest.size() != count) {
      throw std::invalid_argument("typenet::io::safetensors_file::copy_floats: tensor '" + t.name + "' has " +
                                  std::to_string(count) + " elements but the destination holds " +
                                  std::to_string(dest.size()));
    }
    detail::load_le_floats(bytes_.data() + data_start_ + t.begin, dest.size(), dest.data());
  }

  // An F32 tensor's values, copied out.
  [[nodiscard]] std::vector<float> floats(const safetensors_tensor& t) const {
    std::vector<float> v(t.dtype == "F32" ? static_cast<std::size_t>(t.byte_size() / 4) : 0);
    copy_floats(t, v);
    return v;
  }
  [[nodiscard]] std::vector<float> floats(std::string_view tensor_name) const {
    const auto* t = find(tensor_name);
    if (t == nullptr) throw io_error(name_, "has no tensor " + detail::quote_name(tensor_name));
    return floats(*t);
  }

  static safetensors_file from_bytes(std::vector<std::byte> bytes, std::string_view name) {
    safetensors_file f;
    f.name_ = std::string(name);
    f.bytes_ = std::move(bytes);
    f.parse();
    return f;
  }

 private:
  safetensors_file() = default;

  void check_own(const safetensors_tensor& t) const {
    if (t.begin > t.end || data_start_ > bytes_.size() || t.end > bytes_.size() - data_start_) {
      throw std::invalid_argument("typenet::io::safetensors_file: tensor '" + t.name + "' does not belong to " + name_);
    }
  }

  [[noreturn]] void fail(const std::string& problem) const { throw io_error(name_, problem); }

  void parse() {
    using detail::quote_name;
    using nlohmann::json;
    const std::uint64_t size = bytes_.size();
    if (size == 0) fail("file is empty (expected a safetensors file)");
    if (size < 8) {
      fail("file is " + std::to_string(size) + " bytes, too short for the 8-byte header length");
    }
    const std::uint64_t header_len = detail::load_le_u64(bytes_.data());
    if (header_len > size - 8) {
      fail("header length " + std::to_string(header_len) + " exceeds file size " + std::to_string(size));
    }
    if (header_len > safetensors_max_header_bytes) {
      fail("header length " + std::to_string(header_len) + " exceeds the limit of " +
           std::to_string(safetensors_max_header_bytes) + " bytes");
    }
    if (header_len == 0) fail("header length is 0 (the header must be a JSON object)");
    data_start_ = 8 + header_len;
    const std::uint64_t buffer_size = size - data_start_;
    const auto* header_begin = reinterpret_cast<const char*>(bytes_.data()) + 8;
    const auto* header_end = header_begin + header_len;

    // The callback sees every key as it is parsed: it records the order of the tensors, rejects
    // duplicate keys (nlohmann would silently keep the last) and nesting deeper than the format uses.
    std::vector<std::string> order;
    std::vector<std::set<std::string>> open_objects;
    std::string current_entry;
    const auto callback = [&](int depth, json::parse_event_t event, json& parsed) -> bool {
      switch (event) {
        case json::parse_event_t::object_start:
        case json::parse_event_t::array_start:
          if (depth >= 3) fail("header JSON is nested deeper than the safetensors format allows");
          if (event == json::parse_event_t::object_start) open_objects.emplace_back();
          break;
        case json::parse_event_t::object_end:
          open_objects.pop_back();
          break;
        case json::parse_event_t::key: {
          const auto& key = parsed.get_ref<const std::string&>();
          if (!open_objects.back().insert(key).second) {
            if (depth == 1) fail("tensor " + quote_name(key) + " appears twice in the header");
            fail("key " + quote_name(key) + " appears twice in the header entry " + quote_name(current_entry));
          }
          if (depth == 1) {
            order.push_back(key);
            current_entry = key;
          }
          break;
        }
        default:
          break;
      }
      return true;
    };
    json header;
    try {
      header = json::parse(header_begin, header_end, callback);
    } catch (const json::exception& e) {
      fail("header is not valid JSON: " + detail::printable(e.what(), false, 200));
    }
    if (!header.is_object()) fail("header is " + detail::json_type_name(header) + ", not a JSON object");

    tensors_.reserve(order.size());
    for (const auto& key : order) {
      const json& entry = header.at(key);
      if (key == "__metadata__") {
        if (!entry.is_object()) fail("__metadata__ is " + detail::json_type_name(entry) + ", not a JSON object");
        for (const auto& [k, v] : entry.items()) {
          if (!v.is_string()) {
            fail("__metadata__ value for " + quote_name(k) + " is " + detail::json_type_name(v) + ", not a string");
          }
          metadata_.emplace(k, v.get<std::string>());
        }
        continue;
      }
      tensors_.push_back(parse_entry(key, entry, buffer_size));
    }

    check_coverage(buffer_size);
    for (std::size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
  }

  safetensors_tensor parse_entry(const std::string& key, const nlohmann::json& entry, std::uint64_t buffer_size) const {
    using detail::quote_name;
    const std::string who = "tensor " + quote_name(key);
    if (!entry.is_object())
      fail("header entry for " + who + " is " + detail::json_type_name(entry) + ", not a JSON object");
    for (const auto& item : entry.items()) {
      if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets") {
        fail(who + " has unexpected field " + quote_name(item.key()) +
             " (expected 'dtype', 'shape' and 'data_offsets')");
      }
    }
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      if (!entry.contains(field)) fail(who + " has no '" + field + "' field");
    }

    safetensors_tensor t;
    t.name = key;
    const auto& dtype = entry["dtype"];
    if (!dtype.is_string()) fail("dtype of " + who + " is " + detail::json_type_name(dtype) + ", not a string");
    t.dtype = dtype.get<std::string>();
    const auto* info = detail::find_safetensors_dtype(t.dtype);
    if (info == nullptr) fail(who + " has unknown dtype " + quote_name(t.dtype));

    const auto& shape = entry["shape"];
    if (!shape.is_array()) fail("shape of " + who + " is " + detail::json_type_name(shape) + ", not an array");
    for (std::size_t i = 0; i < shape.size(); ++i) {
      const auto& d = shape[i];
      const std::string which = "dimension " + std::to_string(i) + " of " + who;
      if (d.is_number_unsigned()) {
        const auto v = d.get<std::uint64_t>();
        if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) fail(which + " is too large");
        t.shape.push_back(static_cast<std::int64_t>(v));
      } else if (d.is_number_integer()) {
        fail(which + " is " + std::to_string(d.get<std::int64_t>()) + " (dimensions must be >= 0)");
      } else if (d.is_number_float()) {
        fail(which + " is " + d.dump() + ", not an integer");
      } else {
        fail(which + " is " + detail::json_type_name(d) + ", not an integer");
      }
    }

    const auto& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2) {
      fail("data_offsets of " + who + " must be an array [begin, end] of two integers, found " +
           detail::printable(offsets.dump(), true, 80));
    }
    for (const auto& o : offsets) {
      if (!o.is_number_unsigned()) {
        fail("data_offsets of " + who + " must be two non-negative integers, found " +
             detail::printable(offsets.dump(), true, 80));
      }
    }
    t.begin = offsets[0].get<std::uint64_t>();
    t.end = offsets[1].get<std::uint64_t>();
    const std::string range = "[" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
    if (t.begin > t.end) fail(who + " has data_offsets " + range + " with begin after end");
    if (t.end > buffer_size) {
      fail(who + " has data_offsets " + range + " beyond the end of the data buffer (" + std::to_string(buffer_size) +
           " bytes)");
    }
    const auto count = detail::element_count(t.shape, std::numeric_limits<std::uint64_t>::max() / 64);
    if (!count) fail(who + " has shape " + detail::shape_string(t.shape) + " whose size overflows 64 bits");
    const std::uint64_t bits = *count * info->bits;
    if (bits % 8 != 0) {
      fail(who + " (" + t.dtype + " " + detail::shape_string(t.shape) + ") does not fill a whole number of bytes");
    }
    if (bits / 8 != t.byte_size()) {
      fail(who + " (" + t.dtype + " " + detail::shape_string(t.shape) + ") needs " + std::to_string(bits / 8) +
           " bytes but its data_offsets " + range + " span " + std::to_string(t.byte_size()));
    }
    return t;
  }

  // The tensors must tile the data buffer exactly: no overlap, no hole, nothing after the last one.
  void check_coverage(std::uint64_t buffer_size) const {
    std::vector<std::size_t> by_offset(tensors_.size());
    std::iota(by_offset.begin(), by_offset.end(), std::size_t{0});
    std::stable_sort(by_offset.begin(), by_offset.end(), [&](std::size_t a, std::size_t b) {
      return std::pair(tensors_[a].begin, tensors_[a].end) < std::pair(tensors_[b].begin, tensors_[b].end);
    });
    std::uint64_t cursor = 0;
    const safetensors_tensor* previous = nullptr;
    auto span_text = [](const safetensors_tensor& t) {
      return detail::quote_name(t.name) + " [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + ")";
    };
    for (const auto i : by_offset) {
      const auto& t = tensors_[i];
      if (t.begin < cursor) {
        fail("tensors " + span_text(*previous) + " and " + span_text(t) + " overlap in the data buffer");
      }
      if (t.begin > cursor) {
        fail("bytes [" + std::to_string(cursor) + ", " + std::to_string(t.begin) +
             ") of the data buffer belong to no tensor (the tensors must cover the buffer without gaps)");
      }
      cursor = t.end;
      previous = &t;
    }
    if (cursor < buffer_size) {
      fail("file has " + std::to_string(buffer_size - cursor) + " trailing bytes after the last tensor's data " +
           "(bytes [" + std::to_string(cursor) + ", " + std::to_string(buffer_size) +
           ") of the data buffer belong to no tensor)");
    }
  }

  std::string name_;
  std::vector<std::byte> bytes_;
  std::uint64_t data_start_ = 0;
  std::vector<safetensors_tensor> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

// Parses a safetensors file held in memory (the bytes are copied); `name` is used in error messages.
inline safetensors_file read_safetensors_from_memory(std::span<const std::byte> bytes, std::string_view name) {
  return safetensors_file::from_bytes(std::vector<std::byte>(bytes.begin(), bytes.end()), name);
}

// Reads and validates a whole safetensors file.
inline safetensors_file read_safetensors(const std::filesystem::path& path) {
  return safetensors_file::from_bytes(detail::read_file_bytes(path), path.string());
}

// A float32 tensor to write.
struct named_tensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::span<const float> data;
};

// Writes F32 tensors, in the given order with contiguous offsets, plus optional metadata, through a
// temporary file renamed into place: on failure no partial file is left at `path`. The header is padded
// with spaces to a multiple of 8 bytes, so the data buffer starts 8-byte aligned.
inline void write_safetensors(const std::filesystem::path& path, std::span<const named_tensor> tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
  const std::string file = path.string();
  auto json_string = [&](const std::string& s, std::string_view what) {
    try {
      return nlohmann::json(s).dump();
    } catch (const nlohmann::json::exception&) {
      throw io_error(file,
                     "cannot write " + std::string(what) + " '" + detail::printable(s) + "': it is not valid UTF-8");
    }
  };

  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      if (!first) header += ',';
      first = false;
      header += json_string(k, "metadata key") + ":" + json_string(v, "metadata value");
    }
    header += "}";
  }
  std::set<std::string_view> seen;
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    const std::string who = "tensor " + detail::quote_name(t.name);
    if (t.name == "__metadata__") throw io_error(file, "cannot write a tensor named '__metadata__' (reserved)");
    if (!seen.insert(t.name).second) throw io_error(file, "cannot write " + who + " twice");
    const auto count = detail::element_count(t.shape, std::numeric_limits<std::uint64_t>::max() / 4);
    if (!count) {
      throw io_error(file, "cannot write " + who + ": shape " + detail::shape_string(t.shape) +
                               " has a negative dimension or too many elements");
    }
    if (*count != t.data.size()) {
      throw io_error(file, "cannot write " + who + ": shape " + detail::shape_string(t.shape) + " has " +
                               std::to_string(*count) + " elements but " + std::to_string(t.data.size()) +
                               " values were given");
    }
    if (header.size() > 1) header += ',';
    header += json_string(t.name, "tensor name") + ":{\"dtype\":\"F32\",\"shape\":[";
    for (std::size_t d = 0; d < t.shape.size(); ++d) {
      if (d) header += ',';
      header += std::to_string(t.shape[d]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + *count * 4) + "]}";
    offset += *count * 4;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');

  std::byte length[8];
  for (int b = 0; b < 8; ++b) length[b] = static_cast<std::byte>((header.size() >> (8 * b)) & 0xff);

  detail::atomic_output out(path);
  out.write(length, sizeof length);
  out.write(header);
  for (const auto& t : tensors) out.write_floats(t.data);
  out.commit();
}

inline void write_safetensors(const std::filesystem::path& path, std::initializer_list<named_tensor> tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
  write_safetensors(path, std::span<const named_tensor>(tensors.begin(), tensors.size()), metadata);
}

}  // namespace typenet::io
