// typenet/exec/cuda/graph.hpp: exec::cuda for networks with blocks (residual, concat) and the layers of the
// torchvision zoo (batch norm, relu6, depthwise convolutions, no_bias); chains keep the staged program of
// exec/cuda/policy.hpp. Included by exec/cuda/policy.hpp (nvcc only).
//
// The program runs fusion/graph.hpp's fused op list, the one exec::simd's graph program runs: batch norm
// folded into the convolution before it when the model is built, a residual join and the activation after
// it in a convolution's epilogue. Values stay NCHW (flat values in PyTorch's order), placed in one device
// arena by liveness; the input and output edges live in the arena too. Per op:
//   convolution      the implicit GEMM of kernels/cuda/gemm.hpp (Winograd for stride-1 3x3 / 5x5 under the
//                    policy's rules, as in chains), bias + residual + ReLU / ReLU6 in its epilogue;
//                    depthwise convolutions (groups = channels): kernels/cuda/graph.hpp's direct kernel
//   dense            the GEMM, bias (+ ReLU) in its epilogue
//   pools, LRN       kernels/cuda/pointwise.hpp's window kernels; softmax likewise
//   batch norm, add, relu / relu6   one element-wise kernel each (kernels/cuda/graph.hpp)
//   concat           one copy kernel per branch, into its channel slice
// A layer with no CUDA kernel runs exec::reference's kernel on the host (its input copied back, the stream
// synchronised, the result copied up): program::fallback_layers() names such layers. Every buffer, host or
// device, is allocated when the program is built; run() allocates nothing.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../fusion/graph.hpp"
#include "../../kernels/cuda/graph.hpp"
#include "../../kernels/reference/layer.hpp"

namespace typenet::exec::cuda_graph {

namespace kc = ::typenet::kernels::cuda;
namespace kn = ::typenet::kernels::nchw;
using cuda_detail::device_floats;
using fusion::graph::fused_op;
using fusion::graph::leaf_kind;
using fusion::graph::lowered;

/// What an op needs when the program is built.
struct build_context {
  const cuda& policy;
  int max_batch;
  int device;
  int sms;
};

/// Where the values are during one run.
struct frame {
  float* arena;
  const std::int64_t* offset;
  int max_batch;
  int batch;
  float* workspace;
  int winograd_min_columns;
  cuda_detail::launch_context launch;
  float* at(int v) const { return arena + offset[static_cast<std::size_t>(v)] * max_batch; }
};

/// Ops without device weights or workspace.
struct no_extras {
  static constexpr bool fallback = false;
  std::int64_t workspace_floats = 0;
  std::int64_t weight_floats = 0;
};

template <class Low, int V>
struct value_of {
  static constexpr value_dims d = Low::plan::dims[static_cast<std::size_t>(V)];
  static constexpr std::int64_t size = Low::plan::size[static_cast<std::size_t>(V)];
  /// Channels and pixels per image: C x H*W, or a flat value as size x 1.
  static constexpr int channels = d.c > 0 ? d.c : static_cast<int>(size);
  static constexpr int pixels = d.c > 0 ? d.h* d.w : 1;
};

inline int blocks_for(std::int64_t total, int sms) { return cuda_detail::grid_for(total, sms); }

/// B without its position and key: the type every kernel template argument is derived from. nvcc's host
/// stub spells each kernel's template arguments, and cannot spell a class-type template argument such as
/// the string of a named<"key"> layer or an op of the fused list. So no kernel argument may mention B, and
/// every type argument is passed as spelled_t<T> (exec/cuda/policy.hpp).
template <class B>
using plain_bound = bound_layer<0, typename B::layer, typename B::input, typename B::output, 0>;
using cuda_detail::spelled_t;

/// The depthwise kernel's geometry of a plain bound convolution.
template <class BP>
struct depthwise_of {
  static constexpr window_geometry g = window_of<BP>;
  using type = kn::depthwise_geometry<g.in_c, g.in_h, g.in_w, g.kernel_h, g.kernel_w, g.stride_h, g.stride_w, g.pad_h,
                                      g.pad_w, g.out_h, g.out_w>;
};

/// conv2d with its folded batch norm, residual and activation.
template <class Low, fused_op Op>
struct conv_exec {
  static constexpr bool fallback = false;
  using B = typename Low::template leaf<Op.leaf>;
  // A one-layer stage: the chain program's packing and Winograd rules apply. Kernel template arguments come
  // from plain_bound<B>, which names no key (nvcc's host stub cannot spell fixed_string arguments).
  using S = fusion::stage<plain_bound<B>>;
  static constexpr window_geometry g = window_of<B>;
  static constexpr bool depthwise = Low::kinds[static_cast<std::size_t>(Op.leaf)] == leaf_kind::depthwise;
  using dw_geo = typename depthwise_of<plain_bound<B>>::type;
  using Geo = typename cuda_detail::geometry_of<plain_bound<B>>::type;

