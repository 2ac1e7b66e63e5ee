# typenet's own benchmarks of exec::simd (Google Benchmark):
#   bench_typenet_stages   one benchmark per fused stage of the seed AlexNet (GFLOP/s; GB/s for dense at batch 1)
#   bench_typenet_network  the whole seed AlexNet at batch 1 and 64, 1 and 2 threads
#   bench_compare_onednn   typenet and oneDNN side by side (only when typenet_onednn_peer is built)
# See docs/performance.md.
include(${CMAKE_CURRENT_LIST_DIR}/peers.cmake)  # defines typenet_onednn_peer when oneDNN is found (guarded)
find_package(benchmark QUIET)
if(NOT benchmark_FOUND)
  message(STATUS "typenet bench: Google Benchmark not found; bench_typenet_* are skipped")
  return()
endif()
find_package(Threads REQUIRED)
if(NOT TARGET xtl)  # Debian's xsimd export names an xtl target that nothing defines (see tests/io)
  add_library(xtl INTERFACE IMPORTED GLOBAL)
endif()

add_executable(bench_typenet_stages ${CMAKE_CURRENT_LIST_DIR}/bench_stages.cpp)
target_link_libraries(bench_typenet_stages PRIVATE typenet::typenet typenet_dev_flags benchmark::benchmark Threads::Threads)

if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/bench_network.cpp)
  add_executable(bench_typenet_network ${CMAKE_CURRENT_LIST_DIR}/bench_network.cpp)
  target_link_libraries(bench_typenet_network PRIVATE typenet::typenet typenet_dev_flags benchmark::benchmark Threads::Threads)
endif()

if(TARGET typenet_onednn_peer AND EXISTS ${CMAKE_CURRENT_LIST_DIR}/compare_onednn.cpp)
  add_executable(bench_compare_onednn ${CMAKE_CURRENT_LIST_DIR}/compare_onednn.cpp)
  target_link_libraries(bench_compare_onednn PRIVATE typenet::typenet typenet_dev_flags typenet_onednn_peer Threads::Threads)
endif()
