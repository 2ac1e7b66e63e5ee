// typenet/io/error.hpp: the one exception type raised by typenet's file readers and writers.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace typenet::io {

// Raised for every problem with a file: it cannot be opened, read or written, or its contents are not
// what the reader accepts. what() is always "<file>: <problem>", e.g.
//   "weights.safetensors: header length 9000000000 exceeds file size 1234"
// file() and problem() give the two parts separately.
class io_error : public std::runtime_error {
 public:
  io_error(std::string_view file, std::string_view problem)
      : std::runtime_error(compose(file, problem)), file_(file), problem_(problem) {}

  [[nodiscard]] const std::string& file() const noexcept { return file_; }
  [[nodiscard]] const std::string& problem() const noexcept { return problem_; }

 private:
  static std::string compose(std::string_view file, std::string_view problem) {
    std::string s;
    s.reserve(file.size() + 2 + problem.size());
    s.append(file).append(": ").append(problem);
    return s;
  }

  std::string file_;
  std::string problem_;
};

namespace detail {

// Renders bytes taken from a file for an error message: printable ASCII is kept, everything else is
// escaped as \xNN (bytes >= 0x80 are kept when keep_utf8 is set, for text already known to be valid
// UTF-8), and text longer than max_chars is cut with "...".
inline std::string printable(std::string_view text, bool keep_utf8 = false, std::size_t max_chars = 64) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  std::size_t shown = 0;
  for (const char c : text) {
    if (shown == max_chars) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 0x20 && u < 0x7f && c != '\\') || (keep_utf8 && u >= 0x80)) {
      out += c;
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    }
    ++shown;
  }
  return out;
}

}  // namespace detail
}  // namespace typenet::io
