// typenet/io/npy.hpp: NumPy .npy files holding one float32 array (format versions 1.0, 2.0 and 3.0).
//
// Accepted: dtype '<f4' (little-endian float32), fortran_order False, any rank (0-D included), any
// dimension >= 0, data exactly product(shape) * 4 bytes long. Everything else is an io_error that names
// the file, says what was found and what is accepted; see docs/io.md.
#pragma once

#include <typenet/io/detail/file.hpp>
#include <typenet/io/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace typenet::io {

// A float32 array as stored in a .npy file: C (row-major) order.
struct npy_array {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
};

namespace detail {

inline constexpr std::string_view npy_magic{"\x93NUMPY", 6};

// The Python literal dict of a .npy header, parsed just far enough for the three keys numpy writes.
class npy_header_parser {
 public:
  npy_header_parser(std::string_view text, std::string_view file) : text_(text), file_(file) {}

  enum class kind { string, boolean, tuple, other };
  struct value {
    kind k = kind::other;
    std::string text;                 // string: its contents; other: the raw literal
    bool flag = false;                // boolean
    std::vector<std::int64_t> items;  // tuple
  };

  struct result {
    std::optional<value> descr, fortran_order, shape;
  };

  result parse() {
    result r;
    skip_ws();
    expect('{');
    skip_ws();
    while (peek() != '}') {
      const std::size_t key_at = pos_;
      if (peek() != '\'' && peek() != '"') fail("expected a quoted key");
      const std::string key = parse_string();
      std::optional<value>* slot = nullptr;
      if (key == "descr")
        slot = &r.descr;
      else if (key == "fortran_order")
        slot = &r.fortran_order;
      else if (key == "shape")
        slot = &r.shape;
      else
        throw io_error(file_, "unexpected key '" + printable(key) +
                                  "' in header (a .npy header has exactly 'descr', 'fortran_order' and 'shape')");
      if (slot->has_value()) {
        pos_ = key_at;
        throw io_error(file_, "key '" + key + "' appears twice in header");
      }
      skip_ws();
      expect(':');
      skip_ws();
      *slot = parse_value();
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        skip_ws();
      } else if (peek() != '}') {
        fail("expected ',' or '}'");
      }
    }
    ++pos_;  // '}'
    skip_ws();
    if (pos_ != text_.size()) fail("unexpected text after the header dictionary");
    return r;
  }

 private:
  [[nodiscard]] char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  [[nodiscard]] bool at_end() const { return pos_ >= text_.size(); }

  [[noreturn]] void fail(std::string_view what) const {
    throw io_error(file_, "malformed header: " + std::string(what) + " at offset " + std::to_string(pos_) + " of '" +
                              printable(text_, false, 80) + "'");
  }

  void skip_ws() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }

  void expect(char c) {
    if (at_end() || peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  std::string parse_string() {
    const char quote = peek();
    ++pos_;
    const std::size_t start = pos_;
    while (!at_end() && peek() != quote) {
      if (peek() == '\\' || peek() == '\n') fail("unsupported character in string literal");
      ++pos_;
    }
    if (at_end()) fail("unterminated string literal");
    std::string s(text_.substr(start, pos_ - start));
    ++pos_;
    return s;
  }

  std::int64_t parse_int() {
    if (!(peek() >= '0' && peek() <= '9')) fail("expected a non-negative integer");
    std::int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      const int digit = peek() - '0';
      if (v > (std::numeric_limits<std::int64_t>::max() - digit) / 10) {
        throw io_error(file_, "a dimension in the header's shape does not fit in 64 bits");
      }
      v = v * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2 long literal, as old numpy wrote
    return v;
  }

  value parse_value() {
    value v;
    const char c = peek();
    if (c == '\'' || c == '"') {
      v.k = kind::string;
      v.text = parse_string();
    } else if (text_.substr(pos_).starts_with("True")) {
      v.k = kind::boolean;
      v.flag = true;
      pos_ += 4;
    } else if (text_.substr(pos_).starts_with("False")) {
      v.k = kind::boolean;
      v.flag = false;
      pos_ += 5;
    } else if (c == '(') {
      v.k = kind::tuple;
      ++pos_;
      skip_ws();
      bool trailing_comma = false;
      while (peek() != ')') {
        v.items.push_back(parse_int());
        skip_ws();
        trailing_comma = false;
        if (peek() == ',') {
          ++pos_;
          skip_ws();
          trailing_comma = true;
        } else if (peek() != ')') {
          fail("expected ',' or ')' in shape tuple");
        }
      }
      ++pos_;
      if (v.items.size() == 1 && !trailing_comma) {
        fail("'(n)' is not a tuple (a 1-D shape is written '(n,)')");
      }
    } else {
      // Something else: a list (structured dtype), a number, None... Keep its text for the message.
      v.k = kind::other;
      const std::size_t start = pos_;
      int depth = 0;
      while (!at_end()) {
        const char d = peek();
        if (d == '[' || d == '(' || d == '{')
          ++depth;
        else if (d == ']' || d == ')' || d == '}') {
          if (depth == 0) break;
          --depth;
        } else if (d == ',' && depth == 0) {
          break;
        }
        ++pos_;
      }
      v.text = std::string(text_.substr(start, pos_ - start));
      if (v.text.empty()) fail("expected a value");
    }
    return v;
  }

  std::string_view text_;
  std::string file_;
  std::size_t pos_ = 0;
};

}  // namespace detail

