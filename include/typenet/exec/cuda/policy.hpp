// typenet/exec/cuda/policy.hpp: exec::cuda, the GPU policy (nvcc only; include <typenet/cuda.hpp>).
//
//   tn::model<tn::zoo::seed_alexnet, tn::exec::cuda> m(p, /*max_batch=*/64);                 // fp32
//   tn::model<tn::zoo::seed_alexnet, tn::exec::cuda> t(p, 64, {.math = tn::exec::cuda_math::tf32});
//   m.forward(in, out, batch);    // host float32 NCHW in, host float32 out
//
// The program follows fusion::stages_t<Net>: a conv2d stage is one implicit-GEMM kernel with bias and
// ReLU in its epilogue (stride-1 3x3 and 5x5 convolutions: Winograd input transform, GEMM, output
// transform with bias and ReLU, unless the policy says winograd = false), followed (when the stage has
// them) by one kernel doing LRN and pooling in a single pass; a dense stage is one GEMM kernel with bias and ReLU (plus
// a softmax kernel when the stage ends in softmax). Weights are repacked and uploaded once; all activations (two
// ping-pong buffers for max_batch images, sizes from memory_plan<Net>) and the k-split workspace live in one device
// allocation made when the program is built. run() allocates nothing. Every CUDA call and launch is checked and a
// failure throws typenet::cuda_error; no usable GPU, or too little device memory, throws when the program is built.
#pragma once
#if !defined(__CUDACC__)
#error "typenet/exec/cuda.hpp needs nvcc: include <typenet/cuda.hpp> from a .cu file"
#endif
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../core/geometry.hpp"
#include "../../core/model.hpp"
#include "../../core/network.hpp"
#include "../../core/params.hpp"
#include "../../fusion/plan.hpp"
#include "../../kernels/cuda/check.hpp"
#include "../../kernels/cuda/gemm.hpp"
#include "../../kernels/cuda/pointwise.hpp"
#include "../../kernels/cuda/winograd.hpp"

namespace typenet::exec {

/// Arithmetic of the convolution and dense kernels. fp32 (the default) is plain FFMA. tf32 runs the
/// products on the tensor cores with 10-bit mantissas (inputs rounded to TF32, fp32 accumulation): fastest,
/// about 1e-3 relative error. tf32x3 also runs on the tensor cores but splits every operand into a TF32 head
/// and tail and adds three products: about 21 bits per product, 10-50x fp32's error on ResNet-sized
/// networks and 36-160x less than tf32's (measured on an H200, docs/cuda.md). fp16 and bf16 run the
/// products on the tensor cores with 16-bit operands (mma.sync m16n8k16, twice TF32's rate): fp16 rounds
/// like TF32 (10-bit mantissa) but overflows above 65504, bf16 keeps fp32's range with a 7-bit mantissa
/// (about 4x TF32's error). Every math keeps activations in fp32 between layers and accumulates in fp32.
enum class cuda_math { fp32, tf32, tf32x3, fp16, bf16 };

/// A math's name as the command lines spell it: "fp32", "tf32", "tf32x3", "fp16", "bf16".
constexpr std::string_view cuda_math_name(cuda_math m) {
  switch (m) {
    case cuda_math::tf32:
      return "tf32";
    case cuda_math::tf32x3:
      return "tf32x3";
    case cuda_math::fp16:
      return "fp16";
    case cuda_math::bf16:
      return "bf16";
    default:
      return "fp32";
  }
}
/// The math of a name (cuda_math_name's), or false when there is none.
constexpr bool parse_cuda_math(std::string_view name, cuda_math& m) {
  for (cuda_math c : {cuda_math::fp32, cuda_math::tf32, cuda_math::tf32x3, cuda_math::fp16, cuda_math::bf16})
    if (cuda_math_name(c) == name) {
      m = c;
      return true;
    }
  return false;
}
/// The accuracy typenet's GPU tests and checks hold a math to against exec::reference, as a share of the
/// largest output: 1e-2 with operands rounded to TF32 or fp16 (11-bit significands), 4e-2 with bf16 (8
/// bits); 0 for fp32 and tf32x3, which are held element-wise instead (1e-4 + 1e-3 |reference|, docs/cuda.md).
constexpr double cuda_math_relative_bound(cuda_math m) {
  return m == cuda_math::tf32 || m == cuda_math::fp16 ? 1e-2 : m == cuda_math::bf16 ? 4e-2 : 0.0;
}

/// The CUDA policy: which stream the program runs on, on which device, with which arithmetic.
struct cuda {
  cudaStream_t stream = nullptr;  ///< nullptr: the default stream
  cuda_math math = cuda_math::fp32;
  int device = -1;  ///< -1: the current device
  /// Stride-1 3x3 and 5x5 convolutions (one group) through Winograd transforms (fewer multiplies, see
  /// docs/cuda.md); false: every convolution as a direct implicit GEMM.
  bool winograd = true;
  /// Below this many GEMM columns (batch x output tiles) a Winograd-eligible convolution takes the direct
  /// GEMM: the products would fill less than two 128-column tiles per transform position, and the
  /// transforms' round trip through memory is not paid back (H100: the whole seed AlexNet at batch 1 took
  /// 0.472 ms with Winograd, 0.417 ms direct). The seed AlexNet's conv2 (49 tiles) switches at batch 6,
  /// conv3-5 (16 tiles) at 16. 0: Winograd at every batch (the parity tests use it).
  int winograd_min_columns = 256;
  /// Networks with blocks (the graph program): each batch size's forward pass is captured as a CUDA graph
  /// at its first run and replayed from then on, one launch instead of one per kernel (ResNet-50 launches
  /// about 70 kernels a pass; at batch 1 many are shorter than their launch). false: every kernel launched
  /// on its own, every run. Not used by chains, nor by a graph network with a layer on the host. Off by
  /// default until it has run on a GPU (written 2026-12-04 without one; cuda.parity_graph tests it).
  bool cuda_graphs = false;

