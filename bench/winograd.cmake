# bench_typenet_winograd: kernels/simd/winograd.hpp (Winograd F(2x2,3x3)) next to the direct kernel of
# kernels/simd/conv2d.hpp on the seed AlexNet's conv3, conv4, conv5, batch 1 and 64, 1 and 2 threads.
# See docs/winograd.md.
if(NOT TARGET benchmark::benchmark)
  find_package(benchmark QUIET)
endif()
if(TARGET benchmark::benchmark)
  find_package(Threads REQUIRED)
  if(NOT TARGET xtl)  # Debian's xsimd export names an xtl target that nothing defines (see tests/io)
    add_library(xtl INTERFACE IMPORTED GLOBAL)
  endif()
  add_executable(bench_typenet_winograd ${CMAKE_CURRENT_LIST_DIR}/bench_winograd.cpp)
  target_link_libraries(bench_typenet_winograd PRIVATE typenet::typenet typenet_dev_flags benchmark::benchmark
                                                       Threads::Threads)
else()
  message(STATUS "typenet bench: Google Benchmark not found; bench_typenet_winograd is skipped")
endif()
