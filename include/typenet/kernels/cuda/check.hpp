// typenet/kernels/cuda/check.hpp: CUDA errors as typenet exceptions (nvcc only).
//
// Every runtime call goes through TYPENET_CUDA_CHECK(call), every launch is followed by
// TYPENET_CUDA_CHECK_LAUNCH(); a failure throws typenet::cuda_error naming the call, the file and line
// and CUDA's own error string.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace typenet {

/// A failed CUDA runtime call or kernel launch (or no usable GPU). what() names the call, where it
/// was made and CUDA's description of the error.
class cuda_error : public std::runtime_error {
 public:
  cuda_error(cudaError_t code, const std::string& message) : std::runtime_error(message), code_(code) {}
  cudaError_t code() const noexcept { return code_; }

 private:
  cudaError_t code_;
};

namespace kernels::cuda {

inline std::string cuda_error_text(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
}

inline void check(cudaError_t e, const char* call, const char* file, int line) {
  if (e == cudaSuccess) return;
  (void)cudaGetLastError();  // clear a sticky-free error so later calls start clean
  throw cuda_error(e, "typenet: exec::cuda: " + std::string(call) + " failed at " + file + ":" + std::to_string(line) +
                          " (" + cuda_error_text(e) + ")");
}

}  // namespace kernels::cuda
}  // namespace typenet

#define TYPENET_CUDA_CHECK(call) ::typenet::kernels::cuda::check((call), #call, __FILE__, __LINE__)
#define TYPENET_CUDA_CHECK_LAUNCH(kernel_name) \
  ::typenet::kernels::cuda::check(cudaGetLastError(), "launch of " kernel_name, __FILE__, __LINE__)
