// A program outside typenet's build that uses typenet::image from the package: it encodes nothing and
// reads no file, but instantiates both decoders (so that libjpeg and libpng must link) and checks that a
// non-image and a truncated PNG are refused with the messages typenet documents.
#include <typenet/image.hpp>

#include <cstdio>
#include <string>
#include <string_view>

namespace img = typenet::image;

static bool refused(std::string_view bytes, const std::string& expected) {
  try {
    img::decode({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()}, "sample");
  } catch (const typenet::io::io_error& e) {
    if (std::string(e.what()).find(expected) != std::string::npos) return true;
    std::printf("unexpected message: %s\n", e.what());
    return false;
  }
  std::printf("not refused: expected '%s'\n", expected.c_str());
  return false;
}

int main() {
  const bool ok = refused("hello", "sample: not a JPEG or PNG image") &&
                  refused(std::string_view("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16), "corrupt or truncated PNG file") &&
                  refused(std::string_view("\xff\xd8\xff\xe0\0\x10JFIF", 10), "corrupt or truncated JPEG file");
  if (!ok) return 1;
  std::puts("typenet::image OK");
  return 0;
}