// Parses a .npy file held in memory; `name` is the file name used in error messages.
inline npy_array read_npy_from_memory(std::span<const std::byte> bytes, std::string_view name) {
  using detail::printable;
  const std::size_t size = bytes.size();
  if (size == 0) throw io_error(name, "file is empty (expected a .npy file)");
  const auto* raw = reinterpret_cast<const char*>(bytes.data());
  const std::size_t magic_len = std::min(size, detail::npy_magic.size());
  if (std::string_view(raw, magic_len) != detail::npy_magic.substr(0, magic_len)) {
    throw io_error(name, "not a .npy file: it does not start with the magic string \\x93NUMPY");
  }
  if (size < 10) {
    throw io_error(name, "file is " + std::to_string(size) + " bytes, too short for a .npy preamble");
  }
  const auto major = std::to_integer<unsigned>(bytes[6]);
  const auto minor = std::to_integer<unsigned>(bytes[7]);
  if (!((major == 1 || major == 2 || major == 3) && minor == 0)) {
    throw io_error(name, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                             " (supported: 1.0, 2.0, 3.0)");
  }
  std::uint64_t header_len = 0;
  std::size_t header_start = 0;
  if (major == 1) {
    header_len = std::to_integer<std::uint64_t>(bytes[8]) | std::to_integer<std::uint64_t>(bytes[9]) << 8;
    header_start = 10;
  } else {
    if (size < 12) {
      throw io_error(name, "file is " + std::to_string(size) + " bytes, too short for a version " +
                               std::to_string(major) + ".0 preamble");
    }
    for (int b = 0; b < 4; ++b) header_len |= std::to_integer<std::uint64_t>(bytes[8 + b]) << (8 * b);
    header_start = 12;
  }
  if (header_len > size - header_start) {
    throw io_error(name, "header length " + std::to_string(header_len) + " exceeds file size " + std::to_string(size));
  }
  const std::string_view header(raw + header_start, static_cast<std::size_t>(header_len));
  const auto parsed = detail::npy_header_parser(header, name).parse();

  using kind = detail::npy_header_parser::kind;
  if (!parsed.descr) throw io_error(name, "header has no 'descr' key (the dtype)");
  if (!parsed.fortran_order) throw io_error(name, "header has no 'fortran_order' key");
  if (!parsed.shape) throw io_error(name, "header has no 'shape' key");

  if (parsed.descr->k != kind::string) {
    const auto& t = parsed.descr->text;
    const bool structured = parsed.descr->k == kind::other && !t.empty() && t.front() == '[';
    throw io_error(name, std::string(structured ? "structured dtype " : "dtype ") + printable(t) +
                             " is not supported (only float32 '<f4')");
  }
  if (parsed.descr->text != "<f4") {
    throw io_error(name, "dtype '" + printable(parsed.descr->text) + "' is not supported (only float32 '<f4')");
  }
  if (parsed.fortran_order->k != kind::boolean) {
    throw io_error(name, "fortran_order must be True or False, found " +
                             printable(parsed.fortran_order->k == kind::string ? "'" + parsed.fortran_order->text + "'"
                                                                               : parsed.fortran_order->text));
  }
  if (parsed.fortran_order->flag) {
    throw io_error(name, "fortran_order True (column-major) is not supported (only C order, fortran_order False)");
  }
  if (parsed.shape->k != kind::tuple) {
    throw io_error(
        name, "shape must be a tuple of non-negative integers, found " +
                  printable(parsed.shape->k == kind::string ? "'" + parsed.shape->text + "'" : parsed.shape->text));
  }

  npy_array out;
  out.shape = parsed.shape->items;
  const std::uint64_t data_offset = header_start + header_len;
  const std::uint64_t available = size - data_offset;
  const auto count = detail::element_count(out.shape, std::numeric_limits<std::uint64_t>::max() / 4);
  const std::string shape_text = detail::shape_string(out.shape);
  if (!count) {
    throw io_error(name, "shape " + shape_text + " has more elements than any file can hold (the product overflows)");
  }
  const std::uint64_t needed = *count * 4;
  if (needed > available) {
    throw io_error(name, "data is truncated: shape " + shape_text + " needs " + std::to_string(needed) +
                             " bytes but the file has " + std::to_string(available) + " after the header");
  }
  if (needed < available) {
    throw io_error(name, "file has " + std::to_string(available - needed) + " trailing bytes after the data (shape " +
                             shape_text + " needs " + std::to_string(needed) + " bytes)");
  }
  out.data.resize(static_cast<std::size_t>(*count));
  detail::load_le_floats(bytes.data() + data_offset, out.data.size(), out.data.data());
  return out;
}

