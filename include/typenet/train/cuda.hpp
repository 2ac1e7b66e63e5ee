// typenet/train/cuda.hpp: training steps with exec::cuda (nvcc only; include from a .cu file).
//
//   tn::exec::cuda policy;  // policy.stream, policy.device as for inference; fp32 only
//   tn::train::trainer<resnet18, tn::exec::cuda> t(p, /*max_batch=*/64, {}, policy);
//   double loss = t.forward_backward(images, labels, batch);  // t.grads(), like every trainer
//
// The program is train/elementwise.hpp's on the GPU: every layer's forward and backward pass, the joins,
// dropout and batch norm as grid-stride kernels, one thread per output element (kernels/train_ops.hpp),
// gradients gathered, never scattered (no atomics: the same gradients on every run). A convolution's and
// a dense layer's window sums are float, as exec::simd's; weight gradients and batch-norm statistics are
// double sums over the batch (batch norm's in 64 slices per channel). The memory of a step (train/plan.hpp's
// arena, the parameters, their gradients, the input) is allocated on the device when the trainer is built;
// a step uploads the parameters and the input and downloads the gradients, batch norm's running statistics
// and the logits (the loss is computed on the host, in double), so the caller's params remain the copy
// the optimiser (train/sgd.hpp) updates, as with the CPU trainers.
//
// What it is not yet: fast. The kernels are the plain, checkable form of each layer (the host test runs the
// very same element functions against exec::reference: tests/reference/train_elementwise_test.cpp); the
// inference policy's implicit-GEMM and Winograd kernels are not used for training, and parameters cross
// the PCIe bus twice a step. docs/training.md says what was measured where.
#pragma once
#if !defined(__CUDACC__)
#error "<typenet/train/cuda.hpp> is for .cu files compiled by nvcc"
#endif
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "../exec/cuda.hpp"
#include "../kernels/cuda/check.hpp"
#include "elementwise.hpp"

namespace typenet::train {

namespace detail {

template <class F>
__global__ void elementwise_kernel(F f, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x)
    f(i);
}

template <class T>
struct device_delete {
  void operator()(T* p) const noexcept { cudaFree(p); }
};

/// Runs train/elementwise.hpp's loops as CUDA kernels on the policy's stream and device (made current by
/// every call, so trainers on several GPUs can share a thread). Acc: the type of the window sums (float;
/// the gpu tests also run double, which repeats the reference's arithmetic).
template <class Acc = float>
class cuda_executor {
 public:
  static constexpr const char* name = "cuda";
  static constexpr int reduction_parts = 64;
  using accumulator = Acc;
  template <class T>
  using buffer = std::unique_ptr<T, device_delete<T>>;

  /// Throws std::invalid_argument for a math other than fp32 (training has no reduced-precision kernels),
  /// typenet::cuda_error without a usable device.
  explicit cuda_executor(const exec::cuda& policy) : stream_(policy.stream) {
    if (policy.math != exec::cuda_math::fp32)
      throw std::invalid_argument("typenet: training with exec::cuda computes in fp32; policy.math is " +
                                  std::string(exec::cuda_math_name(policy.math)));
    int sms = 0;
    exec::cuda_detail::open_device(policy, device_, sms);
    max_blocks_ = std::int64_t{sms} * 32;
  }

  template <class T>
  buffer<T> allocate(std::int64_t n) const {
    const std::size_t bytes = sizeof(T) * static_cast<std::size_t>(std::max<std::int64_t>(n, 1));
    T* p = nullptr;
    TYPENET_CUDA_CHECK(cudaSetDevice(device_));
    TYPENET_CUDA_CHECK(cudaMalloc(&p, bytes));
    buffer<T> owned(p);
    TYPENET_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream_));  // ordered before the steps on the stream
    return owned;
  }
  template <class F>
  void for_each(std::int64_t n, const F& f) const {
    if (n <= 0) return;
    TYPENET_CUDA_CHECK(cudaSetDevice(device_));
    const auto blocks = static_cast<unsigned>(std::min<std::int64_t>((n + threads - 1) / threads, max_blocks_));
    elementwise_kernel<<<blocks, threads, 0, stream_>>>(f, n);
    TYPENET_CUDA_CHECK_LAUNCH("elementwise_kernel");
  }
  /// Host to device, queued on the stream. From pageable memory (the trainer's callers' vectors) the call
  /// returns once `host` may be reused; from pinned memory the copy may still be running, which is safe
  /// here because every step ends by waiting for the stream (to_host).
  void to_device(float* device, const float* host, std::int64_t n) const {
    TYPENET_CUDA_CHECK(cudaSetDevice(device_));
    TYPENET_CUDA_CHECK(
        cudaMemcpyAsync(device, host, sizeof(float) * static_cast<std::size_t>(n), cudaMemcpyHostToDevice, stream_));
  }
  /// Device to host, queued after everything before it; `host` holds the values after wait().
  void to_host_later(float* host, const float* device, std::int64_t n) const {
    TYPENET_CUDA_CHECK(cudaSetDevice(device_));
    TYPENET_CUDA_CHECK(
        cudaMemcpyAsync(host, device, sizeof(float) * static_cast<std::size_t>(n), cudaMemcpyDeviceToHost, stream_));
  }
  void wait() const { TYPENET_CUDA_CHECK(cudaStreamSynchronize(stream_)); }
  /// Device to host, after everything queued before it.
  void to_host(float* host, const float* device, std::int64_t n) const {
    to_host_later(host, device, n);
    wait();
  }

 private:
  static constexpr int threads = 256;
  cudaStream_t stream_;
  int device_ = 0;
  std::int64_t max_blocks_ = 1;
};

}  // namespace detail

/// exec::cuda's training program: see the file comment.
template <Network Net>
class trainer<Net, exec::cuda> : public detail::elementwise_program<Net, detail::cuda_executor<>> {
 public:
  trainer(params<Net>& p, int max_batch, options o = {}, const exec::cuda& policy = {})
      : detail::elementwise_program<Net, detail::cuda_executor<>>(p, max_batch, o, detail::cuda_executor<>(policy)) {}
};

}  // namespace typenet::train
