# bench_machine: the machine's limits (peak FP32 FMA rate, memory bandwidth). See docs/benchmarks-method.md.
find_package(benchmark QUIET)
if(NOT benchmark_FOUND)
  message(STATUS "typenet bench: Google Benchmark not found; bench_machine is skipped")
  return()
endif()
find_package(Threads REQUIRED)

add_executable(bench_machine ${CMAKE_CURRENT_LIST_DIR}/machine_limits.cpp)
target_compile_features(bench_machine PRIVATE cxx_std_20)
target_link_libraries(bench_machine PRIVATE typenet_dev_flags benchmark::benchmark Threads::Threads)
