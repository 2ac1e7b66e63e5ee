# Flags for typenet's own tests, examples and benchmarks (never put on the typenet target itself).
add_library(typenet_dev_flags INTERFACE)
target_compile_options(typenet_dev_flags INTERFACE
  -Wall -Wextra -Werror -ftemplate-backtrace-limit=0
  $<$<BOOL:${TYPENET_NATIVE}>:-march=native>)
if(TYPENET_SANITIZE)
  target_compile_options(typenet_dev_flags INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(typenet_dev_flags INTERFACE -fsanitize=address,undefined)
endif()
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()
