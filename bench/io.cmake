# bench_typenet_io: the safetensors header parser on headers of 10k, 100k and 1M entries (loading a valid
# file, rejecting one after its whole header). See docs/io.md ("Limits and cost").
if(NOT TARGET benchmark::benchmark)
  find_package(benchmark QUIET)
endif()
find_package(nlohmann_json 3 QUIET)
if(TARGET benchmark::benchmark AND TARGET nlohmann_json::nlohmann_json)
  add_executable(bench_typenet_io ${CMAKE_CURRENT_LIST_DIR}/bench_io.cpp)
  target_link_libraries(bench_typenet_io PRIVATE typenet::typenet typenet_dev_flags benchmark::benchmark
                                                 nlohmann_json::nlohmann_json)
else()
  message(STATUS "typenet bench: Google Benchmark or nlohmann-json not found; bench_typenet_io is skipped")
endif()
