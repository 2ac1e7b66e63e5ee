# typenet-zoo: list, summary, run, bench, demo and classify over the networks typenet ships (DESIGN.md §5).
find_package(nlohmann_json 3 REQUIRED)
add_executable(typenet-zoo ${CMAKE_CURRENT_LIST_DIR}/zoo.cpp ${CMAKE_CURRENT_LIST_DIR}/zoo_train.cpp)
target_link_libraries(typenet-zoo PRIVATE typenet::typenet typenet_dev_flags nlohmann_json::nlohmann_json)
option(TYPENET_ZOO_SIMD "typenet-zoo: offer --policy simd when <typenet/exec/simd.hpp> exists" ON)
if(NOT TYPENET_ZOO_SIMD)
  target_compile_definitions(typenet-zoo PRIVATE TYPENET_ZOO_NO_SIMD)
endif()
if(TARGET typenet::image)
  target_link_libraries(typenet-zoo PRIVATE typenet::image)  # classify: JPEG and PNG photos
else()
  target_compile_definitions(typenet-zoo PRIVATE TYPENET_ZOO_NO_IMAGE)
endif()
find_package(Threads)
if(Threads_FOUND)
  target_link_libraries(typenet-zoo PRIVATE Threads::Threads)  # the simd policy's thread pool
endif()

# Smoke tests of the interface (label "examples"); failure cases through a checking script that demands
# exit status 1, the expected message on stderr and no output file (tests/reference/zoo_errors.py,
# standard-library Python only).
add_test(NAME zoo.list COMMAND typenet-zoo list)
set_tests_properties(zoo.list PROPERTIES LABELS examples
  PASS_REGULAR_EXPRESSION "seed_alexnet.*torchvision_alexnet.*caffe_alexnet.*lenet5")
add_test(NAME zoo.summary COMMAND typenet-zoo summary seed_alexnet)
set_tests_properties(zoo.summary PROPERTIES LABELS examples PASS_REGULAR_EXPRESSION "total: 62,378,344 parameters")
add_test(NAME zoo.demo_lenet5 COMMAND typenet-zoo demo lenet5)
set_tests_properties(zoo.demo_lenet5 PROPERTIES LABELS examples
  PASS_REGULAR_EXPRESSION "top-5 classes.*class +[0-9]+  p = 0\\.[0-9]+.*forward pass: [0-9.]+ ms")
add_test(NAME zoo.bench_lenet5 COMMAND typenet-zoo bench lenet5 --batch 4 --iters 3)
set_tests_properties(zoo.bench_lenet5 PROPERTIES LABELS examples
  PASS_REGULAR_EXPRESSION "lenet5 batch=4 threads=1 ms_per_batch_median=[0-9.]+ images_per_s=[0-9.]+\n$")
if(TYPENET_ZOO_SIMD)
  # bench --ops: one line per fused op (SqueezeNet 1.1: 38, the first the stem convolution with its ReLU,
  # the last the average pool), then their sum.
  add_test(NAME zoo.bench_ops COMMAND typenet-zoo bench squeezenet1_1 --policy simd --iters 2 --ops)
  set_tests_properties(zoo.bench_ops PROPERTIES LABELS examples
    PASS_REGULAR_EXPRESSION "\n0 +[0-9.]+ +[0-9.]+  features\\.0 \\(conv2d 64, kernel 3x3, stride 2, floor\\) \\+relu\n.*\n37 +[0-9.]+ +[0-9.]+  classifier\\.3 \\(adaptive_avg_pool 1x1\\)\nsum of the ops' medians: [0-9.]+ ms\n")
endif()
set(TYPENET_PYTHON "/usr/bin/python3" CACHE FILEPATH "Python for typenet's scripted tests (torch needed only for parity)")
add_test(NAME zoo.errors
  COMMAND ${TYPENET_PYTHON} ${PROJECT_SOURCE_DIR}/tests/reference/zoo_errors.py $<TARGET_FILE:typenet-zoo>
          ${CMAKE_CURRENT_BINARY_DIR}/zoo_errors --simd $<BOOL:${TYPENET_ZOO_SIMD}> --sanitized $<BOOL:${TYPENET_SANITIZE}>)
set_tests_properties(zoo.errors PROPERTIES LABELS examples)
# classify against torchvision: the same photos, weights and preprocessing, the same top-5 classes and
# probabilities (tests/reference/classify_check.py; skipped, 77, without torch or the policy).
if(TARGET typenet::image)
  foreach(policy reference simd)
    set(_threads 1)
    if(policy STREQUAL "simd")
      set(_threads 2)
    endif()
    add_test(NAME zoo.classify.${policy}
      COMMAND ${TYPENET_PYTHON} ${PROJECT_SOURCE_DIR}/tests/reference/classify_check.py $<TARGET_FILE:typenet-zoo>
              ${CMAKE_CURRENT_BINARY_DIR}/classify_check/${policy} --policy ${policy} --threads ${_threads})
    set_tests_properties(zoo.classify.${policy} PROPERTIES LABELS parity SKIP_RETURN_CODE 77 TIMEOUT 600)
  endforeach()
endif()
# The ImageNet class names compiled into typenet-zoo are torchvision's (tools/make_class_names.py --check).
add_test(NAME zoo.imagenet_classes
  COMMAND ${TYPENET_PYTHON} ${PROJECT_SOURCE_DIR}/tools/make_class_names.py --check
          ${PROJECT_SOURCE_DIR}/examples/imagenet_classes.inc)
set_tests_properties(zoo.imagenet_classes PROPERTIES LABELS examples SKIP_RETURN_CODE 77)
