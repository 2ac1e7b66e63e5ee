// The io test runner. Including the umbrella header first checks that it is self-contained.
#include <typenet/io.hpp>

#include <stdexcept>
#include <type_traits>

static_assert(std::is_base_of_v<std::runtime_error, typenet::io::io_error>);

#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <string_view>

namespace typenet_io_test {
int write_forever(const char* path);  // output_test.cpp
}

// `typenet_io_tests --write-forever PATH` is the child process of the signal test in output_test.cpp: a
// fresh program (default signal dispositions, unlike a forked doctest runner) that writes PATH in a loop.
int main(int argc, char** argv) {
  if (argc == 3 && std::string_view(argv[1]) == "--write-forever") return typenet_io_test::write_forever(argv[2]);
  return doctest::Context(argc, argv).run();
}
