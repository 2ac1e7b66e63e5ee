# bench_typenet_int8: the int8 kernels (kernels/simd/int8.hpp) next to the bf16 kernels on the seed AlexNet's
# conv1-3 and fc6-7, one thread (docs/performance.md, "int8 kernels").
if(NOT TARGET benchmark::benchmark)
  find_package(benchmark QUIET)
endif()
if(TARGET benchmark::benchmark)
  if(NOT TARGET xtl)  # Debian's xsimd export names an xtl target that nothing defines (see tests/io)
    add_library(xtl INTERFACE IMPORTED GLOBAL)
  endif()
  add_executable(bench_typenet_int8 ${CMAKE_CURRENT_LIST_DIR}/bench_int8.cpp)
  target_link_libraries(bench_typenet_int8 PRIVATE typenet::typenet typenet_dev_flags benchmark::benchmark)
else()
  message(STATUS "typenet bench: Google Benchmark not found; bench_typenet_int8 is skipped")
endif()
