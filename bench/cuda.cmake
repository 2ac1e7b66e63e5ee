# bench/cuda.cmake: cuda_bench (exec::cuda on the seed AlexNet, per stage and whole network), built only
# with TYPENET_ENABLE_CUDA and TYPENET_CUDA_GPU_PROGRAMS. Plain CUDA-event timing, no Google Benchmark, so
# the binary runs on a GPU machine that has none. bench/gpu_check.sh runs it together with the gpu tests and the PyTorch comparison.
if(NOT TYPENET_ENABLE_CUDA OR NOT TYPENET_CUDA_GPU_PROGRAMS)
  return()
endif()
add_executable(cuda_bench ${CMAKE_CURRENT_LIST_DIR}/cuda_bench.cu)
target_link_libraries(cuda_bench PRIVATE typenet::typenet)
target_compile_options(cuda_bench PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20 -Xcompiler=-Wall,-Wextra>)

# cuda_graph_bench: exec::cuda on the zoo's networks with blocks, weights and images from files, CUDA graphs
# on and off; bench/torch_cuda_graph_compare.py runs it against PyTorch + cuDNN on the same weights.
add_executable(cuda_graph_bench ${CMAKE_CURRENT_LIST_DIR}/cuda_graph_bench.cu)
target_link_libraries(cuda_graph_bench PRIVATE typenet::typenet)
target_compile_options(cuda_graph_bench PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20 -Xcompiler=-Wall,-Wextra>)
