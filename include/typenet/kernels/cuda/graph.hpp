// typenet/kernels/cuda/graph.hpp: the kernels of exec::cuda's graph program besides the GEMM (nvcc only):
// depthwise convolution (with its folded batch norm, a residual and ReLU / ReLU6 in the epilogue), a batch
// norm no convolution absorbed, a residual join no convolution absorbed, ReLU / ReLU6 on their own and
// concat along channels. One thread per output element, grid-stride over the batch; each element is
// nchw_ops.hpp's function of the same name, which the host tests run against exec::reference.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "../nchw_ops.hpp"

namespace typenet::kernels::cuda {

#define TYPENET_CUDA_FOR_EACH_OUTPUT(o, total)                                            \
  for (std::int64_t o = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; o < (total); \
       o += std::int64_t{gridDim.x} * blockDim.x)

template <class G, int Act>
__global__ void depthwise_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                 const float* __restrict__ bias, float* __restrict__ y, const float* __restrict__ res,
                                 std::int64_t total) {
  TYPENET_CUDA_FOR_EACH_OUTPUT(o, total) nchw::depthwise_at<G, Act>(o, x, w, bias, y, res);
}

template <int Channels, int Pixels, int Act>
__global__ void affine_kernel(const float* __restrict__ x, const float* __restrict__ scale,
                              const float* __restrict__ shift, float* __restrict__ y, std::int64_t total) {
  TYPENET_CUDA_FOR_EACH_OUTPUT(o, total) nchw::affine_at<Channels, Pixels, Act>(o, x, scale, shift, y);
}

template <int Act>
__global__ void add_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y,
                           std::int64_t total) {
  TYPENET_CUDA_FOR_EACH_OUTPUT(o, total) nchw::add_at<Act>(o, a, b, y);
}

template <int Act>
__global__ void activation_kernel(const float* __restrict__ x, float* __restrict__ y, std::int64_t total) {
  TYPENET_CUDA_FOR_EACH_OUTPUT(o, total) nchw::activation_at<Act>(o, x, y);
}

template <int Total, int Channels, int Offset, int Pixels>
__global__ void concat_slice_kernel(const float* __restrict__ x, float* __restrict__ y, std::int64_t total) {
  TYPENET_CUDA_FOR_EACH_OUTPUT(o, total) nchw::concat_slice_at<Total, Channels, Offset, Pixels>(o, x, y);
}

#undef TYPENET_CUDA_FOR_EACH_OUTPUT

}  // namespace typenet::kernels::cuda
