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
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
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

  // Parses a whole safetensors file held in `bytes` (kept as the file's storage).
  static safetensors_file from_bytes(std::vector<std::byte> bytes, std::string_view name) {
    safetensors_file f;
    f.name_ = std::string(name);
    detail::naming_memory_failures(f.name_, [&] {
      f.data_start_ = f.parse_memory(bytes);
      f.bytes_ = std::move(bytes);
    });
    return f;
  }

  // Parses a safetensors file held in memory; only its data buffer is copied.
  static safetensors_file from_memory(std::span<const std::byte> bytes, std::string_view name) {
    safetensors_file f;
    f.name_ = std::string(name);
    detail::naming_memory_failures(f.name_, [&] {
      const std::uint64_t start = f.parse_memory(bytes);
      f.bytes_ = detail::allocate_for<std::byte>(f.name_, bytes.size() - start, "the data buffer");
      if (!f.bytes_.empty()) std::memcpy(f.bytes_.data(), bytes.data() + start, f.bytes_.size());
    });
    return f;
  }

  // Reads a safetensors file: the 8-byte length, then the header, which is parsed and checked against the
  // file's size before the data buffer is read (once, into this object). A file that is not a regular file
  // is read as a stream, up to max_stream_bytes.
  static safetensors_file from_file(const std::filesystem::path& path) {
    detail::input_file in(path);
    safetensors_file f;
    f.name_ = in.name();
    detail::naming_memory_failures(f.name_, [&] { f.read_from(in); });
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

  // The checks on the 8-byte header length. file_size: the whole file's size, if known.
  void check_header_length(std::uint64_t header_len, std::optional<std::uint64_t> file_size) const {
    if (file_size && header_len > *file_size - 8) {
      fail("header length " + std::to_string(header_len) + " exceeds file size " + std::to_string(*file_size));
    }
    if (header_len > safetensors_max_header_bytes) {
      fail("header length " + std::to_string(header_len) + " exceeds the limit of " +
           std::to_string(safetensors_max_header_bytes) + " bytes");
    }
    if (header_len == 0) fail("header length is 0 (the header must be a JSON object)");
  }

  void check_preamble_size(std::uint64_t size) const {
    if (size == 0) fail("file is empty (expected a safetensors file)");
    if (size < 8) fail("file is " + std::to_string(size) + " bytes, too short for the 8-byte header length");
  }

  // Parses the header of a whole file held in memory; returns where its data buffer starts.
  std::uint64_t parse_memory(std::span<const std::byte> bytes) {
    const std::uint64_t size = bytes.size();
    check_preamble_size(size);
    const std::uint64_t header_len = detail::load_le_u64(bytes.data());
    check_header_length(header_len, size);
    parse_header(
        std::string_view(reinterpret_cast<const char*>(bytes.data()) + 8, static_cast<std::size_t>(header_len)),
        size - 8 - header_len);
    return 8 + header_len;
  }

  void read_from(detail::input_file& in) {
    std::byte length[8];
    const std::uint64_t got = in.read(length, 8);
    if (in.regular() && got != std::min<std::uint64_t>(in.size(), 8)) in.changed_while_reading();
    check_preamble_size(in.regular() ? in.size() : got);
    const std::uint64_t header_len = detail::load_le_u64(length);
    if (in.regular()) {
      check_header_length(header_len, in.size());
    } else {
      check_header_length(header_len, std::nullopt);
    }
    std::string header(static_cast<std::size_t>(header_len), '\0');
    const std::uint64_t header_got = in.read(header.data(), header_len);
    if (header_got != header_len) {
      if (in.regular()) in.changed_while_reading();
      check_header_length(header_len, 8 + header_got);  // reports the length beyond the end of the stream
    }

    if (in.regular()) {
      const std::uint64_t buffer_size = in.size() - 8 - header_len;
      parse_header(header, buffer_size);
      header = std::string();
      bytes_ = detail::allocate_for<std::byte>(name_, buffer_size, "the data buffer");
      if (in.read(bytes_.data(), buffer_size) != buffer_size || in.has_more()) in.changed_while_reading();
      return;
    }
    // A stream: the tensors, which must tile the data buffer, say how long it is.
    const std::uint64_t buffer_size = parse_header(header, std::nullopt);
    header = std::string();
    in.check_stream_size(8 + header_len + buffer_size);
    bytes_ = detail::allocate_for<std::byte>(name_, buffer_size, "the data buffer");
    const std::uint64_t data_got = in.read(bytes_.data(), buffer_size);
    if (data_got < buffer_size) {
      // The stream ended early: report the first tensor (in header order) that runs past its end.
      for (const auto& t : tensors_) {
        if (t.end > data_got) fail(beyond_buffer(t, data_got));
      }
    }
    if (in.has_more()) {
      fail("file has more bytes after the last tensor's data (from byte " + std::to_string(buffer_size) +
           " of the data buffer on, they belong to no tensor; the file is not a regular file, so they were not "
           "counted)");
    }
  }

  // Built with += : g++ 12 warns falsely (-Wrestrict) on "literal" + std::string&&.
  static std::string offsets_text(const safetensors_tensor& t) {
    std::string s = "[";
    s += std::to_string(t.begin);
    s += ", ";
    s += std::to_string(t.end);
    s += ']';
    return s;
  }
  static std::string beyond_buffer(const safetensors_tensor& t, std::uint64_t buffer_size) {
    std::string s = "tensor ";
    s += detail::quote_name(t.name);
    s += " has data_offsets ";
    s += offsets_text(t);
    s += " beyond the end of the data buffer (";
    s += std::to_string(buffer_size);
    s += " bytes)";
    return s;
  }

  class header_reader;

  // Parses and checks the header: the JSON, every entry, and that the tensors tile the data buffer.
  // buffer_size: the data buffer's size, or nullopt when it is not known yet (a stream), in which case the
  // tensors' tiling defines it. Returns the data buffer's size.
  std::uint64_t parse_header(std::string_view header, std::optional<std::uint64_t> buffer_size);

  safetensors_tensor parse_entry(const std::string& key, const nlohmann::json& entry,
                                 std::optional<std::uint64_t> buffer_size) const {
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
    if (buffer_size && t.end > *buffer_size) fail(beyond_buffer(t, *buffer_size));
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
  // Returns where the last one ends.
  std::uint64_t check_coverage(std::optional<std::uint64_t> buffer_size) const {
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
    if (buffer_size && cursor < *buffer_size) {
      fail("file has " + std::to_string(*buffer_size - cursor) + " trailing bytes after the last tensor's data " +
           "(bytes [" + std::to_string(cursor) + ", " + std::to_string(*buffer_size) +
           ") of the data buffer belong to no tensor)");
    }
    return cursor;
  }

  std::string name_;
  std::vector<std::byte> bytes_;
  std::uint64_t data_start_ = 0;
  std::vector<safetensors_tensor> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

// The header's JSON, taken in one pass as nlohmann-json's SAX events (time linear in the header's size).
// Depth 0 is the header object, depth 1 its entries. A tensor's entry is collected into a small JSON value
// and checked by parse_entry() as soon as it closes; __metadata__ goes straight into metadata_. Duplicate
// keys are caught as they come (nlohmann would keep the last), and nothing nested deeper than the format
// uses is accepted. Every problem throws the io_error at once.
class safetensors_file::header_reader {
 public:
  using json = nlohmann::json;

  header_reader(safetensors_file& file, std::optional<std::uint64_t> buffer_size)
      : file_(file), buffer_size_(buffer_size) {}

  bool null() { return value(json(nullptr), "a null"); }
  bool boolean(bool v) { return value(json(v), "a boolean"); }
  bool number_integer(json::number_integer_t v) { return value(json(v), "an integer"); }
  bool number_unsigned(json::number_unsigned_t v) { return value(json(v), "an integer"); }
  bool number_float(json::number_float_t v, const json::string_t&) { return value(json(v), "a non-integer number"); }
  bool string(json::string_t& v) {
    if (depth_ == 2 && in_metadata_) {
      file_.metadata_.emplace(key_, std::move(v));
      return true;
    }
    return value(json(std::move(v)), "a string");
  }
  bool binary(json::binary_t&) { return value(json(), "binary data"); }  // not produced by JSON input

  bool start_object(std::size_t) { return open(json::object(), "an object"); }
  bool start_array(std::size_t) { return open(json::array(), "an array"); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(json::string_t& k) {
    using detail::quote_name;
    if (depth_ == 1) {
      in_metadata_ = k == "__metadata__";
      if (in_metadata_) {
        if (seen_metadata_) file_.fail("tensor '__metadata__' appears twice in the header");
        seen_metadata_ = true;
      } else if (!file_.index_.emplace(k, file_.tensors_.size()).second) {
        file_.fail("tensor " + quote_name(k) + " appears twice in the header");
      }
      entry_name_ = std::move(k);
      return true;
    }
    const bool repeated = (depth_ == 2 && in_metadata_) ? file_.metadata_.contains(k) : stack_.back()->contains(k);
    if (repeated) {
      file_.fail("key " + quote_name(k) + " appears twice in the header entry " + quote_name(entry_name_));
    }
    key_ = std::move(k);
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    file_.fail("header is not valid JSON: " + detail::printable(e.what(), false, 200));
  }

 private:
  // A scalar value: what it is called in a message is `what`.
  bool value(json&& v, const char* what) {
    using detail::quote_name;
    if (depth_ == 0) file_.fail(std::string("header is ") + what + ", not a JSON object");
    if (depth_ == 1) not_an_object(what);
    if (depth_ == 2 && in_metadata_) {
      file_.fail("__metadata__ value for " + quote_name(key_) + " is " + what + ", not a string");
    }
    insert(std::move(v));
    return true;
  }

  bool open(json&& container, const char* what) {
    using detail::quote_name;
    if (depth_ == 0) {
      if (!container.is_object()) file_.fail(std::string("header is ") + what + ", not a JSON object");
    } else if (depth_ == 1) {
      if (!container.is_object()) not_an_object(what);
      if (!in_metadata_) {
        entry_ = json::object();
        stack_.assign(1, &entry_);
      }
    } else {
      if (depth_ >= 3) file_.fail("header JSON is nested deeper than the safetensors format allows");
      if (in_metadata_) {
        file_.fail("__metadata__ value for " + quote_name(key_) + " is " + what + ", not a string");
      }
      stack_.push_back(&insert(std::move(container)));
    }
    ++depth_;
    return true;
  }

  bool close() {
    --depth_;
    if (depth_ >= 2) {
      stack_.pop_back();
    } else if (depth_ == 1 && !in_metadata_) {
      file_.tensors_.push_back(file_.parse_entry(entry_name_, entry_, buffer_size_));
      entry_ = json();
      stack_.clear();
    }
    return true;
  }

  // Adds a value to the innermost open container of the current tensor entry and returns it.
  json& insert(json&& v) {
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return parent.back();
    }
    return parent[key_] = std::move(v);
  }

  [[noreturn]] void not_an_object(const char* what) {
    if (in_metadata_) file_.fail(std::string("__metadata__ is ") + what + ", not a JSON object");
    file_.fail("header entry for tensor " + detail::quote_name(entry_name_) + " is " + what + ", not a JSON object");
  }

  safetensors_file& file_;
  std::optional<std::uint64_t> buffer_size_;
  int depth_ = 0;
  bool in_metadata_ = false;
  bool seen_metadata_ = false;
  std::string entry_name_;  // the current depth-1 key
  std::string key_;         // the current key inside an entry
  json entry_;              // the tensor entry being read
  std::vector<json*> stack_;
};

inline std::uint64_t safetensors_file::parse_header(std::string_view header, std::optional<std::uint64_t> buffer_size) {
  // The format: one JSON object, starting with '{', optionally padded at the end with spaces (0x20). JSON
  // parsers are laxer (nlohmann skips a UTF-8 byte order mark and leading whitespace, and takes a NUL byte
  // as the end of its input), so the bytes around the object are checked here.
  if (header.starts_with("\xef\xbb\xbf")) {
    fail("header starts with a UTF-8 byte order mark (EF BB BF); it must start with the '{' of a JSON object");
  }
  const char first = header.front();
  if (first == ' ' || first == '\t' || first == '\n' || first == '\r') {
    fail("header starts with whitespace; it must start with the '{' of a JSON object");
  }
  const std::size_t end = header.find_last_not_of(' ') + 1;  // header_len > 0; an all-space header gives 0
  const std::string_view json_text = header.substr(0, end);
  if (const auto nul = json_text.find('\0'); nul != std::string_view::npos) {
    fail("header has a NUL byte at offset " + std::to_string(nul) +
         " (the header is one JSON object, padded only with spaces)");
  }

  header_reader reader(*this, buffer_size);
  nlohmann::json::sax_parse(json_text.begin(), json_text.end(), &reader, nlohmann::json::input_format_t::json,
                            /*strict=*/true);
  if (json_text.back() != '}') {
    fail("header has whitespace other than spaces after its JSON object (only spaces, 0x20, may pad it)");
  }
  return check_coverage(buffer_size);
}

// Parses a safetensors file held in memory (its data buffer is copied); `name` is used in error messages.
inline safetensors_file read_safetensors_from_memory(std::span<const std::byte> bytes, std::string_view name) {
  return safetensors_file::from_memory(bytes, name);
}

// Reads and validates a safetensors file: the header is read and checked (against the file's size) before
// the data buffer is read, once. A file that is not a regular file is read up to max_stream_bytes.
inline safetensors_file read_safetensors(const std::filesystem::path& path) {
  return safetensors_file::from_file(path);
}

// A float32 tensor to write.
struct named_tensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::span<const float> data;
};

// Writes F32 tensors, in the given order with contiguous offsets, plus optional metadata; all or nothing
// when `path` is (or links to) a regular file or is absent (a temporary file renamed into place: on
// failure no partial file is left at `path`), in place for a device or FIFO. The header is padded
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