  template <Network Net>
  class program;
};

namespace cuda_detail {

namespace kc = ::typenet::kernels::cuda;
using role = layer_kind;  // the layers' own classification (layers/layer.hpp)

struct device_free {
  void operator()(float* p) const noexcept { cudaFree(p); }
};
using device_floats = std::unique_ptr<float, device_free>;

template <class List, role R>
struct find_role {
  using type = void;
};
template <class B, class... Rest, role R>
struct find_role<type_list<B, Rest...>, R>
    : std::conditional_t<layer_kind_of<typename B::layer> == R, std::type_identity<B>,
                         find_role<type_list<Rest...>, R>> {};
template <class Stage, role R>
using find_t = typename find_role<typename Stage::layers, R>::type;
template <class Stage, role R>
inline constexpr bool has_role = !std::is_void_v<find_t<Stage, R>>;

template <class L>
struct lrn_of;
template <int S, class A, class B, class K>
struct lrn_of<lrn<S, A, B, K>> {
  using type = kc::lrn_params<S, A, B, K>;
};
template <class Bound>
struct lrn_params_of {
  using type = typename lrn_of<typename Bound::layer>::type;
};
template <>
struct lrn_params_of<void> {
  using type = kc::no_lrn;
};

template <class Bound>
struct pool_params_of {
  using L = typename Bound::layer;
  using type = kc::pool_params<L::kind == pool_kind::max, L::kernel_h, L::kernel_w, L::stride_h, L::stride_w, L::pad_h,
                               L::pad_w>;
};
template <>
struct pool_params_of<void> {
  using type = kc::no_pool;
};

/// T, named by its canonical type in nvcc's host stub. The stub spells a kernel's template arguments
/// through the alias they were written as (geometry_of<Bound>::type, an exec struct's member), and cannot
/// spell a class-type template argument inside it (the string of a named<"key"> layer, an op of the fused
/// list); spelled_t<T> makes it write spelled<canonical T>::type, built from numbers only. Every type
/// argument derived from a bound layer goes to a launcher through it.
template <class T>
struct spelled {
  using type = T;
};
template <class T>
using spelled_t = typename spelled<T>::type;

template <class Bound>
struct geometry_of;  // the GEMM view of a conv2d or dense bound layer
template <class Bound>
requires(layer_kind_of<typename Bound::layer> == role::conv) struct geometry_of<Bound> {
  static constexpr window_geometry g = window_of<Bound>;
  using type = kc::conv_geometry<g.in_c, g.in_h, g.in_w, g.out_c, g.kernel_h, g.kernel_w, g.stride_h, g.stride_w,
                                 g.pad_h, g.pad_w, g.groups, g.out_h, g.out_w>;
};
template <class Bound>
requires(layer_kind_of<typename Bound::layer> == role::dense) struct geometry_of<Bound> {
  using type = kc::dense_geometry<static_cast<int>(Bound::input::size), Bound::layer::units>;
};

template <class Stage>
inline constexpr bool is_gemm_stage = has_role<Stage, role::conv> || has_role<Stage, role::dense>;

/// A conv2d the Winograd kernels take: stride 1, one group, a square 3x3 or 5x5 kernel.
template <class Bound>
struct winograd_of {
  static constexpr bool eligible = false;
};
template <class Bound>
requires(layer_kind_of<typename Bound::layer> == role::conv) struct winograd_of<Bound> {
  using L = typename Bound::layer;
  using in = typename Bound::input;
  using out = typename Bound::output;
  static constexpr bool eligible = L::stride_h == 1 && L::stride_w == 1 && L::group_count == 1 &&
                                   L::kernel_h == L::kernel_w && (L::kernel_h == 3 || L::kernel_h == 5);
  template <int Tile>
  using geometry = kc::winograd_geometry<in::dims[0], in::dims[1], in::dims[2], L::filters, L::kernel_h, L::pad_h,
                                         L::pad_w, out::dims[1], out::dims[2], Tile>;
  using type = geometry<0>;   // the tile with the fewest transformed values
  using small = geometry<2>;  // F(2x2, R x R)
};
template <class Stage>
inline constexpr bool winograd_stage = is_gemm_stage<Stage>&& winograd_of<typename Stage::first>::eligible;

/// The Winograd output tile a stage can run with under a policy and a max_batch; 0: only the direct
/// implicit GEMM (also when even max_batch images stay below policy.winograd_min_columns, so that no
/// transformed weights or V/M workspace are held for nothing). With TF32 operands the transforms amplify
/// TF32's rounding over a direct convolution's: F(4x4, 3x3) 14x, F(2x2, 5x5) 10x, F(4x4, 5x5) 13x,
/// F(2x2, 3x3) 1.2x (host emulation, tests/unit/winograd_transforms.cpp): tf32 takes F(2x2, 3x3) for 3x3
/// kernels and the direct GEMM for 5x5, and so do fp16 and bf16, whose operands are rounded as coarsely or
/// more.
template <class Stage>
int winograd_tile(const cuda& policy, int max_batch) {
  if constexpr (winograd_stage<Stage>) {
    using W = winograd_of<typename Stage::first>;
    if (!policy.winograd) return 0;
    const bool rounded =
        policy.math == cuda_math::tf32 || policy.math == cuda_math::fp16 || policy.math == cuda_math::bf16;
    const int tile = !rounded ? W::type::m : W::type::r == 3 ? 2 : 0;
    const int tiles = tile == W::type::m ? W::type::tiles : W::small::tiles;
    if (tile == 0 || std::int64_t{max_batch} * tiles < policy.winograd_min_columns) return 0;
    return tile;
  } else {
    return 0;
  }
}

/// Calls f(std::type_identity<WG>{}) with the stage's Winograd geometry for `tile` and returns true, or
/// returns false for tile 0 (direct).
template <class Stage, class F>
bool with_winograd(int tile, F&& f) {
  if constexpr (winograd_stage<Stage>) {
    using W = winograd_of<typename Stage::first>;
    if (tile == W::type::m) {
      f(std::type_identity<typename W::type>{});
      return true;
    }
    if (tile == 2) {
      f(std::type_identity<typename W::small>{});
      return true;
    }
  }
  return false;
}

/// Floats of packed weights plus bias for a GEMM stage (Winograd: transformed weights, see
/// pack_winograd_weights), rounded up to 64 (256-byte alignment).
template <class Stage>
constexpr std::int64_t direct_packed_floats() {
  if constexpr (is_gemm_stage<Stage>) {
    using Geo = spelled_t<typename geometry_of<typename Stage::first>::type>;
    return (kc::gemm_tiles<Geo>::packed_weights + Geo::channels + 63) / 64 * 64;
  } else {
    return 0;
  }
}
/// A Winograd stage holds both packings: the direct GEMM's (small batches) first, then the transformed U.
template <class Stage>
std::int64_t packed_floats(const cuda& policy, int max_batch) {
  std::int64_t n = 0;
  with_winograd<Stage>(winograd_tile<Stage>(policy, max_batch), [&]<class WG>(std::type_identity<WG>) {
    n = (kc::winograd_packed_floats<WG>() + 63) / 64 * 64;
  });
  return direct_packed_floats<Stage>() + n;
}

/// Floats of a dense layer's transposed input ([In][batch]), rounded up to 64 (256-byte alignment).
template <class Geo>
constexpr std::int64_t transposed_floats(int batch) {
  return (std::int64_t{batch} * Geo::k + 63) / 64 * 64;
}

/// Resident-block slots of the current GPU for the GEMM kernel <Geo, Act, Math>: multiprocessors x the
/// blocks of it that fit on one (registers, shared memory), what the k split fills. `prepare` (when a
/// program is built, for every GEMM kernel it may launch) also opts the kernel into its dynamic shared
/// memory (above 48 KiB a kernel must; done per program, so a device reset between programs is fine).
/// The occupancy answer is cached per instantiation and device (ordinals below 64), so launches do not
/// ask the driver.
template <class Geo, int Act, kc::math_mode Math>
int gemm_slots(int device, int sms, bool prepare) {
  using T = kc::kernel_tiles<Geo, Math>;
  static std::array<std::atomic<int>, 64> cache{};
  std::atomic<int>* known =
      device >= 0 && device < static_cast<int>(cache.size()) ? &cache[static_cast<std::size_t>(device)] : nullptr;
  int slots = known ? known->load(std::memory_order_acquire) : 0;
  if (prepare || slots == 0)
    TYPENET_CUDA_CHECK(cudaFuncSetAttribute(kc::gemm_kernel<Geo, Act, Math>,
                                            cudaFuncAttributeMaxDynamicSharedMemorySize, T::smem_bytes));
  if (slots == 0) {
    int per_sm = 0;
    TYPENET_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kc::gemm_kernel<Geo, Act, Math>,
                                                                     T::threads, T::smem_bytes));
    slots = std::max(per_sm, 1) * sms;
    if (known) known->store(slots, std::memory_order_release);
  }
  return slots;
}
/// Workspace floats the k split of the GEMM kernel <Geo, Act, Math> needs for any batch up to max_batch.
template <class Geo, int Act, kc::math_mode Math>
std::int64_t split_floats(int max_batch, int device, int sms) {
  const int slots = gemm_slots<Geo, Act, Math>(device, sms, /*prepare=*/true);
  std::int64_t most = 0;
  for (int b = 1; b <= max_batch; ++b) {
    int tps = 0;
    const int n_total = b * Geo::pixels;
    const int splits = kc::gemm_splits<Geo, Math>(n_total, slots, tps);
    if (splits > 1)
      most = std::max(most, std::int64_t{splits} * n_total * Geo::channels);
    else if ((n_total + kc::gemm_tiles<Geo>::bn - 1) / kc::gemm_tiles<Geo>::bn >= slots)
      break;
  }
  return most;
}
/// Calls f(std::integral_constant<kc::math_mode, M>{}) with the kernels' math mode for the policy's math.
template <class F>
decltype(auto) with_math(cuda_math math, F&& f) {
  using kc::math_mode;
  switch (math) {
    case cuda_math::tf32:
      return f(std::integral_constant<math_mode, math_mode::tf32>{});
    case cuda_math::tf32x3:
      return f(std::integral_constant<math_mode, math_mode::tf32x3>{});
    case cuda_math::fp16:
      return f(std::integral_constant<math_mode, math_mode::fp16>{});
    case cuda_math::bf16:
      return f(std::integral_constant<math_mode, math_mode::bf16>{});
    default:
      return f(std::integral_constant<math_mode, math_mode::fp32>{});
  }
}

