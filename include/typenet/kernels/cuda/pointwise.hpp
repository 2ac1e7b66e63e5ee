// typenet/kernels/cuda/pointwise.hpp: the kernels after a convolution's GEMM and the stand-alone layers
// (nvcc only): LRN and max/avg pooling fused into one pass, adaptive average pooling, ReLU, softmax.
// Shapes and window parameters are template arguments, so every loop bound is a constant.
#pragma once
#include <cuda_runtime.h>

#include <cfloat>
#include <cstdint>

namespace typenet::kernels::cuda {

/// No LRN in a fused stage.
struct no_lrn {
  static constexpr int size = 0;
};
/// LRN parameters as constants (PyTorch's rule: b_c = a_c / (k + alpha/size * sum a^2)^beta).
template <int Size, class Alpha, class Beta, class K>
struct lrn_params {
  static constexpr int size = Size;
  static constexpr float alpha_over_size = float(double(Alpha::num) / double(Alpha::den) / Size);
  static constexpr float beta = float(double(Beta::num) / double(Beta::den));
  static constexpr float k = float(double(K::num) / double(K::den));
  static constexpr bool beta_is_3_4 = Beta::num * 4 == Beta::den * 3;
};

/// No pooling in a fused stage: a 1x1 window of stride 1.
struct no_pool {
  static constexpr bool present = false, is_max = true;
  static constexpr int kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
};
template <bool IsMax, int KH, int KW, int SH, int SW, int PH, int PW>
struct pool_params {
  static constexpr bool present = true, is_max = IsMax;
  static constexpr int kh = KH, kw = KW, sh = SH, sw = SW, ph = PH, pw = PW;
};

/// The LRN of input value (c, h, w) of one image (channel window clipped to the channels).
template <int C, int H, int W, class Lrn>
__device__ __forceinline__ float lrn_at(const float* __restrict__ img, int c, int h, int w) {
  const float a = __ldg(img + (c * H + h) * W + w);
  if constexpr (Lrn::size == 0) {
    return a;
  } else {
    float sum = 0.f;
#pragma unroll
    for (int d = -(Lrn::size / 2); d <= (Lrn::size - 1) / 2; ++d) {
      const int cc = c + d;
      if (cc >= 0 && cc < C) {
        const float v = __ldg(img + (cc * H + h) * W + w);
        sum = fmaf(v, v, sum);
      }
    }
    const float base = Lrn::k + Lrn::alpha_over_size * sum;
    float scale;
    if constexpr (Lrn::beta_is_3_4)
      scale = rsqrtf(base * sqrtf(base));  // base^-3/4
    else
      scale = exp2f(-Lrn::beta * log2f(base));
    return a * scale;
  }
}

/// LRN and/or pooling over a C x H x W batch: one thread per output value (n, c, oh, ow).
template <int C, int H, int W, int OH, int OW, class Lrn, class Pool>
__global__ void lrn_pool_kernel(const float* __restrict__ x, float* __restrict__ y, int batch) {
  const std::int64_t total = std::int64_t{batch} * C * OH * OW;
  for (std::int64_t o = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; o < total;
       o += std::int64_t{gridDim.x} * blockDim.x) {
    const int ow = static_cast<int>(o % OW);
    const int oh = static_cast<int>((o / OW) % OH);
    const int c = static_cast<int>((o / (OW * OH)) % C);
    const std::int64_t n = o / (std::int64_t{OW} * OH * C);
    const float* img = x + n * (std::int64_t{C} * H * W);
    int h0 = oh * Pool::sh - Pool::ph, w0 = ow * Pool::sw - Pool::pw;
    int h1 = min(h0 + Pool::kh, H + Pool::ph), w1 = min(w0 + Pool::kw, W + Pool::pw);
    const int window = (h1 - h0) * (w1 - w0);  // average pooling counts padding (count_include_pad)
    h0 = max(h0, 0);
    w0 = max(w0, 0);
    h1 = min(h1, H);
    w1 = min(w1, W);
    float r = Pool::is_max ? __int_as_float(0xff800000) : 0.f;  // -inf
    bool nan = false;
    for (int h = h0; h < h1; ++h)
      for (int w = w0; w < w1; ++w) {
        const float v = lrn_at<C, H, W, Lrn>(img, c, h, w);
        if constexpr (Pool::is_max) {
          nan |= v != v;
          r = fmaxf(r, v);
        } else {
          r += v;
        }
      }
    if constexpr (Pool::is_max) {
      if (nan) r = __int_as_float(0x7fc00000);  // NaN propagates, as in PyTorch
      if (h0 >= h1 || w0 >= w1) r = 0.f;
    } else {
      r /= static_cast<float>(window);
    }
    y[o] = r;
  }
}

/// PyTorch's adaptive average pooling: window [floor(i*H/OH), ceil((i+1)*H/OH)).
template <int C, int H, int W, int OH, int OW>
__global__ void adaptive_avg_pool_kernel(const float* __restrict__ x, float* __restrict__ y, int batch) {
  const std::int64_t total = std::int64_t{batch} * C * OH * OW;
  for (std::int64_t o = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; o < total;
       o += std::int64_t{gridDim.x} * blockDim.x) {
    const int ow = static_cast<int>(o % OW);
    const int oh = static_cast<int>((o / OW) % OH);
    const std::int64_t plane = o / (std::int64_t{OW} * OH);  // n * C + c
    const float* src = x + plane * (std::int64_t{H} * W);
    const int h0 = oh * H / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
    const int w0 = ow * W / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
    float s = 0.f;
    for (int h = h0; h < h1; ++h)
      for (int w = w0; w < w1; ++w) s += __ldg(src + h * W + w);
    y[o] = s / static_cast<float>((h1 - h0) * (w1 - w0));
  }
}

/// y[c][r] = x[r][c] for a rows x cols matrix, through 32 x 32 shared-memory tiles (the padding column
/// keeps the transposed reads off a single bank). block: 32 x 8 threads; grid: (cols/32, rows/32) rounded up.
template <class = void>
__global__ void transpose_kernel(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
  __shared__ float tile[32][33];
  const int c0 = blockIdx.x * 32, r0 = blockIdx.y * 32;
  for (int i = threadIdx.y; i < 32; i += 8) {
    const int r = r0 + i, c = c0 + threadIdx.x;
    if (r < rows && c < cols) tile[i][threadIdx.x] = x[std::int64_t{r} * cols + c];
  }
  __syncthreads();
  for (int i = threadIdx.y; i < 32; i += 8) {
    const int c = c0 + i, r = r0 + threadIdx.x;
    if (r < rows && c < cols) y[std::int64_t{c} * rows + r] = tile[threadIdx.x][i];
  }
}

/// max(x, 0) element-wise (NaN stays NaN).
template <class = void>
__global__ void relu_kernel(const float* __restrict__ x, float* __restrict__ y, std::int64_t count) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < count;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const float v = x[i];
    y[i] = v > 0.f || v != v ? v : 0.f;
  }
}

