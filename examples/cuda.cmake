# typenet-cuda-alexnet: the seed AlexNet with exec::cuda, as docs/cuda.md shows it; built only with
# TYPENET_ENABLE_CUDA. CTest runs it (labels gpu, examples): without a GPU it exits 77 and is skipped.
if(NOT TYPENET_ENABLE_CUDA)
  return()
endif()
add_executable(typenet-cuda-alexnet ${CMAKE_CURRENT_LIST_DIR}/cuda_alexnet.cu)
target_link_libraries(typenet-cuda-alexnet PRIVATE typenet::typenet)
target_compile_options(typenet-cuda-alexnet PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20 -Xcompiler=-Wall,-Wextra>)
add_test(NAME example_cuda_alexnet COMMAND typenet-cuda-alexnet --batch 16)
set_tests_properties(example_cuda_alexnet PROPERTIES LABELS "gpu;examples" SKIP_RETURN_CODE 77
  PASS_REGULAR_EXPRESSION "top-5 classes of image 0:.*forward pass \\(device in and out\\): [0-9.]+ ms per batch of 16")