template <class Geo, int Act>
std::int64_t split_floats(cuda_math math, int max_batch, int device, int sms) {
  return with_math(math, [&](auto m) { return split_floats<Geo, Act, m()>(max_batch, device, sms); });
}

/// A dense layer's geometry with 128-image column tiles, for batches of at least dense_wide_batch.
template <class Geo>
using dense_wide = kc::dense_geometry<Geo::k, Geo::m, 128>;
inline constexpr int dense_wide_batch = 128;

/// Workspace floats of a stage for any batch up to max_batch: the k split's partial sums, and for a
/// Winograd stage also the transformed input V and the products M (V first, M after it, then the split),
/// for a dense stage the input transposed to [In][batch] (before the split).
template <class Stage, int Act = (has_role<Stage, role::relu> ? 1 : 0)>
std::int64_t workspace_floats(int max_batch, const cuda& policy, int device, int sms) {
  std::int64_t n = 0;
  with_winograd<Stage>(winograd_tile<Stage>(policy, max_batch), [&]<class WG>(std::type_identity<WG>) {
    n = std::int64_t{max_batch} * (WG::v_image + WG::m_image) +
        split_floats<typename WG::gemm, 0>(policy.math, max_batch, device, sms);
  });
  if constexpr (is_gemm_stage<Stage>) {  // the direct GEMM too: small batches of a Winograd stage take it
    using Geo = spelled_t<typename geometry_of<typename Stage::first>::type>;
    std::int64_t split = split_floats<Geo, Act>(policy.math, max_batch, device, sms);
    if constexpr (!Geo::is_conv)
      split = std::max(split, split_floats<dense_wide<Geo>, Act>(policy.math, max_batch, device, sms));
    return std::max(n, (Geo::is_conv ? 0 : transposed_floats<Geo>(max_batch)) + split);
  } else {
    return 0;
  }
}

