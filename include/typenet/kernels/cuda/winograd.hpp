// typenet/kernels/cuda/winograd.hpp: stride-1 R x R convolutions (one group) as Winograd F(M x M, R x R),
// in three kernels (nvcc only):
//   1. winograd_input:  every alpha x alpha input tile (alpha = M + R - 1) of every channel is transformed,
//                       V = B^T d B, and scattered to [image][position][channel][tile];
//   2. the GEMM of gemm.hpp, as a grouped 1x1 convolution: one group per transform position, channels in,
//                       filters out, the tiles as the pixels: M[pos][f][tile] = sum_c U[pos][f][c] V[pos][c][tile]
//                       (U = G g G^T, transformed on the host when the weights are packed);
//   3. winograd_output: Y = A^T M A per tile, plus bias (and a residual), then ReLU / ReLU6, written to NCHW
//                       (edge tiles clipped).
// A multiply count of alpha^2 / M^2 per output and channel instead of R^2: F(4,3) does 36 where direct
// does 144, F(4,5) 64 where direct does 400. The price is the round trip of V and M through memory.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "../winograd_transforms.hpp"
#include "gemm.hpp"

namespace typenet::kernels::cuda {

/// A stride-1, one-group R x R convolution C x H x W -> F x OH x OW with padding PH, PW, as Winograd
/// F(M, R) (M = Tile, or the tile with the fewest transformed values for Tile = 0; tiling and layouts in
/// winograd_transforms.hpp), and the GEMM geometry of its middle step.
template <int C, int H, int W, int F, int R, int PH, int PW, int OH, int OW, int Tile = 0>
struct winograd_geometry : winograd::tiling<C, H, W, F, R, PH, PW, OH, OW, Tile> {
  using base = winograd::tiling<C, H, W, F, R, PH, PW, OH, OW, Tile>;
  // V [image][position][channel][tile] in, M [image][position][filter][tile] out: a grouped 1x1 convolution.
  using gemm = conv_geometry<base::positions * C, 1, base::tiles, base::positions * F, 1, 1, 1, 1, 0, 0,
                             base::positions, 1, base::tiles>;
};

/// One thread per (image, channel, tile): V = B^T d B. Grid-stride over batch * C * tiles.
template <class WG>
__global__ void winograd_input(const float* __restrict__ x, float* __restrict__ v, int batch) {
  const std::int64_t total = std::int64_t{batch} * WG::c * WG::tiles;
  for (std::int64_t o = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; o < total;
       o += std::int64_t{gridDim.x} * blockDim.x)
    winograd::input_transform_at<WG>(o, x, v);
}

/// One thread per (image, filter, tile): Y = act(A^T M A + bias (+ res)), into the NCHW output.
template <class WG, int Act>
__global__ void winograd_output(const float* __restrict__ mm, const float* __restrict__ bias, float* __restrict__ y,
                                int batch, const float* __restrict__ res) {
  const std::int64_t total = std::int64_t{batch} * WG::f * WG::tiles;
  for (std::int64_t o = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; o < total;
       o += std::int64_t{gridDim.x} * blockDim.x)
    winograd::output_transform_at<WG, Act>(o, mm, bias, y, res);
}

/// Floats the packed Winograd weights take: the GEMM's packed U, a zero bias for the GEMM, the real bias.
template <class WG>
constexpr std::int64_t winograd_packed_floats() {
  return gemm_tiles<typename WG::gemm>::packed_weights + WG::positions * WG::f + WG::f;
}

/// Transforms PyTorch weights [F][C][R][R] to U[position][F][C], packs U for the GEMM and appends the
/// GEMM's zero bias and the layer's bias. `out` holds winograd_packed_floats<WG>() floats.
template <class WG>
inline void pack_winograd_weights(const float* w, const float* bias, float* out) {
  std::vector<float> u(static_cast<std::size_t>(WG::positions) * WG::f * WG::c);
  winograd::transform_weights<WG>(w, u.data());
  pack_gemm_weights<typename WG::gemm>(u.data(), out);
  float* gemm_bias = out + gemm_tiles<typename WG::gemm>::packed_weights;
  for (int i = 0; i < WG::positions * WG::f; ++i) gemm_bias[i] = 0.f;
  for (int i = 0; i < WG::f; ++i) gemm_bias[WG::positions * WG::f + i] = bias[i];
}

}  // namespace typenet::kernels::cuda