  device_floats weights;
  int tile = 0;  ///< Winograd output tile (0: the direct GEMM only)
  std::int64_t workspace_floats = 0;
  std::int64_t weight_floats = 0;

  conv_exec(const float* p, const build_context& ctx) {
    const float* bn = nullptr;
    if constexpr (Op.bn >= 0) bn = p + Low::template leaf<Op.bn>::tensor_offset(0);
    std::vector<float> w, b;
    fusion::graph::fold_conv(p + B::tensor_offset(0), B::layer::has_bias ? p + B::tensor_offset(1) : nullptr, bn,
                             g.out_c, std::size_t(g.in_c / g.groups) * g.kernel_h * g.kernel_w, w, b);
    std::vector<float> host;
    if constexpr (depthwise) {
      host = std::move(w);
      host.insert(host.end(), b.begin(), b.end());
    } else {
      tile = cuda_detail::winograd_tile<S>(ctx.policy, ctx.max_batch);
      host.assign(static_cast<std::size_t>(cuda_detail::packed_floats<S>(ctx.policy, ctx.max_batch)), 0.f);
      cuda_detail::pack_stage<S>(w.data(), b.data(), host.data(), ctx.policy, ctx.max_batch);
      workspace_floats = cuda_detail::workspace_floats<S, Op.act>(ctx.max_batch, ctx.policy, ctx.device, ctx.sms);
    }
    weight_floats = static_cast<std::int64_t>(host.size());
    weights =
        cuda_detail::upload(host, "the weights of " + std::string(typenet::detail::key_text<typename B::key>::view()));
  }

  void run(const frame& fr) const {
    const float* in = fr.at(Op.inputs[0]);
    float* out = fr.at(Op.output);
    const float* res = Op.residual >= 0 ? fr.at(Op.residual) : nullptr;
    const float* w = weights.get();
    if constexpr (depthwise) {
      const std::int64_t total = std::int64_t{fr.batch} * dw_geo::out_image;
      kc::depthwise_kernel<spelled_t<dw_geo>, Op.act><<<blocks_for(total, fr.launch.sms), 256, 0, fr.launch.stream>>>(
          in, w, w + std::int64_t{g.out_c} * g.kernel_h * g.kernel_w, out, res, total);
      TYPENET_CUDA_CHECK_LAUNCH("depthwise_kernel");
    } else {
      bool done = false;
      cuda_detail::with_winograd<S>(tile, [&]<class WG>(std::type_identity<WG>) {
        if (fr.batch * WG::tiles >= fr.winograd_min_columns) {
          cuda_detail::winograd_conv<spelled_t<WG>, Op.act>(fr.launch, w + cuda_detail::direct_packed_floats<S>(), in,
                                                            out, fr.batch, fr.workspace, res);
          done = true;
        }
      });
      if (!done)
        cuda_detail::gemm_math<spelled_t<Geo>, Op.act>(fr.launch, w, w + kc::gemm_tiles<Geo>::packed_weights, in, out,
                                                       fr.batch, fr.workspace, res);
    }
  }
};

/// dense, with ReLU in its epilogue when fused. Its input is in PyTorch's flat order (values are NCHW).
template <class Low, fused_op Op>
struct dense_exec {
  static constexpr bool fallback = false;
  using B = typename Low::template leaf<Op.leaf>;
  using S = fusion::stage<plain_bound<B>>;
  using Geo = typename cuda_detail::geometry_of<plain_bound<B>>::type;
  device_floats weights;
  std::int64_t workspace_floats = 0;
  std::int64_t weight_floats = 0;