inline int grid_for(std::int64_t total, int sms) {
  const std::int64_t blocks = (total + 255) / 256;
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(blocks, std::int64_t{sms} * 16)));
}

inline std::string mib(std::int64_t floats) { return std::to_string((floats * 4 + (1 << 20) - 1) >> 20) + " MiB"; }

/// Packs a GEMM stage's weights w (PyTorch's layout) and bias (F floats) into out (packed_floats<Stage>
/// floats): the direct GEMM's packing and bias, then, when the stage runs Winograd under this policy and
/// max_batch, the transformed weights.
template <class Stage>
void pack_stage(const float* w, const float* bias, float* out, const cuda& policy, int max_batch) {
  using Geo = spelled_t<typename geometry_of<typename Stage::first>::type>;
  kc::pack_gemm_weights<Geo>(w, out);
  std::copy(bias, bias + Geo::channels, out + kc::gemm_tiles<Geo>::packed_weights);
  with_winograd<Stage>(winograd_tile<Stage>(policy, max_batch), [&]<class WG>(std::type_identity<WG>) {
    kc::pack_winograd_weights<WG>(w, bias, out + direct_packed_floats<Stage>());
  });
}

/// One device allocation of `floats` floats; on failure a cuda_error saying how much for what, and how
/// much the device has free.
inline device_floats allocate(std::int64_t floats, const std::string& what) {
  float* ptr = nullptr;
  const cudaError_t e = cudaMalloc(&ptr, sizeof(float) * static_cast<std::size_t>(floats));
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    std::size_t free_bytes = 0, total_bytes = 0;
    (void)cudaMemGetInfo(&free_bytes, &total_bytes);
    (void)cudaGetLastError();
    throw cuda_error(e, "typenet: exec::cuda: cannot allocate " + mib(floats) + " of device memory for " + what + " (" +
                            std::to_string(free_bytes >> 20) + " MiB free of " + std::to_string(total_bytes >> 20) +
                            " MiB; cudaMalloc: " + kc::cuda_error_text(e) + ")");
  }
  return device_floats(ptr);
}