// Reads a .npy file holding a float32 array in C order.
inline npy_array read_npy(const std::filesystem::path& path) {
  const auto bytes = detail::read_file_bytes(path);
  return read_npy_from_memory(bytes, path.string());
}

// Writes `data` (C order) with the given shape as a version 1.0 .npy file (2.0 if the header needs it),
// through a temporary file renamed into place: on failure no partial file is left at `path`.
inline void write_npy(const std::filesystem::path& path, std::span<const std::int64_t> shape,
                      std::span<const float> data) {
  const std::string name = path.string();
  const auto count = detail::element_count(shape);
  if (!count) {
    throw io_error(name, "cannot write shape " + detail::shape_string(shape) +
                             ": dimensions must be >= 0 and their product must fit in 64 bits");
  }
  if (*count != data.size()) {
    throw io_error(name, "cannot write shape " + detail::shape_string(shape) + ": it has " + std::to_string(*count) +
                             " elements but " + std::to_string(data.size()) + " values were given");
  }
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  dict += shape.size() == 1 ? ",), }" : "), }";

  // Pad with spaces and end with '\n' so that the data starts at a multiple of 64 bytes.
  auto padded = [&](std::size_t preamble) {
    std::string h = dict;
    const std::size_t unpadded = preamble + h.size() + 1;
    h.append((64 - unpadded % 64) % 64, ' ');
    h += '\n';
    return h;
  };
  std::string header = padded(10);
  std::string preamble(detail::npy_magic);
  if (header.size() <= 0xffff) {
    preamble += '\x01';
    preamble += '\x00';
    preamble += static_cast<char>(header.size() & 0xff);
    preamble += static_cast<char>(header.size() >> 8);
  } else {
    header = padded(12);
    preamble += '\x02';
    preamble += '\x00';
    for (int b = 0; b < 4; ++b) preamble += static_cast<char>((header.size() >> (8 * b)) & 0xff);
  }

  detail::atomic_output out(path);
  out.write(preamble);
  out.write(header);
  out.write_floats(data);
  out.commit();
}

// Convenience overload: shape given as an initializer list, e.g. write_npy(p, {2, 3}, values).
inline void write_npy(const std::filesystem::path& path, std::initializer_list<std::int64_t> shape,
                      std::span<const float> data) {
  write_npy(path, std::span<const std::int64_t>(shape.begin(), shape.size()), data);
}

}  // namespace typenet::io
