# The oneDNN peer: the AlexNet of DESIGN.md §1 built from oneDNN primitives, for side-by-side comparisons.
#   typenet_onednn_peer   static library; public header bench/peers/onednn_alexnet.hpp (no oneDNN include)
#   bench_onednn_alexnet  timing program; `--check` is the CTest test onednn_alexnet_check (label: peers)
# Built only when oneDNN is found; otherwise skipped with a status message. See docs/benchmarks-method.md.
#
# Other bench/*.cmake files are included in alphabetical order; one that needs typenet_onednn_peer and may come
# before this file can include it first (the guard makes the second inclusion a no-op):
#   include(${CMAKE_CURRENT_LIST_DIR}/peers.cmake)
#   if(TARGET typenet_onednn_peer) ... endif()
include_guard(GLOBAL)

# Debian's libdnnl-dev 2.6 is built with the OpenCL GPU runtime, and its CMake config calls
# find_package(OpenCL REQUIRED), a fatal error when the OpenCL development files are absent (they are not
# needed for the CPU engine). So use the config only where OpenCL is found, and otherwise locate the header
# and library directly.
set(_tn_dnnl_target "")
find_package(OpenCL QUIET)
if(OpenCL_FOUND)
  find_package(dnnl CONFIG QUIET)
  if(dnnl_FOUND)
    set(_tn_dnnl_target DNNL::dnnl)
  endif()
endif()
if(NOT _tn_dnnl_target)
  find_path(TYPENET_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
  find_library(TYPENET_DNNL_LIBRARY dnnl)
  if(TYPENET_DNNL_INCLUDE_DIR AND TYPENET_DNNL_LIBRARY)
    add_library(typenet_dnnl_imported UNKNOWN IMPORTED)
    set_target_properties(typenet_dnnl_imported PROPERTIES
      IMPORTED_LOCATION "${TYPENET_DNNL_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${TYPENET_DNNL_INCLUDE_DIR}")
    set(_tn_dnnl_target typenet_dnnl_imported)
  endif()
endif()
find_package(OpenMP QUIET COMPONENTS CXX)
if(NOT _tn_dnnl_target OR NOT OpenMP_CXX_FOUND)
  message(STATUS "typenet bench: oneDNN (dnnl) or OpenMP not found; typenet_onednn_peer and bench_onednn_alexnet are skipped")
  return()
endif()
message(STATUS "typenet bench: oneDNN peer uses ${_tn_dnnl_target}")

add_library(typenet_onednn_peer STATIC ${CMAKE_CURRENT_LIST_DIR}/peers/onednn_alexnet.cpp)
target_compile_features(typenet_onednn_peer PUBLIC cxx_std_20)
target_include_directories(typenet_onednn_peer PUBLIC ${CMAKE_CURRENT_LIST_DIR}/peers)
target_link_libraries(typenet_onednn_peer PRIVATE typenet_dev_flags PUBLIC ${_tn_dnnl_target} OpenMP::OpenMP_CXX)

# docs/benchmarks-method.md's code, compiled against the peer's header (label docs: see tests/docs).
include(${PROJECT_SOURCE_DIR}/cmake/TypenetDocBlocks.cmake)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/benchmarks-method.md)
typenet_doc_blocks(${PROJECT_SOURCE_DIR}/docs/benchmarks-method.md _tn_method_doc)
typenet_write_if_changed(${CMAKE_CURRENT_BINARY_DIR}/generated/doc_benchmarks_method.cpp
  "// Generated from docs/benchmarks-method.md by bench/peers.cmake; do not edit.\n${_tn_method_doc}")
add_library(typenet_doc_benchmarks_method OBJECT ${CMAKE_CURRENT_BINARY_DIR}/generated/doc_benchmarks_method.cpp)
target_link_libraries(typenet_doc_benchmarks_method PRIVATE typenet_dev_flags typenet_onednn_peer)

add_executable(bench_onednn_alexnet ${CMAKE_CURRENT_LIST_DIR}/peers/onednn_main.cpp)
target_link_libraries(bench_onednn_alexnet PRIVATE typenet_dev_flags typenet_onednn_peer)

# Correctness against the scalar reference in onednn_main.cpp (~2.3 GFLOP of naive loops: a few seconds).
add_test(NAME onednn_alexnet_check COMMAND bench_onednn_alexnet --check)
set_tests_properties(onednn_alexnet_check PROPERTIES LABELS peers TIMEOUT 900)

# bench_onednn_graph: the zoo's graph networks on oneDNN primitives made from typenet's fused op list, the
# oneDNN column of bench/peers/graph_peers.py (see the top of peers/onednn_graph.cpp).
add_executable(bench_onednn_graph ${CMAKE_CURRENT_LIST_DIR}/peers/onednn_graph.cpp)
target_link_libraries(bench_onednn_graph PRIVATE typenet::typenet typenet_dev_flags ${_tn_dnnl_target}
                      OpenMP::OpenMP_CXX)
# Its primitives against exec::reference on resnet18, mobilenet_v2 and squeezenet1_1 (about 12 s).
add_test(NAME onednn_graph_check COMMAND bench_onednn_graph check)
set_tests_properties(onednn_graph_check PROPERTIES LABELS peers TIMEOUT 600)