/// Host floats copied to a new device allocation.
inline device_floats upload(const std::vector<float>& host, const std::string& what) {
  device_floats d = allocate(std::max<std::int64_t>(static_cast<std::int64_t>(host.size()), 1), what);
  if (!host.empty())
    TYPENET_CUDA_CHECK(cudaMemcpy(d.get(), host.data(), sizeof(float) * host.size(), cudaMemcpyHostToDevice));
  return d;
}

/// The device the policy names (made current) and its multiprocessor count; no usable device throws.
inline void open_device(const cuda& policy, int& device, int& sms) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    throw cuda_error(e == cudaSuccess ? cudaErrorNoDevice : e,
                     "typenet: exec::cuda: no usable CUDA device (cudaGetDeviceCount: " +
                         (e == cudaSuccess ? std::string("0 devices") : kc::cuda_error_text(e)) + ")");
  }
  if (policy.device >= 0) TYPENET_CUDA_CHECK(cudaSetDevice(policy.device));
  TYPENET_CUDA_CHECK(cudaGetDevice(&device));
  TYPENET_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
}

/// What a kernel launch needs to know of the program that makes it.
struct launch_context {
  cudaStream_t stream;
  int device;
  int sms;
  cuda_math math;
};

/// The GEMM kernel <Geo, Act, Math> on batch images: y = act(W x + bias (+ res)), with the k split through
/// ws when the tiles alone would leave the GPU idle. A dense layer's input is first transposed into ws.
template <class Geo, int Act, kc::math_mode Math>
void gemm(const launch_context& l, const float* w, const float* bias, const float* x, float* y, int batch, float* ws,
          const float* res) {
  using T = kc::kernel_tiles<Geo, Math>;
  const int n_total = batch * Geo::pixels;
  if constexpr (!Geo::is_conv) {
    if (batch > 1) {  // the GEMM reads dense inputs as [In][batch]; at batch 1 that is the same layout
      const dim3 grid((Geo::k + 31) / 32, (batch + 31) / 32);
      kc::transpose_kernel<<<grid, dim3(32, 8), 0, l.stream>>>(x, ws, batch, Geo::k);
      TYPENET_CUDA_CHECK_LAUNCH("transpose_kernel");
      x = ws;
      ws += transposed_floats<Geo>(batch);
    }
  }
  int tps = 0;
  const int splits = kc::gemm_splits<Geo, Math>(n_total, gemm_slots<Geo, Act, Math>(l.device, l.sms, false), tps);
  const dim3 grid((n_total + T::bn - 1) / T::bn, T::m_tiles, Geo::groups * splits);
  kc::gemm_kernel<Geo, Act, Math><<<grid, T::threads, T::smem_bytes, l.stream>>>(w, bias, x, y, ws, n_total, tps, res);
  TYPENET_CUDA_CHECK_LAUNCH("gemm_kernel");
  if (splits > 1) {
    kc::gemm_finish<Geo, Act><<<grid_for(std::int64_t{n_total} * Geo::channels, l.sms), 256, 0, l.stream>>>(
        ws, bias, y, n_total, splits, res);
    TYPENET_CUDA_CHECK_LAUNCH("gemm_finish");
  }
}