  dense_exec(const float* p, const build_context& ctx) {
    std::vector<float> bias(static_cast<std::size_t>(Geo::channels), 0.f);
    if constexpr (B::layer::has_bias)
      std::copy(p + B::tensor_offset(1), p + B::tensor_offset(1) + Geo::channels, bias.begin());
    std::vector<float> host(static_cast<std::size_t>(cuda_detail::packed_floats<S>(ctx.policy, ctx.max_batch)), 0.f);
    cuda_detail::pack_stage<S>(p + B::tensor_offset(0), bias.data(), host.data(), ctx.policy, ctx.max_batch);
    workspace_floats = cuda_detail::workspace_floats<S, Op.act>(ctx.max_batch, ctx.policy, ctx.device, ctx.sms);
    weight_floats = static_cast<std::int64_t>(host.size());
    weights =
        cuda_detail::upload(host, "the weights of " + std::string(typenet::detail::key_text<typename B::key>::view()));
  }
  void run(const frame& fr) const {
    cuda_detail::gemm_math<spelled_t<Geo>, Op.act>(
        fr.launch, weights.get(), weights.get() + kc::gemm_tiles<Geo>::packed_weights, fr.at(Op.inputs[0]),
        fr.at(Op.output), fr.batch, fr.workspace, nullptr);
  }
};

/// A batch norm no convolution absorbed: y = act(x * scale + shift) per channel.
template <class Low, fused_op Op>
struct batch_norm_exec : no_extras {
  using B = typename Low::template leaf<Op.leaf>;
  using v = value_of<Low, Op.inputs[0]>;
  device_floats factors;  ///< scale [C], then shift [C]
  batch_norm_exec(const float* p, const build_context&) {
    const float *gamma = p + B::tensor_offset(0), *beta = p + B::tensor_offset(1);
    const float *mean = p + B::tensor_offset(2), *var = p + B::tensor_offset(3);
    std::vector<float> host(2 * static_cast<std::size_t>(v::channels));
    for (int c = 0; c < v::channels; ++c) {
      const double s = double{gamma[c]} / std::sqrt(double{var[c]} + batch_norm::eps);
      host[static_cast<std::size_t>(c)] = static_cast<float>(s);
      host[static_cast<std::size_t>(v::channels + c)] = static_cast<float>(beta[c] - mean[c] * s);
    }
    weight_floats = static_cast<std::int64_t>(host.size());
    factors =
        cuda_detail::upload(host, "the batch norm " + std::string(typenet::detail::key_text<typename B::key>::view()));
  }
  void run(const frame& fr) const {
    const std::int64_t total = std::int64_t{fr.batch} * v::size;
    kc::affine_kernel<v::channels, v::pixels, Op.act><<<blocks_for(total, fr.launch.sms), 256, 0, fr.launch.stream>>>(
        fr.at(Op.inputs[0]), factors.get(), factors.get() + v::channels, fr.at(Op.output), total);
    TYPENET_CUDA_CHECK_LAUNCH("affine_kernel");
  }
};

/// relu or relu6 on its own.
template <class Low, fused_op Op>
struct activation_exec : no_extras {
  static constexpr int act = Low::kinds[static_cast<std::size_t>(Op.leaf)] == leaf_kind::relu ? 1 : 2;
  activation_exec(const float*, const build_context&) {}
  void run(const frame& fr) const {
    const std::int64_t total = std::int64_t{fr.batch} * value_of<Low, Op.output>::size;
    kc::activation_kernel<act>
        <<<blocks_for(total, fr.launch.sms), 256, 0, fr.launch.stream>>>(fr.at(Op.inputs[0]), fr.at(Op.output), total);
    TYPENET_CUDA_CHECK_LAUNCH("activation_kernel");
  }
};

template <class Low, fused_op Op>
struct softmax_exec : no_extras {
  static constexpr int size = static_cast<int>(value_of<Low, Op.output>::size);
  softmax_exec(const float*, const build_context&) {}
  void run(const frame& fr) const {
    kc::softmax_kernel<size><<<fr.batch, 256, 0, fr.launch.stream>>>(fr.at(Op.inputs[0]), fr.at(Op.output));
    TYPENET_CUDA_CHECK_LAUNCH("softmax_kernel");
  }
};

/// Pools, adaptive average pool and LRN on a C x H x W value.
template <class Low, fused_op Op>
struct spatial_exec : no_extras {
  using B = typename Low::template leaf<Op.leaf>;
  using L = typename B::layer;
  using in = typename B::input;
  using out = typename B::output;
  spatial_exec(const float*, const build_context&) {}
  void run(const frame& fr) const {
    const std::int64_t total = std::int64_t{fr.batch} * out::size;
    const int blocks = blocks_for(total, fr.launch.sms);
    const float* x = fr.at(Op.inputs[0]);
    float* y = fr.at(Op.output);
    if constexpr (layer_kind_of<L> == layer_kind::adaptive_pool) {
      kc::adaptive_avg_pool_kernel<in::dims[0], in::dims[1], in::dims[2], out::dims[1], out::dims[2]>
          <<<blocks, 256, 0, fr.launch.stream>>>(x, y, fr.batch);
      TYPENET_CUDA_CHECK_LAUNCH("adaptive_avg_pool_kernel");
    } else {
      using BP = plain_bound<B>;
      using Lrn =
          typename cuda_detail::lrn_params_of<std::conditional_t<layer_kind_of<L> == layer_kind::lrn, BP, void>>::type;
      using Pool = typename cuda_detail::pool_params_of<
          std::conditional_t<layer_kind_of<L> == layer_kind::pool, BP, void>>::type;
      kc::lrn_pool_kernel<in::dims[0], in::dims[1], in::dims[2], out::dims[1], out::dims[2], spelled_t<Lrn>,
                          spelled_t<Pool>><<<blocks, 256, 0, fr.launch.stream>>>(x, y, fr.batch);
      TYPENET_CUDA_CHECK_LAUNCH("lrn_pool_kernel");
    }
  }
};

/// A residual join no convolution absorbed: y = act(a + b).
template <class Low, fused_op Op>
struct add_exec : no_extras {
  add_exec(const float*, const build_context&) {}
  void run(const frame& fr) const {
    const std::int64_t total = std::int64_t{fr.batch} * value_of<Low, Op.output>::size;
    kc::add_kernel<Op.act><<<blocks_for(total, fr.launch.sms), 256, 0, fr.launch.stream>>>(
        fr.at(Op.inputs[0]), fr.at(Op.inputs[1]), fr.at(Op.output), total);
    TYPENET_CUDA_CHECK_LAUNCH("add_kernel");
  }
};

/// A concat join along channels: one slice copy per branch, each at its compile-time channel offset.
template <class Low, fused_op Op>
struct concat_exec : no_extras {
  using v = value_of<Low, Op.output>;
  template <std::size_t K>
  static constexpr int channels = value_of<Low, Op.inputs[K]>::channels;
  template <std::size_t K>
  static constexpr int offset = [] {
    int sum = 0;
    [&]<std::size_t... J>(std::index_sequence<J...>) { ((sum += channels<J>), ...); }
    (std::make_index_sequence<K>{});
    return sum;
  }();
  concat_exec(const float*, const build_context&) {}
  void run(const frame& fr) const {
    [&]<std::size_t... K>(std::index_sequence<K...>) { (copy<K>(fr), ...); }
    (std::make_index_sequence<static_cast<std::size_t>(Op.input_count)>{});
  }