/// Softmax over rows of N values: one block of 256 threads per row, max-subtracted.
template <int N>
__global__ void __launch_bounds__(256) softmax_kernel(const float* __restrict__ x, float* __restrict__ y) {
  __shared__ float red[32];
  const float* row = x + std::int64_t{blockIdx.x} * N;
  float* out = y + std::int64_t{blockIdx.x} * N;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  auto block_reduce = [&](float v, bool is_max) {
    for (int o = 16; o > 0; o /= 2) {
      const float u = __shfl_xor_sync(0xffffffffu, v, o);
      v = is_max ? fmaxf(v, u) : v + u;
    }
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < static_cast<int>(blockDim.x / 32) ? red[lane] : (is_max ? -FLT_MAX : 0.f);
    for (int o = 16; o > 0; o /= 2) {
      const float u = __shfl_xor_sync(0xffffffffu, v, o);
      v = is_max ? fmaxf(v, u) : v + u;
    }
    __syncthreads();
    return v;
  };
  float mx = -FLT_MAX;
  for (int i = threadIdx.x; i < N; i += blockDim.x) mx = fmaxf(mx, row[i]);
  mx = block_reduce(mx, true);
  float sum = 0.f;
  for (int i = threadIdx.x; i < N; i += blockDim.x) {
    const float e = expf(row[i] - mx);
    out[i] = e;
    sum += e;
  }
  sum = block_reduce(sum, false);
  const float inv = 1.f / sum;
  for (int i = threadIdx.x; i < N; i += blockDim.x) out[i] *= inv;
}

}  // namespace typenet::kernels::cuda