/// gemm with the policy's math; dense layers take 128-image column tiles from dense_wide_batch images on.
template <class Geo, int Act>
void gemm_math(const launch_context& l, const float* w, const float* bias, const float* x, float* y, int batch,
               float* ws, const float* res) {
  if constexpr (!Geo::is_conv && Geo::cols != 128) {
    if (batch >= dense_wide_batch)  // same packing: only the column tile differs
      return gemm_math<dense_wide<Geo>, Act>(l, w, bias, x, y, batch, ws, res);
  }
  with_math(l.math, [&](auto m) { gemm<Geo, Act, m()>(l, w, bias, x, y, batch, ws, res); });
}

/// Winograd: input transform into V, the GEMM per transform position into M, output transform (bias,
/// residual, activation) into y. V, M and the GEMM's k-split space are carved from ws in that order; w holds
/// pack_winograd_weights' floats.
template <class WG, int Act>
void winograd_conv(const launch_context& l, const float* w, const float* x, float* y, int batch, float* ws,
                   const float* res) {
  float* v = ws;
  float* m = v + std::int64_t{batch} * WG::v_image;
  float* split = m + std::int64_t{batch} * WG::m_image;
  const float* gemm_bias = w + kc::gemm_tiles<typename WG::gemm>::packed_weights;  // zeros
  const float* bias = gemm_bias + WG::positions * WG::f;
  kc::winograd_input<WG><<<grid_for(std::int64_t{batch} * WG::c * WG::tiles, l.sms), 256, 0, l.stream>>>(x, v, batch);
  TYPENET_CUDA_CHECK_LAUNCH("winograd_input");
  gemm_math<typename WG::gemm, 0>(l, w, gemm_bias, v, m, batch, split, nullptr);
  kc::winograd_output<WG, Act>
      <<<grid_for(std::int64_t{batch} * WG::f * WG::tiles, l.sms), 256, 0, l.stream>>>(m, bias, y, batch, res);
  TYPENET_CUDA_CHECK_LAUNCH("winograd_output");
}

}  // namespace cuda_detail

template <Network Net>
class cuda::program {
  using stages = fusion::stages_t<Net>;
  static constexpr std::size_t stage_count = stages::size;
  static constexpr std::int64_t buffer_floats = memory_plan<Net>::buffer_floats_per_image;

 public:
  program(const params<Net>& p, int max_batch, const cuda& policy = {}) : policy_(policy), max_batch_(max_batch) {
    if (max_batch < 1)
      throw std::invalid_argument("typenet: exec::cuda: max_batch must be at least 1, got " +
                                  std::to_string(max_batch));
    if (std::int64_t{max_batch} * largest_pixels() > (std::int64_t{1} << 31) - 1 - 256 ||
        std::int64_t{max_batch} * buffer_floats > (std::int64_t{1} << 40))
      throw std::invalid_argument("typenet: exec::cuda: max_batch " + std::to_string(max_batch) +
                                  " is too large for this network (32-bit pixel index)");
    cuda_detail::open_device(policy, device_, sms_);

    // Activations (two ping-pong buffers) and the k-split workspace: one allocation.
    workspace_floats_ = [&]<class... S>(type_list<S...>) {
      return std::max({std::int64_t{0}, cuda_detail::workspace_floats<S>(max_batch, policy, device_, sms_)...});
    }(stages{});
    const std::int64_t act = buffer_floats * max_batch;
    const std::int64_t act_padded = (act + 63) / 64 * 64;
    activations_ = cuda_detail::allocate(2 * act_padded + workspace_floats_,
                                         "activations for max_batch " + std::to_string(max_batch));
    buffers_[0] = activations_.get();
    buffers_[1] = activations_.get() + act_padded;
    workspace_ = activations_.get() + 2 * act_padded;

    // Weights: packed for the kernels on the host, uploaded once.
    std::int64_t total = 0;
    [&]<class... S>(type_list<S...>) {
      std::size_t i = 0;
      ((offsets_[i++] = total, total += cuda_detail::packed_floats<S>(policy, max_batch)), ...);
    }(stages{});
    weights_ = cuda_detail::allocate(std::max<std::int64_t>(total, 1), "weights");
    std::vector<float> host(static_cast<std::size_t>(std::max<std::int64_t>(total, 1)));
    [&]<class... S>(type_list<S...>) {
      std::size_t i = 0;
      ((pack<S>(p, host.data() + offsets_[i++], policy, max_batch)), ...);
    }(stages{});
    TYPENET_CUDA_CHECK(cudaMemcpy(weights_.get(), host.data(), sizeof(float) * host.size(), cudaMemcpyHostToDevice));
  }

