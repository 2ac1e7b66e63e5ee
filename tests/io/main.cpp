// The io test runner. Including the umbrella header first checks that it is self-contained.
#include <typenet/io.hpp>

#include <stdexcept>
#include <type_traits>

static_assert(std::is_base_of_v<std::runtime_error, typenet::io::io_error>);

#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
