# cmake/TypenetPackageTest.cmake: a package test, run by CTest as
#   cmake -DMODE=find_package|add_subdirectory -DSOURCE_DIR=<typenet> -DWORK=<scratch> -DGENERATOR=<gen>
#         -DCXX=<compiler> -P TypenetPackageTest.cmake
# find_package: configures typenet alone (tests, examples, benchmarks off), installs it into
#   <WORK>/prefix with `cmake --install`, then builds tests/package/find_package with CMAKE_PREFIX_PATH.
# add_subdirectory: builds tests/package/add_subdirectory, which adds the typenet source tree.
# Either way the consumer program must run and print the seed AlexNet's table with its totals.
cmake_minimum_required(VERSION 3.25)

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK}")
set(gen -G "${GENERATOR}" -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release)

if(MODE STREQUAL "find_package")
  run_step("configuring typenet for install"
           ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK}/typenet-build" ${gen} -DTYPENET_BUILD_TESTS=OFF
           -DTYPENET_BUILD_EXAMPLES=OFF -DTYPENET_BUILD_BENCHMARKS=OFF -DTYPENET_INSTALL=ON)
  run_step("cmake --install" ${CMAKE_COMMAND} --install "${WORK}/typenet-build" --prefix "${WORK}/prefix")
  foreach(f include/typenet/typenet.hpp include/typenet/zoo/networks.hpp)
    if(NOT EXISTS "${WORK}/prefix/${f}")
      message(FATAL_ERROR "the install did not place ${f}")
    endif()
  endforeach()
  file(GLOB_RECURSE config_files "${WORK}/prefix/*typenet-config*.cmake")
  list(LENGTH config_files n_config)
  if(n_config LESS 2)
    message(FATAL_ERROR "the install lacks typenet-config.cmake or typenet-config-version.cmake: ${config_files}")
  endif()
  run_step("configuring the find_package consumer"
           ${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/package/find_package" -B "${WORK}/consumer" ${gen}
           "-DCMAKE_PREFIX_PATH=${WORK}/prefix")
  # The consumer must use the installed headers, not the source tree.
  file(READ "${WORK}/consumer/CMakeCache.txt" cache)
  if(NOT cache MATCHES "typenet_DIR:PATH=${WORK}/prefix")
    message(FATAL_ERROR "the consumer found typenet elsewhere than ${WORK}/prefix")
  endif()
elseif(MODE STREQUAL "add_subdirectory")
  run_step("configuring the add_subdirectory consumer"
           ${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/package/add_subdirectory" -B "${WORK}/consumer" ${gen}
           "-DTYPENET_SOURCE_DIR=${SOURCE_DIR}")
else()
  message(FATAL_ERROR "MODE must be find_package or add_subdirectory, not '${MODE}'")
endif()

run_step("building the consumer" ${CMAKE_COMMAND} --build "${WORK}/consumer" -j 2)
find_program(consumer NAMES consumer PATHS "${WORK}/consumer" "${WORK}/consumer/bin" NO_DEFAULT_PATH)
if(NOT consumer)
  message(FATAL_ERROR "the consumer program was not built")
endif()
run_step("running the consumer" "${consumer}")
foreach(expected "typenet 0.1.0" "0  conv2d 96, kernel 11x11, stride 4" "96 x 55 x 55"
                 "total: 62,378,344 parameters" "1,135,256,096 multiply-adds")
  string(FIND "${step_output}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the consumer's output lacks '${expected}':\n${step_output}")
  endif()
endforeach()
message(STATUS "${MODE} consumer OK:\n${step_output}")

find_program(image_consumer NAMES image_consumer PATHS "${WORK}/consumer" "${WORK}/consumer/bin" NO_DEFAULT_PATH)
if(NOT image_consumer)
  message(FATAL_ERROR "the image consumer program was not built")
endif()
run_step("running the image consumer" "${image_consumer}")
if(NOT step_output MATCHES "typenet::image OK")
  message(FATAL_ERROR "the image consumer's output lacks 'typenet::image OK':\n${step_output}")
endif()