  program(const program&) = delete;
  program& operator=(const program&) = delete;
  program(program&&) noexcept = default;
  program& operator=(program&&) noexcept = default;

  /// Host in (batch x input floats, NCHW), host out (batch x output floats); waits for the result.
  void run(const float* in, float* out, int batch) {
    check_batch(batch);
    const std::size_t in_bytes = sizeof(float) * static_cast<std::size_t>(batch * Net::input_shape::size);
    const std::size_t out_bytes = sizeof(float) * static_cast<std::size_t>(batch * Net::output_shape::size);
    TYPENET_CUDA_CHECK(cudaSetDevice(device_));
    TYPENET_CUDA_CHECK(cudaMemcpyAsync(buffers_[0], in, in_bytes, cudaMemcpyHostToDevice, policy_.stream));
    const float* result = enqueue(buffers_[0], batch);
    TYPENET_CUDA_CHECK(cudaMemcpyAsync(out, result, out_bytes, cudaMemcpyDeviceToHost, policy_.stream));
    TYPENET_CUDA_CHECK(cudaStreamSynchronize(policy_.stream));
  }

  /// Device in, device out, asynchronous on the policy's stream (for callers that keep data on the GPU).
  /// d_in is only read; it may not alias the program's own buffers.
  void run_device(const float* d_in, float* d_out, int batch) {
    check_batch(batch);
    const float* result = enqueue(d_in, batch);
    TYPENET_CUDA_CHECK(cudaMemcpyAsync(d_out, result,
                                       sizeof(float) * static_cast<std::size_t>(batch * Net::output_shape::size),
                                       cudaMemcpyDeviceToDevice, policy_.stream));
  }

  /// Runs only stage S (for per-stage benchmarks): reads buffer 0, writes buffer 1 or back to 0.
  template <std::size_t S>
  void run_stage_device(int batch) {
    check_batch(batch);
    const float* cur = buffers_[0];
    launch<S>(::typenet::detail::at_t<S, stages>{}, cur, batch);
  }

  int max_batch() const noexcept { return max_batch_; }
  cudaStream_t stream() const noexcept { return policy_.stream; }
  /// Device bytes held: activations + workspace, and packed weights.
  std::int64_t device_bytes() const noexcept {
    return 4 * (2 * ((buffer_floats * max_batch_ + 63) / 64 * 64) + workspace_floats_) + 4 * weight_floats();
  }

 private:
  // The most output pixels (H x W) of one image in any layer: the GEMM's n index is batch x pixels, an int.
  template <class S>
  static constexpr std::int64_t pixels_of() {
    if constexpr (S::rank == 3)
      return std::int64_t{S::dims[1]} * S::dims[2];
    else
      return 1;
  }
  static constexpr std::int64_t largest_pixels() {
    return []<class... B>(type_list<B...>) {
      return std::max({std::int64_t{1}, pixels_of<typename B::output>()...});
    }(typename Net::layers{});
  }
  std::int64_t weight_floats() const noexcept {
    return [&]<class... S>(type_list<S...>) {
      return (std::int64_t{0} + ... + cuda_detail::packed_floats<S>(policy_, max_batch_));
    }(stages{});
  }

  void check_batch(int batch) const {
    if (batch < 1 || batch > max_batch_)
      throw std::invalid_argument("typenet: exec::cuda: batch " + std::to_string(batch) + " is outside 1.." +
                                  std::to_string(max_batch_));
  }

  template <class S>
  static void pack(const params<Net>& p, float* out, const cuda& policy, int max_batch) {
    if constexpr (cuda_detail::is_gemm_stage<S>) {
      using B = typename S::first;
      cuda_detail::pack_stage<S>(p.data() + B::weight_offset, p.data() + B::bias_offset, out, policy, max_batch);
    }
  }

  const float* enqueue(const float* d_in, int batch) {
    const float* cur = d_in;
    [&]<class... S>(type_list<S...>) {
      [&]<std::size_t... I>(std::index_sequence<I...>) { (launch<I>(S{}, cur, batch), ...); }
      (std::index_sequence_for<S...>{});
    }(stages{});
    return cur;
  }

  float* next_buffer(const float* cur) const noexcept { return cur == buffers_[0] ? buffers_[1] : buffers_[0]; }

