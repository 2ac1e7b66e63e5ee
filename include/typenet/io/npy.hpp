// typenet/io/npy.hpp: NumPy .npy files holding one float32 array (format versions 1.0, 2.0 and 3.0).
//
// Accepted: dtype '<f4' (little-endian float32), fortran_order False, any rank (0-D included), any
// dimension >= 0, data exactly product(shape) * 4 bytes long. Labels (read_npy_labels) are '<i8'
// (little-endian int64) of shape [N]. Everything else is an io_error that names
// the file, says what was found and what is accepted; see docs/io.md.
#pragma once

#include <typenet/io/detail/file.hpp>
#include <typenet/io/error.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace typenet::io {

// A float32 array as stored in a .npy file: C (row-major) order.
struct npy_array {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
};

// Headers longer than this are rejected before they are read (a version 2.0 or 3.0 header length can
// claim up to 4 GiB). numpy writes a few hundred bytes; 16 MiB allows shapes of rank in the millions.
inline constexpr std::uint64_t npy_max_header_bytes = std::uint64_t{16} << 20;

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

namespace detail {

// Where a .npy file's header lies, from its preamble.
struct npy_preamble {
  std::uint64_t header_start = 0;  // 10 (version 1.0) or 12
  std::uint64_t header_len = 0;
};

// Checks a .npy file's preamble. `head` holds the file's first bytes: 10, or 12 for versions 2.0 and 3.0
// (fewer if the file is shorter); `size` is the whole file's size, or nullopt for a stream (a file that
// is not a regular file) that did not end within `head`.
inline npy_preamble check_npy_preamble(std::span<const std::byte> head, std::optional<std::uint64_t> size,
                                       std::string_view name) {
  const std::uint64_t avail = size.value_or(head.size());
  if (avail == 0) throw io_error(name, "file is empty (expected a .npy file)");
  const auto* raw = reinterpret_cast<const char*>(head.data());
  const std::size_t magic_len = static_cast<std::size_t>(std::min<std::uint64_t>(avail, npy_magic.size()));
  if (std::string_view(raw, magic_len) != npy_magic.substr(0, magic_len)) {
    throw io_error(name, "not a .npy file: it does not start with the magic string \\x93NUMPY");
  }
  if (avail < 10) {
    throw io_error(name, "file is " + std::to_string(avail) + " bytes, too short for a .npy preamble");
  }
  const auto major = std::to_integer<unsigned>(head[6]);
  const auto minor = std::to_integer<unsigned>(head[7]);
  if (!((major == 1 || major == 2 || major == 3) && minor == 0)) {
    throw io_error(name, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                             " (supported: 1.0, 2.0, 3.0)");
  }
  npy_preamble p;
  if (major == 1) {
    p.header_len = std::to_integer<std::uint64_t>(head[8]) | std::to_integer<std::uint64_t>(head[9]) << 8;
    p.header_start = 10;
  } else {
    if (avail < 12) {
      throw io_error(name, "file is " + std::to_string(avail) + " bytes, too short for a version " +
                               std::to_string(major) + ".0 preamble");
    }
    for (int b = 0; b < 4; ++b) p.header_len |= std::to_integer<std::uint64_t>(head[8 + b]) << (8 * b);
    p.header_start = 12;
  }
  if (size && p.header_len > *size - p.header_start) {
    throw io_error(name,
                   "header length " + std::to_string(p.header_len) + " exceeds file size " + std::to_string(*size));
  }
  if (p.header_len > npy_max_header_bytes) {
    throw io_error(name, "header length " + std::to_string(p.header_len) + " exceeds the limit of " +
                             std::to_string(npy_max_header_bytes) + " bytes");
  }
  return p;
}

// The array a .npy header describes: its shape, and how many bytes of data that needs.
struct npy_header {
  std::vector<std::int64_t> shape;
  std::uint64_t count = 0;  // elements
  std::uint64_t bytes = 0;  // count * 4
};

// The element type a reader accepts: its dtype string, its size and how a message names it.
struct npy_dtype {
  std::string_view descr = "<f4";
  std::uint64_t bytes = 4;
  std::string_view accepted = "only float32 '<f4'";
};

inline npy_header parse_npy_header(std::string_view header, std::string_view name, const npy_dtype& dtype = {}) {
  const auto parsed = npy_header_parser(header, name).parse();

  using kind = npy_header_parser::kind;
  if (!parsed.descr) throw io_error(name, "header has no 'descr' key (the dtype)");
  if (!parsed.fortran_order) throw io_error(name, "header has no 'fortran_order' key");
  if (!parsed.shape) throw io_error(name, "header has no 'shape' key");

  if (parsed.descr->k != kind::string) {
    const auto& t = parsed.descr->text;
    const bool structured = parsed.descr->k == kind::other && !t.empty() && t.front() == '[';
    throw io_error(name, std::string(structured ? "structured dtype " : "dtype ") + printable(t) +
                             " is not supported (" + std::string(dtype.accepted) + ")");
  }
  if (parsed.descr->text != dtype.descr) {
    throw io_error(
        name, "dtype '" + printable(parsed.descr->text) + "' is not supported (" + std::string(dtype.accepted) + ")");
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
  npy_header h;
  h.shape = parsed.shape->items;
  const auto count = element_count(h.shape, std::numeric_limits<std::uint64_t>::max() / dtype.bytes);
  if (!count) {
    throw io_error(
        name, "shape " + shape_string(h.shape) + " has more elements than any file can hold (the product overflows)");
  }
  h.count = *count;
  h.bytes = *count * dtype.bytes;
  return h;
}

inline void npy_check_data_size(const npy_header& h, std::uint64_t available, std::string_view name) {
  if (h.bytes > available) {
    throw io_error(name, "data is truncated: shape " + shape_string(h.shape) + " needs " + std::to_string(h.bytes) +
                             " bytes but the file has " + std::to_string(available) + " after the header");
  }
  if (h.bytes < available) {
    throw io_error(name, "file has " + std::to_string(available - h.bytes) + " trailing bytes after the data (shape " +
                             shape_string(h.shape) + " needs " + std::to_string(h.bytes) + " bytes)");
  }
}

}  // namespace detail

// Parses a .npy file held in memory; `name` is the file name used in error messages.
inline npy_array read_npy_from_memory(std::span<const std::byte> bytes, std::string_view name) {
  const std::string file(name);
  return detail::naming_memory_failures(file, [&] {
    const std::uint64_t size = bytes.size();
    const auto pre = detail::check_npy_preamble(bytes.first(std::min<std::size_t>(bytes.size(), 12)), size, name);
    const std::string_view header(reinterpret_cast<const char*>(bytes.data()) + pre.header_start,
                                  static_cast<std::size_t>(pre.header_len));
    const auto h = detail::parse_npy_header(header, name);
    const std::uint64_t data_offset = pre.header_start + pre.header_len;
    detail::npy_check_data_size(h, size - data_offset, name);
    npy_array out;
    out.shape = h.shape;
    out.data = detail::allocate_for<float>(file, h.count, "the array's data");
    detail::load_le_floats(bytes.data() + data_offset, out.data.size(), out.data.data());
    return out;
  });
}

namespace detail {
template <class T>
std::pair<std::vector<std::int64_t>, std::vector<T>> read_npy_elements(const std::filesystem::path& path,
                                                                       const npy_dtype& dtype) {
  detail::input_file in(path);
  const std::string& name = in.name();
  // The lambda's return type is spelled out: nvcc deduces void for it (and the CTAD pair below).
  return detail::naming_memory_failures(name, [&]() -> std::pair<std::vector<std::int64_t>, std::vector<T>> {
    std::byte head[12];
    std::uint64_t got = in.read(head, 10);
    std::optional<std::uint64_t> size;
    if (in.regular()) {
      size = in.size();
      if (got != std::min<std::uint64_t>(*size, 10)) in.changed_while_reading();
    } else if (got < 10) {
      size = got;
    }
    const auto major = got >= 8 ? std::to_integer<unsigned>(head[6]) : 0;
    if (got == 10 && (major == 2 || major == 3)) {
      const std::uint64_t more = in.read(head + 10, 2);
      got += more;
      if (in.regular() && got != std::min<std::uint64_t>(*size, 12)) in.changed_while_reading();
      if (!in.regular() && more < 2) size = got;
    }
    const auto pre =
        detail::check_npy_preamble(std::span<const std::byte>(head, static_cast<std::size_t>(got)), size, name);
    std::string header(static_cast<std::size_t>(pre.header_len), '\0');
    const std::uint64_t header_got = in.read(header.data(), pre.header_len);
    if (header_got != pre.header_len) {
      if (in.regular()) in.changed_while_reading();
      throw io_error(name, "header length " + std::to_string(pre.header_len) + " exceeds file size " +
                               std::to_string(pre.header_start + header_got));
    }
    const auto h = detail::parse_npy_header(header, name, dtype);
    const std::uint64_t data_offset = pre.header_start + pre.header_len;
    if (in.regular()) {
      detail::npy_check_data_size(h, *size - data_offset, name);
    } else {
      in.check_stream_size(data_offset + h.bytes);
    }

    std::vector<T> data = detail::allocate_for<T>(name, h.count, "the array's data");
    const std::uint64_t data_got = in.read(data.data(), h.bytes);
    if (in.regular()) {
      if (data_got != h.bytes || in.has_more()) in.changed_while_reading();
    } else {
      detail::npy_check_data_size(h, data_got, name);  // reports a stream that ended early
      if (in.has_more()) {
        throw io_error(name, "file has more bytes after the data (shape " + detail::shape_string(h.shape) + " needs " +
                                 std::to_string(h.bytes) +
                                 " bytes; the file is not a regular file, so they were not counted)");
      }
    }
    if constexpr (std::endian::native == std::endian::big) {
      for (T& v : data) {
        auto* b = reinterpret_cast<unsigned char*>(&v);
        std::reverse(b, b + sizeof(T));
      }
    }
    return {h.shape, std::move(data)};
  });
}
}  // namespace detail

// Reads a .npy file holding a float32 array in C order. The preamble and header are read and checked
// first (for a regular file, the data size the header declares against the file's size), then the data
// is read once, straight into the array. A file that is not a regular file is read up to max_stream_bytes.
inline npy_array read_npy(const std::filesystem::path& path) {
  auto [shape, data] = detail::read_npy_elements<float>(path, {});
  return {std::move(shape), std::move(data)};
}

// Reads class labels: a .npy file of int64 ('<i8', what numpy writes for np.int64) of shape [N], N >= 1.
// Checking each label against a network's classes is the caller's (train::check_labels).
inline std::vector<std::int64_t> read_npy_labels(const std::filesystem::path& path) {
  auto [shape, data] = detail::read_npy_elements<std::int64_t>(
      path, {"<i8", 8, "labels must be int64 '<i8': save them with labels.astype(numpy.int64)"});
  if (shape.size() != 1 || shape[0] < 1)
    throw io_error(path.string(), "labels must have shape [N] with N >= 1, found " + detail::shape_string(shape));
  return std::move(data);
}

// Writes `data` (C order) with the given shape as a version 1.0 .npy file (2.0 if the header needs it),
// all or nothing when `path` is (or links to) a regular file or is absent: through a temporary file
// renamed into place, so on failure no partial file is left at `path`. A device or FIFO is written in
// place. See atomic_output in io/detail/file.hpp and docs/io.md ("Writing").
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
  if (dict.size() > npy_max_header_bytes - 64) {
    throw io_error(name, "cannot write a shape of rank " + std::to_string(shape.size()) + ": its header would exceed " +
                             std::to_string(npy_max_header_bytes) + " bytes (npy_max_header_bytes)");
  }
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
