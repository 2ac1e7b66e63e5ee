# bench_typenet_dense: the SIMD dense kernel (kernels/simd/dense.hpp) on the AlexNet fc6/fc7/fc8 shapes, at
# batch 1 (GB/s of weights) and batch 64 (GFLOP/s), 1 and 2 threads, next to a read-only bandwidth loop over
# buffers of the same size and a peak-FMA loop. See docs/dense-kernels.md.
if(NOT TARGET benchmark::benchmark)
  find_package(benchmark QUIET)
endif()
if(TARGET benchmark::benchmark)
  find_package(Threads REQUIRED)
  add_executable(bench_typenet_dense ${CMAKE_CURRENT_LIST_DIR}/bench_dense.cpp)
  target_link_libraries(bench_typenet_dense PRIVATE typenet::typenet typenet_dev_flags benchmark::benchmark
                                                    Threads::Threads)
else()
  message(STATUS "typenet bench: Google Benchmark not found; bench_typenet_dense is skipped")
endif()