  template <std::size_t I, class... B>
  void launch(fusion::stage<B...>, const float*& cur, int batch) {
    using S = fusion::stage<B...>;
    using namespace cuda_detail;
    namespace kc = kernels::cuda;
    using First = typename S::first;
    constexpr role r = layer_kind_of<typename First::layer>;
    cudaStream_t st = policy_.stream;
    if constexpr (r == role::conv || r == role::dense) {
      using Geo = spelled_t<typename geometry_of<First>::type>;
      constexpr int act = has_role<S, role::relu> ? 1 : 0;
      const float* w = weights_.get() + offsets_[I];
      const float* bias = w + kc::gemm_tiles<Geo>::packed_weights;
      float* dst = next_buffer(cur);
      bool done = false;
      with_winograd<S>(winograd_tile<S>(policy_, max_batch_), [&]<class WG>(std::type_identity<WG>) {
        if (batch * WG::tiles >= policy_.winograd_min_columns) {
          winograd_conv<spelled_t<WG>, act>(context(), w + direct_packed_floats<S>(), cur, dst, batch, workspace_,
                                            nullptr);
          done = true;
        }
      });
      if (!done) gemm_math<spelled_t<Geo>, act>(context(), w, bias, cur, dst, batch, workspace_, nullptr);
      cur = dst;
      if constexpr (r == role::conv && (has_role<S, role::lrn> || has_role<S, role::pool>)) {
        using Lrn = typename lrn_params_of<find_t<S, role::lrn>>::type;
        using Pool = typename pool_params_of<find_t<S, role::pool>>::type;
        post<typename First::output, typename S::output, spelled_t<Lrn>, spelled_t<Pool>>(cur, batch);
      }
      if constexpr (has_role<S, role::softmax>) softmax<S::output::size>(cur, batch);
    } else if constexpr (r == role::relu) {
      float* dst = next_buffer(cur);
      const std::int64_t count = std::int64_t{batch} * S::output::size;
      kc::relu_kernel<<<grid_for(count, sms_), 256, 0, st>>>(cur, dst, count);
      TYPENET_CUDA_CHECK_LAUNCH("relu_kernel");
      cur = dst;
    } else if constexpr (r == role::softmax) {
      softmax<S::output::size>(cur, batch);
    } else if constexpr (r == role::lrn) {
      post<typename S::input, typename S::output, spelled_t<typename lrn_params_of<First>::type>, kc::no_pool>(cur,
                                                                                                               batch);
    } else if constexpr (r == role::pool) {
      post<typename S::input, typename S::output, kc::no_lrn, spelled_t<typename pool_params_of<First>::type>>(cur,
                                                                                                               batch);
    } else if constexpr (r == role::adaptive_pool) {
      using in = typename S::input;
      using out = typename S::output;
      float* dst = next_buffer(cur);
      const std::int64_t count = std::int64_t{batch} * out::size;
      kc::adaptive_avg_pool_kernel<in::dims[0], in::dims[1], in::dims[2], out::dims[1], out::dims[2]>
          <<<grid_for(count, sms_), 256, 0, st>>>(cur, dst, batch);
      TYPENET_CUDA_CHECK_LAUNCH("adaptive_avg_pool_kernel");
      cur = dst;
    } else {
      static_assert(::typenet::detail::always_false<S>::value, "typenet: exec::cuda has no kernel for this layer kind");
    }
  }

  cuda_detail::launch_context context() const noexcept { return {policy_.stream, device_, sms_, policy_.math}; }

  template <class In, class Out, class Lrn, class Pool>
  void post(const float*& cur, int batch) {
    float* dst = next_buffer(cur);
    const std::int64_t count = std::int64_t{batch} * Out::size;
    kernels::cuda::lrn_pool_kernel<In::dims[0], In::dims[1], In::dims[2], Out::dims[1], Out::dims[2], Lrn, Pool>
        <<<cuda_detail::grid_for(count, sms_), 256, 0, policy_.stream>>>(cur, dst, batch);
    TYPENET_CUDA_CHECK_LAUNCH("lrn_pool_kernel");
    cur = dst;
  }

  template <std::int64_t N>
  void softmax(const float*& cur, int batch) {
    float* dst = next_buffer(cur);
    kernels::cuda::softmax_kernel<static_cast<int>(N)><<<batch, 256, 0, policy_.stream>>>(cur, dst);
    TYPENET_CUDA_CHECK_LAUNCH("softmax_kernel");
    cur = dst;
  }

  cuda policy_;
  int max_batch_;
  int device_ = 0;
  int sms_ = 1;
  std::int64_t workspace_floats_ = 0;
  cuda_detail::device_floats activations_;
  cuda_detail::device_floats weights_;
  std::array<float*, 2> buffers_{};
  float* workspace_ = nullptr;
  std::array<std::int64_t, stage_count + 1> offsets_{};
};

}  // namespace typenet::exec

#include "graph.hpp"