 private:
  template <std::size_t K>
  static void copy(const frame& fr) {
    const std::int64_t total = std::int64_t{fr.batch} * channels<K> * v::pixels;
    kc::concat_slice_kernel<v::channels, channels<K>, offset<K>, v::pixels>
        <<<blocks_for(total, fr.launch.sms), 256, 0, fr.launch.stream>>>(fr.at(Op.inputs[K]), fr.at(Op.output), total);
    TYPENET_CUDA_CHECK_LAUNCH("concat_slice_kernel");
  }
};

/// A layer with no CUDA kernel: exec::reference's kernel on the host. Its input comes back to host memory,
/// the stream is synchronised, and the result goes up again (host buffers for max_batch images, allocated
/// here). It keeps its own copy of the layer's tensors.
template <class Low, fused_op Op>
struct fallback_exec : no_extras {
  static constexpr bool fallback = true;
  using B = typename Low::template leaf<Op.leaf>;
  static constexpr std::int64_t in_size = Low::plan::size[static_cast<std::size_t>(Op.inputs[0])];
  static constexpr std::int64_t out_size = Low::plan::size[static_cast<std::size_t>(Op.output)];
  std::vector<float> tensors;
  mutable std::vector<float> in, out;  // scratch of one run
  fallback_exec(const float* p, const build_context& ctx)
      : tensors(p + B::offset, p + B::offset + B::storage),
        in(static_cast<std::size_t>(in_size * ctx.max_batch)),
        out(static_cast<std::size_t>(out_size * ctx.max_batch)) {}
  void run(const frame& fr) const {
    const cudaStream_t st = fr.launch.stream;
    TYPENET_CUDA_CHECK(cudaMemcpyAsync(in.data(), fr.at(Op.inputs[0]), sizeof(float) * in_size * fr.batch,
                                       cudaMemcpyDeviceToHost, st));
    TYPENET_CUDA_CHECK(cudaStreamSynchronize(st));
    kernels::reference::forward_kernel<typename B::layer, typename B::input, typename B::output>(
        in.data(), out.data(), fr.batch, tensors.data(), B::biases > 0 ? tensors.data() + B::weights : nullptr);
    TYPENET_CUDA_CHECK(
        cudaMemcpyAsync(fr.at(Op.output), out.data(), sizeof(float) * out_size * fr.batch, cudaMemcpyHostToDevice, st));
    TYPENET_CUDA_CHECK(cudaStreamSynchronize(st));  // the host buffer is reused by the next run
  }
};

template <class Low, std::size_t I>
struct exec_for {
  static constexpr fused_op op = Low::ops[I];
  template <template <class, fused_op> class E>
  using pick = E<Low, op>;
  using type =
      fusion::graph::executor_for<fusion::graph::role_of<Low>(op), pick<add_exec>, pick<concat_exec>, pick<conv_exec>,
                                  pick<dense_exec>, pick<batch_norm_exec>, pick<activation_exec>, pick<softmax_exec>,
                                  pick<spatial_exec>, pick<fallback_exec>>;
};

/// The most output pixels of one image of any convolution (the GEMM's column index is batch x pixels, an
/// int).
template <class Low, std::size_t... I>
constexpr std::int64_t largest_pixels(std::index_sequence<I...>) {
  std::int64_t most = 1;
  ((most = std::max(most, Low::ops[I].kind == op_desc::layer
                              ? std::int64_t{Low::plan::dims[static_cast<std::size_t>(Low::ops[I].output)].h} *
                                    std::max(1, Low::plan::dims[static_cast<std::size_t>(Low::ops[I].output)].w)
                              : 1)),
   ...);
  return most;
}

/// Forward passes captured as CUDA graphs, one per batch size, each captured and instantiated at the first
/// run at that size (on a stream of its own: the legacy default stream cannot be captured) and launched on
/// the program's stream from then on. The captured kernels read and write the program's arena and
/// workspace, which live as long as the program; the input and output copies stay outside the graph, so
/// that every run may pass other pointers.
class captured_runs {
 public:
  captured_runs() = default;
  explicit captured_runs(int max_batch) : execs_(static_cast<std::size_t>(max_batch) + 1, nullptr) {
    TYPENET_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  captured_runs(captured_runs&& o) noexcept : execs_(std::move(o.execs_)), stream_(std::exchange(o.stream_, nullptr)) {
    o.execs_.clear();
  }
  captured_runs& operator=(captured_runs&& o) noexcept {
    captured_runs gone(std::move(*this));
    execs_ = std::move(o.execs_);
    o.execs_.clear();
    stream_ = std::exchange(o.stream_, nullptr);
    return *this;
  }
  ~captured_runs() {
    for (cudaGraphExec_t e : execs_)
      if (e) cudaGraphExecDestroy(e);
    if (stream_) cudaStreamDestroy(stream_);
  }
  bool enabled() const noexcept { return stream_ != nullptr; }

  /// Launches the graph of this batch size on `on`; enqueue(stream) records it first if there is none.
  template <class Enqueue>
  void launch(int batch, cudaStream_t on, Enqueue&& enqueue) {
    cudaGraphExec_t& e = execs_[static_cast<std::size_t>(batch)];
    if (!e) {
      TYPENET_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
      cudaGraph_t g = nullptr;
      try {
        enqueue(stream_);
      } catch (...) {
        (void)cudaStreamEndCapture(stream_, &g);  // ends the capture (invalidated by the failure)
        if (g) cudaGraphDestroy(g);
        (void)cudaGetLastError();
        throw;
      }
      TYPENET_CUDA_CHECK(cudaStreamEndCapture(stream_, &g));
      const cudaError_t made = cudaGraphInstantiate(&e, g, 0ULL);
      cudaGraphDestroy(g);
      if (made != cudaSuccess) e = nullptr;
      TYPENET_CUDA_CHECK(made);
    }
    TYPENET_CUDA_CHECK(cudaGraphLaunch(e, on));
  }

 private:
  std::vector<cudaGraphExec_t> execs_;
  cudaStream_t stream_ = nullptr;
};

}  // namespace typenet::exec::cuda_graph

namespace typenet::exec {

/// A network with blocks or the layers of the torchvision zoo: the fused op list of fusion/graph.hpp.
template <Network Net>
requires(!fusion::fused_kernels_cover<Net>) class cuda::program<Net> {
  using low = fusion::graph::lowered<Net>;
  template <std::size_t... I>
  static auto exec_types(std::index_sequence<I...>) -> std::tuple<typename cuda_graph::exec_for<low, I>::type...>;
  using execs_tuple = decltype(exec_types(std::make_index_sequence<low::op_count>{}));
  static constexpr std::int64_t in_size = Net::input_shape::size, out_size = Net::output_shape::size;
  static constexpr std::int64_t arena_floats_per_image = low::floats_per_image;

 public:
  /// Whether some layer runs exec::reference's kernel on the host (fallback_layers() names them).
  static constexpr bool reference_fallback = []<std::size_t... I>(std::index_sequence<I...>) {
    return (false || ... || cuda_graph::exec_for<low, I>::type::fallback);
  }
  (std::make_index_sequence<low::op_count>{});
  /// Operations one forward pass runs, after fusion.
  static constexpr std::size_t fused_ops = low::op_count;

  program(const params<Net>& p, int max_batch, const cuda& policy = {})
      : policy_(policy), max_batch_(checked(max_batch)), execs_(make_execs(p, policy, max_batch)) {
    workspace_floats_ = std::apply(
        [](const auto&... e) {
          return std::max({std::int64_t{0}, e.workspace_floats...});
        },
        execs_);
    const std::int64_t arena = (arena_floats_per_image * max_batch_ + 63) / 64 * 64;
    memory_ =
        cuda_detail::allocate(arena + workspace_floats_, "activations for max_batch " + std::to_string(max_batch_));
    workspace_ = memory_.get() + arena;
    if (!reference_fallback && policy_.cuda_graphs) graphs_ = cuda_graph::captured_runs(max_batch_);
  }

  program(const program&) = delete;
  program& operator=(const program&) = delete;
  program(program&&) noexcept = default;
  program& operator=(program&&) noexcept = default;

  /// The keys of the layers that run exec::reference's kernel on the host.
  static std::vector<std::string> fallback_layers() {
    std::vector<std::string> names;
    [&]<std::size_t... I>(std::index_sequence<I...>) { (add_fallback<I>(names), ...); }
    (std::make_index_sequence<low::op_count>{});
    return names;
  }

  /// Host in (batch x input floats, NCHW), host out (batch x output floats); waits for the result.
  void run(const float* in, float* out, int batch) {
    check_batch(batch);
    TYPENET_CUDA_CHECK(cudaSetDevice(device_));
    enqueue(in, out, batch, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost);
    TYPENET_CUDA_CHECK(cudaStreamSynchronize(policy_.stream));
  }

  /// Device in, device out, asynchronous on the policy's stream. d_in is only read.
  void run_device(const float* d_in, float* d_out, int batch) {
    check_batch(batch);
    enqueue(d_in, d_out, batch, cudaMemcpyDeviceToDevice, cudaMemcpyDeviceToDevice);
  }

  int max_batch() const noexcept { return max_batch_; }
  cudaStream_t stream() const noexcept { return policy_.stream; }
  /// Device bytes held: the arena and workspace, and the ops' weights.
  std::int64_t device_bytes() const noexcept {
    const std::int64_t weights =
        std::apply([](const auto&... e) { return (std::int64_t{0} + ... + e.weight_floats); }, execs_);
    return 4 * ((arena_floats_per_image * max_batch_ + 63) / 64 * 64 + workspace_floats_ + weights);
  }

 private:
  int checked(int max_batch) {
    if (max_batch < 1)
      throw std::invalid_argument("typenet: exec::cuda: max_batch must be at least 1, got " +
                                  std::to_string(max_batch));
    constexpr std::int64_t pixels = cuda_graph::largest_pixels<low>(std::make_index_sequence<low::op_count>{});
    if (std::int64_t{max_batch} * pixels > (std::int64_t{1} << 31) - 1 - 256 ||
        std::int64_t{max_batch} * arena_floats_per_image > (std::int64_t{1} << 40))
      throw std::invalid_argument("typenet: exec::cuda: max_batch " + std::to_string(max_batch) +
                                  " is too large for this network (32-bit pixel index)");
    cuda_detail::open_device(policy_, device_, sms_);
    return max_batch;
  }
  execs_tuple make_execs(const params<Net>& p, const cuda& policy, int max_batch) {
    const cuda_graph::build_context ctx{policy, max_batch, device_, sms_};
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return execs_tuple{typename cuda_graph::exec_for<low, I>::type(p.data(), ctx)...};
    }
    (std::make_index_sequence<low::op_count>{});
  }
  template <std::size_t I>
  static void add_fallback(std::vector<std::string>& names) {
    using E = typename cuda_graph::exec_for<low, I>::type;
    if constexpr (E::fallback) {
      using B = typename E::B;
      names.push_back(std::string(typenet::detail::key_text<typename B::key>::view()) + " (" + B::layer::name() + ")");
    }
  }
  /// The input copied into the arena, every op (the batch's captured graph, or one launch per kernel), the
  /// output copied out, all on the policy's stream.
  void enqueue(const float* in, float* out, int batch, cudaMemcpyKind in_kind, cudaMemcpyKind out_kind) {
    const cuda_graph::frame fr = frame(batch, policy_.stream);
    TYPENET_CUDA_CHECK(cudaMemcpyAsync(fr.at(0), in, sizeof(float) * static_cast<std::size_t>(batch * in_size), in_kind,
                                       policy_.stream));
    if (graphs_.enabled())
      graphs_.launch(batch, policy_.stream, [&](cudaStream_t capture) { run_ops(frame(batch, capture)); });
    else
      run_ops(fr);
    TYPENET_CUDA_CHECK(cudaMemcpyAsync(
        out, fr.at(low::output), sizeof(float) * static_cast<std::size_t>(batch * out_size), out_kind, policy_.stream));
  }
  void run_ops(const cuda_graph::frame& fr) const {
    std::apply([&](const auto&... e) { (e.run(fr), ...); }, execs_);
  }
  void check_batch(int batch) const {
    if (batch < 1 || batch > max_batch_)
      throw std::invalid_argument("typenet: exec::cuda: batch " + std::to_string(batch) + " is outside 1.." +
                                  std::to_string(max_batch_));
  }
  cuda_graph::frame frame(int batch, cudaStream_t stream) const {
    return {memory_.get(),
            low::offset.data(),
            max_batch_,
            batch,
            workspace_,
            policy_.winograd_min_columns,
            cuda_detail::launch_context{stream, device_, sms_, policy_.math}};
  }

  cuda policy_;
  int device_ = 0;
  int sms_ = 1;
  int max_batch_;
  execs_tuple execs_;
  std::int64_t workspace_floats_ = 0;
  cuda_detail::device_floats memory_;
  float* workspace_ = nullptr;
  cuda_graph::captured_runs graphs_;  ///< empty (not enabled) without policy.cuda_graphs
};

}  // namespace typenet::exec
