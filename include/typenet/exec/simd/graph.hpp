// typenet/exec/simd/graph.hpp: exec::simd for networks with blocks (residual, concat) and the layers of
// the torchvision zoo (batch norm, relu6, depthwise convolutions, no_bias); the chain networks keep the
// staged program of exec/simd/policy.hpp.
//
// The program runs fusion/graph.hpp's fused op list (batch norm folded into convolutions, residual joins
// and activations in their epilogues) over one arena placed by liveness. Spatial values are NHWC, flat
// values plain. Kernels: kernels/simd/conv2d.hpp (direct), winograd.hpp (3x3, stride 1), depthwise.hpp,
// dense.hpp, pool.hpp, norm.hpp, eltwise.hpp.
//
// A layer with no kernel here runs exec::reference's kernel on that layer alone (converted to NCHW and
// back), visibly: program::fallback_layers() names it, and describe<Net, exec::simd<>>() and typenet-zoo
// print that list. Everything is allocated when the program is built; run() allocates nothing.
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/hana/for_each.hpp>
#include <xsimd/xsimd.hpp>

#include "../../core/graph.hpp"
#include "../../core/params.hpp"
#include "../../core/plan.hpp"
#include "../../detail/thread_pool.hpp"
#include "../../fusion/graph.hpp"
#include "../../kernels/reference/layer.hpp"
#include "../../kernels/simd/activation.hpp"
#include "../../kernels/simd/conv2d.hpp"
#include "../../kernels/simd/dense.hpp"
#include "../../kernels/simd/depthwise.hpp"
#include "../../kernels/simd/eltwise.hpp"
#include "../../kernels/simd/norm.hpp"
#include "../../kernels/simd/pool.hpp"
#include "../../kernels/simd/winograd.hpp"
#include "../../layers.hpp"

namespace typenet::exec::simd_detail {
/// The batch every exec::simd program checks when run (1..max_batch).
inline void check_batch(int batch, int max_batch) {
  if (batch < 1 || batch > max_batch)
    throw std::invalid_argument("typenet: exec::simd: batch " + std::to_string(batch) + " is outside 1.." +
                                std::to_string(max_batch));
}
}  // namespace typenet::exec::simd_detail

namespace typenet::exec::simd_graph {

namespace ks = ::typenet::kernels::simd;
using ::typenet::detail::thread_pool;

using fusion::graph::fold_conv;
using fusion::graph::fused_op;
using fusion::graph::kind_of;
using fusion::graph::leaf_kind;
using fusion::graph::lowered;

// ---- op executors --------------------------------------------------------------------------------------
// Each: a constructor from the canonical parameter buffer; run(const frame&); static constexpr zero_floats
// and workspace_floats (per thread); static constexpr bool fallback.

/// Where the values are during one run of a stage (chunked_program): value v's images [0, batch) at
/// arena + offset[v], one after another.
struct frame {
  float* arena;
  const std::int64_t* offset;  ///< per value of the plan, in floats from arena (set for the stage's values)
  int batch;
  thread_pool* pool;
  const float* zeros;
  float* workspace;
  float* scratch;  ///< two buffers of scratch_floats each (reference fallbacks only)
  std::int64_t scratch_floats;
  float* at(int v) const { return arena + offset[static_cast<std::size_t>(v)]; }
};

template <int Act>
using epilogue_t = std::conditional_t<Act == 1, ks::epilogue_relu,
                                      std::conditional_t<Act == 2, ks::epilogue_relu6, ks::epilogue_none>>;

/// Calls f(begin, end) on each thread's part of [0, n).
template <class F>
void split_run(thread_pool& pool, std::int64_t n, F&& f) {
  auto part = [&](int t, int parts) {
    const auto r = typenet::detail::split(n, t, parts);
    if (r.begin < r.end) f(r.begin, r.end);
  };
  pool.run(part);
}

/// Items [0, n) claimed by the pool's threads in chunks (about 8 per thread) from a shared counter: f(b, e).
template <class F>
void claim_chunks(thread_pool& pool, std::int64_t n, F&& f) {
  const std::int64_t chunk = std::max<std::int64_t>(1, n / (8 * pool.size()));
  std::atomic<std::int64_t> next{0};
  auto part = [&](int, int) {
    for (std::int64_t b = next.fetch_add(chunk, std::memory_order_relaxed); b < n;
         b = next.fetch_add(chunk, std::memory_order_relaxed))
      f(b, std::min(n, b + chunk));
  };
  pool.run(part);
}

struct no_extras {
  static constexpr std::size_t zero_floats = 0, workspace_floats = 0;
  static constexpr bool fallback = false;
};

inline detail::aligned_floats floats(std::size_t n) { return typenet::detail::make_aligned_floats(std::int64_t(n)); }

/// A convolution's weights and bias in its kernel's layout.
struct packed_conv {
  detail::aligned_floats packed, bias;
};

/// Folds a batch norm into a convolution's weights and bias (fold_conv) and hands them to pack, which lays them
/// out for its kernel in packed_floats and bias_floats. Runs once per layer when a model is built: one
/// out-of-line copy for every convolution shape.
TYPENET_NOINLINE inline packed_conv fold_and_pack(const float* w, const float* b, const float* bn, int filters,
                                                  std::size_t per_filter,
                                                  void (*pack)(const float*, const float*, float*, float*),
                                                  std::size_t packed_floats, std::size_t bias_floats) {
  packed_conv out{floats(packed_floats), floats(bias_floats)};
  std::vector<float> wf, bf;
  fold_conv(w, b, bn, filters, per_filter, wf, bf);
  pack(wf.data(), bf.data(), out.packed.get(), out.bias.get());
  return out;
}

/// The rows of a thread's share that go through every block of output channels before the next rows start.
/// Block by block over the whole share reads the share's input once per block (blocks x share x row_floats
/// floats, row_floats the input a row of work reads); rows in chunks whose input stays in L2 (32 Ki floats)
/// read all the weights (weight_floats) once per chunk instead. The order that reads less is taken: the 7 x 7
/// 1x1 layers of MobileNetV2 at batch 32 / 2 threads read a thread's input (1 MB) 80 times block by block, the
/// weights (1.6 MB) 8 times in chunks. row_floats 0: block by block.
inline std::int64_t share_chunk(std::int64_t share, std::int64_t blocks, std::int64_t row_floats,
                                std::int64_t weight_floats) {
  if (row_floats <= 0) return share;
  const std::int64_t chunk = std::max<std::int64_t>(1, (std::int64_t{1} << 15) / row_floats);
  const std::int64_t chunks = (share + chunk - 1) / chunk;
  return chunks > 1 && chunks * weight_floats < blocks * share * row_floats ? chunk : share;
}

/// A direct convolution's row loop, conv_kernel<Geo, Arch>::run<Epilogue, Add>.
using direct_conv_fn = void (*)(const float*, const float*, const float*, float*, const float*, int, std::int64_t,
                                std::int64_t, const float*);

/// Runs a direct convolution (rows_per_image output rows per image, group_blocks = groups x channel blocks)
/// over the pool. Items (group, block, image, row). With rows enough to share out evenly, each thread takes
/// every block of its own contiguous share of the output rows: the rows it writes are the rows the next op
/// reads on the same thread (depthwise, Winograd, pool and join ops split rows the same way), so the
/// activations stay in that core's cache instead of crossing to the other core's. With few rows (7 x 7 maps
/// at batch 1) the blocks are claimed in chunks instead, for balance. One out-of-line copy for every layer
/// shape: the kernel comes as a function pointer. row_floats and weight_floats: see share_chunk.
TYPENET_NOINLINE inline void run_direct_conv(const frame& fr, direct_conv_fn kernel, int rows_per_image,
                                             std::int64_t group_blocks, std::int64_t row_floats,
                                             std::int64_t weight_floats, const float* packed, const float* bias,
                                             const float* in, float* out, const float* res) {
  const std::int64_t rows = std::int64_t{fr.batch} * rows_per_image;
  if (rows >= 4 * fr.pool->size()) {
    split_run(*fr.pool, rows, [&](std::int64_t b, std::int64_t e) {
      const std::int64_t chunk = share_chunk(e - b, group_blocks, row_floats, weight_floats);
      for (std::int64_t c = b; c < e; c += chunk)
        for (std::int64_t gb = 0; gb < group_blocks; ++gb)
          kernel(packed, bias, in, out, fr.zeros, fr.batch, gb * rows + c, gb * rows + std::min(e, c + chunk), res);
    });
  } else {
    claim_chunks(*fr.pool, group_blocks * rows,
                 [&](std::int64_t b, std::int64_t e) { kernel(packed, bias, in, out, fr.zeros, fr.batch, b, e, res); });
  }
}

/// A Winograd convolution's tiles, winograd_detail::engine<Arch, M, NB>::run_tiles<Epilogue, Add>.
using winograd_fn = void (*)(const ks::winograd_detail::shape&, const float*, const float*, const float*, float*,
                             float*, std::int64_t, std::int64_t, const float*);

/// Runs a Winograd convolution of `tiles` tiles over the pool, each thread a contiguous share with its own
/// workspace_floats of fr.workspace. One out-of-line copy for every layer shape.
TYPENET_NOINLINE inline void run_winograd(const frame& fr, winograd_fn kernel, const ks::winograd_detail::shape& shape,
                                          std::int64_t tiles, std::size_t workspace_floats, const float* packed,
                                          const float* bias, const float* in, float* out, const float* res) {
  auto part = [&](int t, int n) {
    const auto r = typenet::detail::split(tiles, t, n);
    kernel(shape, packed, bias, in, out, fr.workspace + std::size_t(t) * workspace_floats, r.begin, r.end, res);
  };
  fr.pool->run(part);
}

/// A convolution of one geometry with one epilogue: packed weights and the threaded run. Shared by every
/// op of the network with the same geometry, activation and residual (a ResNet repeats its blocks), so
/// the kernels are compiled once per distinct layer shape.
template <class Geo, int Act, bool Add, class Arch>
struct conv_runner : packed_conv {
  using geo = Geo;
  using epilogue = epilogue_t<Act>;
  static constexpr bool depthwise = Geo::g == Geo::c && Geo::f == Geo::c && Geo::c > 1;
  static constexpr bool winograd = ks::winograd_suits<geo>;  // one group: never depthwise
  using direct = ks::conv_kernel<geo, Arch>;
  using dw = std::conditional_t<depthwise, ks::depthwise_kernel<geo, Arch>, void>;
  struct no_wino {
    static constexpr std::size_t packed_floats = 0, workspace_floats_per_part = 0;
  };
  using wino =
      std::conditional_t<winograd, ks::winograd_3x3<geo::c, geo::h, geo::w, geo::f, Arch, ks::winograd_tile<geo>>,
                         no_wino>;
  /// Direct below ks::winograd_batched_min images per run, F(4x4) Winograd from there (ResNet's layer4 3x3
  /// layers in the weight-bound stage's chunks of 20 or more images): where the program may run that many
  /// images through the op, both packings, the Winograd one after the direct one at batched_offset (ResNet-50:
  /// 37.7 MB more per layer), else the direct one alone.
  static constexpr bool batched = ks::winograd_batched<geo>;
  using batched_wino = std::conditional_t<batched, ks::winograd_3x3<geo::c, geo::h, geo::w, geo::f, Arch, 4>, no_wino>;
  static constexpr std::size_t batched_offset = batched ? (direct::packed_floats + 15) / 16 * 16 : 0;
  static constexpr std::size_t zero_floats = (depthwise || winograd) ? 0 : direct::zero_floats;
  static constexpr std::size_t workspace_floats =
      std::max(wino::workspace_floats_per_part, batched_wino::workspace_floats_per_part);
  /// The input floats a row of work reads (share_chunk). With AVX2 only: measured there (Zen 3), not with
  /// AVX-512, whose programs run block by block as before.
  static constexpr std::int64_t chunk_row_floats =
      ks::vector_registers<Arch> == 16 ? std::int64_t{direct::W} * geo::c * geo::sh : 0;

  static std::size_t packed_size(bool with_batched) {
    if constexpr (depthwise)
      return dw::packed_floats;
    else if constexpr (winograd)
      return wino::packed_floats;
    else
      return with_batched ? batched_offset + batched_wino::packed_floats : direct::packed_floats;
  }
  static std::size_t bias_size() {
    if constexpr (depthwise)
      return dw::packed_bias_floats;
    else
      return std::max<std::size_t>(direct::packed_bias_floats, std::size_t(geo::f));
  }

  /// w, b (may be null), bn (may be null): as fold_conv takes them. images: the most images the program runs
  /// through the op at once (its stage's chunk).
  conv_runner(const float* w, const float* b, const float* bn, int images = 1)
      : packed_conv(fold_and_pack(w, b, bn, geo::f, std::size_t(geo::cg) * geo::kh * geo::kw,
                                  with_batched(images) ? &pack_both : &pack, packed_size(with_batched(images)),
                                  bias_size())),
        batched_packed(with_batched(images)) {}

 private:
  // The folded weights and bias (filters floats) into this runner's layout.
  static void pack(const float* w, const float* b, float* to, float* to_bias) {
    if constexpr (depthwise) {
      dw::pack(w, b, to, to_bias);
    } else if constexpr (winograd) {
      wino::pack(w, to);
      std::copy(b, b + geo::f, to_bias);
    } else {
      direct::pack(w, b, to, to_bias);
    }
  }
  static void pack_both(const float* w, const float* b, float* to, float* to_bias) {
    pack(w, b, to, to_bias);
    if constexpr (batched) batched_wino::pack(w, to + batched_offset);
  }
  static bool with_batched(int images) { return batched && images >= ks::winograd_batched_min; }
  bool batched_packed;

 public:
  void run(const frame& fr, const float* in, float* out, const float* res) const {
    if constexpr (depthwise) {
      split_run(*fr.pool, dw::items(fr.batch), [&](std::int64_t b, std::int64_t e) {
        dw::template run<epilogue, Add>(packed.get(), bias.get(), in, out, b, e, res);
      });
    } else if constexpr (winograd) {
      run_winograd(fr, &wino::engine::template run_tiles<epilogue, Add>, wino::shape, wino::tiles(fr.batch),
                   workspace_floats, packed.get(), bias.get(), in, out, res);
    } else {
      if constexpr (batched) {
        if (batched_packed &&
            fr.batch >= ks::winograd_batched_min) {  // one group: the direct bias is the plain one, padded
          run_winograd(fr, &batched_wino::engine::template run_tiles<epilogue, Add>, batched_wino::shape,
                       batched_wino::tiles(fr.batch), workspace_floats, packed.get() + batched_offset, bias.get(), in,
                       out, res);
          return;
        }
      }
      run_direct_conv(fr, &direct::template run<epilogue, Add>, direct::rows_per_image,
                      std::int64_t{geo::g} * direct::blocks, chunk_row_floats, std::int64_t(direct::packed_floats),
                      packed.get(), bias.get(), in, out, res);
    }
  }
};

/// conv2d with its folded batch norm, residual and activation: where its tensors and values are.
template <class Low, fused_op Op, class Arch>
struct conv_exec
    : conv_runner<ks::conv_geometry_of<typename Low::template leaf<Op.leaf>>, Op.act, (Op.residual >= 0), Arch> {
  static constexpr bool fallback = false;
  /// Its kernels (direct, Winograd, depthwise) read each residual element right before they write the output
  /// element at the same place, so the output may take the residual's place (staging::in_place_residual):
  /// no second stream of lines to write (ResNet-50's 16 joins at batch 32 / 2 threads, Zen 3: 42 ms of about
  /// 1,400; docs/performance.md).
  static constexpr bool residual_in_place = true;
  using B = typename Low::template leaf<Op.leaf>;
  using runner = conv_runner<ks::conv_geometry_of<B>, Op.act, (Op.residual >= 0), Arch>;
  static const float* bn_tensors(const float* p) {
    if constexpr (Op.bn >= 0)
      return p + Low::template leaf<Op.bn>::tensor_offset(0);
    else
      return nullptr;
  }
  /// The leaf's weights and bias (zero when it has none) with its batch norm folded in, in PyTorch's
  /// [f][cg][kh][kw] order: what the reduced-precision programs quantise or scale before packing.
  static void folded(const float* p, std::vector<float>& wf, std::vector<float>& bf) {
    using geo = ks::conv_geometry_of<B>;
    fold_conv(p + B::tensor_offset(0), B::layer::has_bias ? p + B::tensor_offset(1) : nullptr, bn_tensors(p), geo::f,
              std::size_t(geo::cg) * geo::kh * geo::kw, wf, bf);
  }
  /// images: the most the program runs through this op at once (chunked_program::op_images).
  explicit conv_exec(const float* p, int images = 1)
      : runner(p + B::tensor_offset(0), B::layer::has_bias ? p + B::tensor_offset(1) : nullptr, bn_tensors(p), images) {
  }
  void run(const frame& fr) const {
    runner::run(fr, fr.at(Op.inputs[0]), fr.at(Op.output), Op.residual >= 0 ? fr.at(Op.residual) : nullptr);
  }
};

/// Dense weights [Out][C*H*W] in PyTorch's (C, H, W) input order, permuted when the input is stored NHWC.
inline void permute_to_hwc(const float* w, float* dst, int out, int c, int h, int wd) {
  const std::size_t in = std::size_t(c) * h * wd, plane = std::size_t(h) * wd;
  for (int o = 0; o < out; ++o)
    for (int ch = 0; ch < c; ++ch)
      for (std::size_t q = 0; q < plane; ++q)
        dst[std::size_t(o) * in + q * c + ch] = w[std::size_t(o) * in + ch * plane + q];
}

template <class Low, fused_op Op, class Arch>
struct dense_exec : no_extras {
  using B = typename Low::template leaf<Op.leaf>;
  static constexpr int in_size = static_cast<int>(B::input::size), out_size = static_cast<int>(B::output::size);
  using kernel = ks::dense_kernel<in_size, out_size, Arch>;
  using epilogue = epilogue_t<Op.act>;
  static constexpr value_dims in_dims = Low::plan::dims[static_cast<std::size_t>(Op.inputs[0])];
  detail::aligned_floats packed, bias;

  explicit dense_exec(const float* p) : packed(floats(kernel::packed_floats)), bias(floats(std::size_t(out_size))) {
    const float* w = p + B::tensor_offset(0);
    std::vector<float> v(std::size_t(in_size) * out_size);
    if constexpr (in_dims.c > 0)
      permute_to_hwc(w, v.data(), out_size, in_dims.c, in_dims.h, in_dims.w);
    else
      std::copy(w, w + v.size(), v.begin());
    kernel::pack(v.data(), packed.get());
    for (int o = 0; o < out_size; ++o) bias.get()[o] = B::layer::has_bias ? p[B::tensor_offset(1) + o] : 0.f;
  }
  void run(const frame& fr) const {
    const int parts = fr.pool->size() == 1 ? 1 : 4 * fr.pool->size();
    std::atomic<int> next{0};
    const float* in = fr.at(Op.inputs[0]);
    float* out = fr.at(Op.output);
    auto dense = [&](int, int) {
      for (int part = next.fetch_add(1, std::memory_order_relaxed); part < parts;
           part = next.fetch_add(1, std::memory_order_relaxed))
        kernel::template run<epilogue>(packed.get(), bias.get(), in, out, fr.batch, part, parts);
    };
    fr.pool->run(dense);
  }
};

/// Channels and pixels per image of a value: NHWC (C, H*W) or flat (size, 1).
template <class Low, int V>
struct pixels_of {
  static constexpr value_dims d = Low::plan::dims[static_cast<std::size_t>(V)];
  static constexpr int channels = d.c > 0 ? d.c : static_cast<int>(Low::plan::size[static_cast<std::size_t>(V)]);
  static constexpr std::int64_t per_image = d.c > 0 ? std::int64_t{d.h} * d.w : 1;
};

/// A batch norm that no convolution absorbed: y = act(x * scale + shift) per channel.
template <class Low, fused_op Op, class Arch>
struct batch_norm_exec : no_extras {
  using B = typename Low::template leaf<Op.leaf>;
  using px = pixels_of<Low, Op.inputs[0]>;
  detail::aligned_floats scale, shift;
  explicit batch_norm_exec(const float* p)
      : scale(floats(std::size_t(px::channels))), shift(floats(std::size_t(px::channels))) {
    const float *gamma = p + B::tensor_offset(0), *beta = p + B::tensor_offset(1);
    const float *mean = p + B::tensor_offset(2), *var = p + B::tensor_offset(3);
    for (int c = 0; c < px::channels; ++c) {
      const double s = double{gamma[c]} / std::sqrt(double{var[c]} + batch_norm::eps);
      scale.get()[c] = static_cast<float>(s);
      shift.get()[c] = static_cast<float>(beta[c] - mean[c] * s);
    }
  }
  void run(const frame& fr) const {
    split_run(*fr.pool, px::per_image * fr.batch, [&](std::int64_t b, std::int64_t e) {
      ks::affine_pixels<epilogue_t<Op.act>, Arch>(fr.at(Op.inputs[0]), fr.at(Op.output), scale.get(), shift.get(),
                                                  px::channels, b, e);
    });
  }
};

/// relu or relu6 on its own.
template <class Low, fused_op Op, class Arch>
struct activation_exec : no_extras {
  using B = typename Low::template leaf<Op.leaf>;
  using epilogue = std::conditional_t<Low::kinds[static_cast<std::size_t>(Op.leaf)] == leaf_kind::relu,
                                      ks::epilogue_relu, ks::epilogue_relu6>;
  explicit activation_exec(const float*) {}
  void run(const frame& fr) const {
    split_run(*fr.pool, B::output::size * fr.batch, [&](std::int64_t b, std::int64_t e) {
      ks::epilogue_range<epilogue, Arch>(fr.at(Op.inputs[0]), fr.at(Op.output), b, e);
    });
  }
};

template <class Low, fused_op Op, class Arch>
struct softmax_exec : no_extras {
  static constexpr int size = static_cast<int>(Low::template leaf<Op.leaf>::output::size);
  explicit softmax_exec(const float*) {}
  void run(const frame& fr) const {
    split_run(*fr.pool, fr.batch, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i)
        ks::softmax_row(fr.at(Op.inputs[0]) + i * size, fr.at(Op.output) + i * size, size);
    });
  }
};

/// Pools, adaptive average pool and LRN on NHWC.
template <class Low, fused_op Op, class Arch>
struct spatial_exec : no_extras {
  using B = typename Low::template leaf<Op.leaf>;
  using L = typename B::layer;
  static constexpr int C = static_cast<int>(B::input::dims[0]), H = static_cast<int>(B::input::dims[1]),
                       W = static_cast<int>(B::input::dims[2]);
  explicit spatial_exec(const float*) {}
  template <class K, class... Extra>
  static void rows(const frame& fr, Extra... extra) {
    split_run(*fr.pool, K::items(fr.batch),
              [&](std::int64_t b, std::int64_t e) { K::run(fr.at(Op.inputs[0]), fr.at(Op.output), b, e, extra...); });
  }
  void run(const frame& fr) const {
    if constexpr (layer_kind_of<L> == layer_kind::lrn) {
      rows<ks::lrn_kernel<C, H, W, L::size, Arch>>(fr, L::alpha, L::beta, L::k);
    } else if constexpr (layer_kind_of<L> == layer_kind::adaptive_pool) {
      rows<ks::adaptive_avg_pool_kernel<C, H, W, L::out_h, L::out_w, Arch>>(fr);
    } else {
      rows<ks::pool_kernel<ks::pool_geometry_of<B>, L::kind == pool_kind::max ? ks::pool_op::max : ks::pool_op::average,
                           Arch>>(fr);
    }
  }
};

/// A layer with no kernel here: exec::reference's kernel on NCHW copies (one thread). It keeps its own copy
/// of the layer's tensors (the model does not keep the caller's params).
template <class Low, fused_op Op, class Arch>
struct fallback_exec : no_extras {
  static constexpr bool fallback = true;
  using B = typename Low::template leaf<Op.leaf>;
  static constexpr value_dims in_dims = Low::plan::dims[static_cast<std::size_t>(Op.inputs[0])];
  static constexpr value_dims out_dims = Low::plan::dims[static_cast<std::size_t>(Op.output)];
  detail::aligned_floats tensors;
  explicit fallback_exec(const float* p) : tensors(floats(std::size_t(B::storage))) {
    std::copy(p + B::offset, p + B::offset + B::storage, tensors.get());
  }
  void run(const frame& fr) const {
    const float* in = fr.at(Op.inputs[0]);
    float* a = fr.scratch;
    float* b = fr.scratch + fr.scratch_floats;
    if constexpr (in_dims.c > 0) {
      ks::nhwc_to_nchw<in_dims.c, in_dims.h, in_dims.w>(in, a, 0, fr.batch);
      in = a;
    }
    float* out = out_dims.c > 0 ? b : fr.at(Op.output);
    kernels::reference::forward_kernel<typename B::layer, typename B::input, typename B::output>(
        in, out, fr.batch, tensors.get(), B::biases > 0 ? tensors.get() + B::weights : nullptr);
    if constexpr (out_dims.c > 0)
      ks::nchw_to_nhwc<out_dims.c, out_dims.h, out_dims.w>(b, fr.at(Op.output), 0, fr.batch);
  }
};

/// A residual join that no convolution absorbed: y = act(a + b).
template <class Low, fused_op Op, class Arch>
struct add_exec : no_extras {
  static constexpr std::int64_t size = Low::plan::size[static_cast<std::size_t>(Op.output)];
  explicit add_exec(const float*) {}
  void run(const frame& fr) const {
    split_run(*fr.pool, size * fr.batch, [&](std::int64_t b, std::int64_t e) {
      ks::add_range<epilogue_t<Op.act>, Arch>(fr.at(Op.inputs[0]), fr.at(Op.inputs[1]), fr.at(Op.output), b, e);
    });
  }
};

/// A concat join along channels (NHWC: per pixel, the branches' channels one after another).
template <class Low, fused_op Op, class Arch>
struct concat_exec : no_extras {
  using px = pixels_of<Low, Op.output>;
  static constexpr std::array<int, ::typenet::detail::max_concat_branches> channels = [] {
    std::array<int, ::typenet::detail::max_concat_branches> c{};
    for (int k = 0; k < Op.input_count; ++k) {
      const auto v = static_cast<std::size_t>(Op.inputs[std::size_t(k)]);
      c[std::size_t(k)] = Low::plan::dims[v].c > 0 ? Low::plan::dims[v].c : static_cast<int>(Low::plan::size[v]);
    }
    return c;
  }();
  explicit concat_exec(const float*) {}
  void run(const frame& fr) const {
    std::array<const float*, ::typenet::detail::max_concat_branches> in{};
    for (int k = 0; k < Op.input_count; ++k) in[std::size_t(k)] = fr.at(Op.inputs[std::size_t(k)]);
    split_run(*fr.pool, px::per_image * fr.batch, [&](std::int64_t b, std::int64_t e) {
      ks::concat_pixels(in.data(), channels.data(), Op.input_count, px::channels, fr.at(Op.output), b, e);
    });
  }
};

template <class Low, std::size_t I, class Arch>
struct exec_for {
  static constexpr fused_op op = Low::ops[I];
  /// A layer reading a value stored NHWC in NCHW order (after flatten) runs exec::reference's kernel.
  static constexpr fusion::graph::op_role role = op.kind == op_desc::layer && Low::reads_permuted(op)
                                                     ? fusion::graph::op_role::other
                                                     : fusion::graph::role_of<Low>(op);
  template <template <class, fused_op, class> class E>
  using pick = E<Low, op, Arch>;
  using type = fusion::graph::executor_for<role, pick<add_exec>, pick<concat_exec>, pick<conv_exec>, pick<dense_exec>,
                                           pick<batch_norm_exec>, pick<activation_exec>, pick<softmax_exec>,
                                           pick<spatial_exec>, pick<fallback_exec>>;
};

// ---- row bands: a convolution and the depthwise layer that consumes its output -------------------------
// MobileNetV2's stem and expansion layers write 1.6 - 4.8 MB per image, which the depthwise layer after them
// reads back from L3 (or DRAM). Run as a pair, the producer computes a band of its output rows and the
// depthwise layer consumes them while they are still in L2; each thread works down its own share of the
// rows. Measured on Zen 5 (docs/performance.md): 1 - 2 % of MobileNetV2 at batch 1, level at batch 32; only
// the 4.8 MB expansion's pair gains (0.26 against 0.29 ms), the smaller values come from L3 about as fast.

template <class E>
inline constexpr bool is_conv_exec = false;
template <class Low, fused_op Op, class Arch>
inline constexpr bool is_conv_exec<conv_exec<Low, Op, Arch>> = true;

/// Whether ops I and I + 1 run as a band pair: a pair the lowering allows (lowered::band_candidate: a
/// convolution whose output of at least band_min_floats per image only the depthwise layer after it reads)
/// whose first op runs the direct kernel (not Winograd) in the layer's own output rows (no merged rows).
template <class Low, std::size_t I, class Arch>
consteval bool band_pair_at() {
  if constexpr (!Low::band_candidate(I)) {
    return false;
  } else {
    using P = typename exec_for<Low, I, Arch>::type;
    using D = typename exec_for<Low, I + 1, Arch>::type;
    if constexpr (!is_conv_exec<P> || !is_conv_exec<D>)
      return false;
    else
      return !P::depthwise && !P::winograd && D::depthwise && P::direct::rows_per_image == P::geo::oh;
  }
}

/// Ops I and I + 1 (band_pair_at) in row bands. Thread t takes share t of the depthwise layer's output rows
/// (items image x row, as split_run shares them) and owns the producer's rows from the first one its share
/// reads up to the first one the next share reads. In a first pass each thread computes its own producer
/// rows a band at a time and, after each band, the depthwise rows whose whole window it has computed; the few
/// rows at the end of a share whose window reaches into the next thread's rows run in a second pass, after
/// both threads are done (with one thread there are none, and no second pass). Every value is computed once,
/// by the same kernels as unpaired, so the outputs are bit-identical to running the two ops one after the other.
/// time_ops shows the pair's time on op I and about zero on op I + 1.
template <class Low, std::size_t I, class Arch>
struct band_pair_exec {
  using first = typename exec_for<Low, I, Arch>::type;
  using second = typename exec_for<Low, I + 1, Arch>::type;
  static constexpr fused_op p_op = Low::ops[I], d_op = Low::ops[I + 1];
  using pg = typename first::geo;
  using dg = typename second::geo;
  static constexpr bool fallback = false;
  static constexpr std::size_t zero_floats = std::max(first::zero_floats, second::zero_floats);
  static constexpr std::size_t workspace_floats = std::max(first::workspace_floats, second::workspace_floats);
  static_assert(dg::h == pg::oh && dg::w == pg::ow && dg::c == pg::f);
  // The producer's rows of work are its output rows (a row merge would break the band windows).
  static_assert(first::direct::rows_per_image == pg::oh);
  /// Depthwise output rows per band: the producer rows they need take about 1 MB (MobileNetV2 at batch 1 /
  /// 1 thread, the pairs' ops: 256 KB bands 0.75 - 0.79 ms, 64 KB 0.76 - 0.78, 1 MB 0.74 - 0.75).
  static constexpr std::int64_t band =
      std::max<std::int64_t>(1, (std::int64_t{1} << 18) / (std::int64_t{dg::sh} * dg::w * dg::c));

  first producer;
  second depthwise;
  explicit band_pair_exec(const float* p) : producer(p), depthwise(p) {}

  void run(const frame& fr) const {
    const std::int64_t d_rows = std::int64_t{fr.batch} * dg::oh, p_rows = std::int64_t{fr.batch} * pg::oh;
    // The first producer row (flat: image x row) the depthwise row `item` reads, and one past its last;
    // d_rows maps to p_rows.
    const auto window = [&](std::int64_t item, bool end) -> std::int64_t {
      if (item >= d_rows) return p_rows;
      const std::int64_t n = item / dg::oh, r = item % dg::oh;
      const std::int64_t y = r * dg::sh - dg::ph + (end ? dg::kh : 0);
      return n * pg::oh + std::clamp<std::int64_t>(y, 0, pg::oh);
    };
    const float* in = fr.at(p_op.inputs[0]);
    float* mid = fr.at(p_op.output);
    float* out = fr.at(d_op.output);
    const float* res = p_op.residual >= 0 ? fr.at(p_op.residual) : nullptr;
    const auto produce = [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t gb = 0; gb < std::int64_t{pg::g} * first::direct::blocks; ++gb)
        first::direct::template run<typename first::epilogue, (p_op.residual >= 0)>(
            producer.packed.get(), producer.bias.get(), in, mid, fr.zeros, fr.batch, gb * p_rows + b, gb * p_rows + e,
            res);
    };
    const auto consume = [&](std::int64_t b, std::int64_t e) {
      second::dw::template run<typename second::epilogue, false>(depthwise.packed.get(), depthwise.bias.get(), mid, out,
                                                                 b, e);
    };
    // Share t of the depthwise rows and the producer rows it owns.
    const auto shares = [&](int t, int n, std::int64_t& b, std::int64_t& e, std::int64_t& own_e) {
      const auto r = typenet::detail::split(d_rows, t, n);
      b = r.begin, e = r.end;
      own_e = t + 1 == n ? p_rows : window(typenet::detail::split(d_rows, t + 1, n).begin, false);
    };
    auto first_pass = [&](int t, int n) {
      std::int64_t b, e, own_e;
      shares(t, n, b, e, own_e);
      std::int64_t done = window(b, false);  // producer rows computed: [own start, done)
      for (std::int64_t d = b; d < e;) {
        const std::int64_t d_end = std::min(e, d + band);
        const std::int64_t want = std::min(window(d_end - 1, true), own_e);
        if (want > done) produce(done, want), done = want;
        std::int64_t ok = d;
        while (ok < d_end && window(ok, true) <= done) ++ok;
        if (ok > d) consume(d, ok);
        if (ok < d_end) break;  // the rest of the share reads the next thread's rows: second pass
        d = ok;
      }
      if (done < own_e) produce(done, own_e);
    };
    fr.pool->run(first_pass);
    if (fr.pool->size() > 1) {
      auto second_pass = [&](int t, int n) {
        std::int64_t b, e, own_e;
        shares(t, n, b, e, own_e);
        std::int64_t d = e;
        while (d > b && window(d - 1, true) > own_e) --d;
        if (d < e) consume(d, e);
      };
      fr.pool->run(second_pass);
    }
  }
};

/// The op that does nothing: band_pair_exec of op I - 1 ran it.
struct paired_exec : no_extras {
  explicit paired_exec(const float*) {}
  void run(const frame&) const {}
};

/// The executor of op I in the fp32 program: exec_for's, or a band pair's (band_pair_at).
template <class Low, std::size_t I, class Arch>
struct banded_exec_for {
  static constexpr bool head = band_pair_at<Low, I, Arch>();
  static constexpr bool tail = [] {
    if constexpr (I == 0)
      return false;
    else
      return band_pair_at<Low, I - 1, Arch>();
  }();
  using type = std::conditional_t<head, band_pair_exec<Low, I, Arch>,
                                  std::conditional_t<tail, paired_exec, typename exec_for<Low, I, Arch>::type>>;
};

/// banded_exec_for's executors as a template of the op's index (the fp32 program's ExecAt for staging).
template <class Low, class Arch>
struct banded_execs {
  template <std::size_t I>
  using at = typename banded_exec_for<Low, I, Arch>::type;
};

/// "layer3.0.conv1 (conv2d) +bn +relu", "add +relu", "concat": the name of fused op I.
template <class Low, std::size_t I>
std::string op_name() {
  constexpr auto op = Low::ops[I];
  std::string s = op.kind == op_desc::add ? "add" : "concat";
  if constexpr (op.kind == op_desc::layer) {
    using B = typename Low::template leaf<op.leaf>;
    s = std::string(typenet::detail::key_text<typename B::key>::view()) + " (" + B::layer::name() + ")";
  }
  if (op.bn >= 0) s += " +bn";
  if (op.residual >= 0) s += " +add";
  if (op.act != 0) s += op.act == 1 ? " +relu" : " +relu6";
  return s;
}

/// Adds op I's layer key to names when its executor E<I> is a reference fallback.
template <template <std::size_t> class E, std::size_t I>
void add_fallback(std::vector<std::string>& names) {
  using X = E<I>;
  if constexpr (X::fallback) {
    using B = typename X::B;
    names.push_back(std::string(typenet::detail::key_text<typename B::key>::view()) + " (" + B::layer::name() + ")");
  }
}
template <template <std::size_t> class E, std::size_t... I>
std::vector<std::string> fallback_layers(std::index_sequence<I...>) {
  std::vector<std::string> names;
  (add_fallback<E, I>(names), ...);
  return names;
}
/// The keys of the layers whose executor E<I> (a template of the op index) is a reference fallback.
/// (Helper functions, not a lambda over the pack: clang 14 crashed on that form.)
template <class Low, template <std::size_t> class E>
std::vector<std::string> fallback_layers() {
  return fallback_layers<E>(std::make_index_sequence<Low::op_count>{});
}

/// One fused op's median time over several forward passes (program::time_ops).
struct op_time {
  std::string name;
  double ms;
};

/// time_ops of a graph program: run_pass(start, after_op) runs one forward pass, calling start() before each
/// run of a stage and after_op(op) after each fused op; every op's time is summed over the pass's chunks, and
/// the median over `passes` forward passes is reported with the op's name.
template <class Low, class RunPass>
std::vector<op_time> time_ops(RunPass&& run_pass, int passes) {
  if (passes < 1) throw std::invalid_argument("typenet: time_ops: passes must be at least 1");
  using clock = std::chrono::steady_clock;
  std::vector<std::vector<double>> ms(Low::op_count, std::vector<double>(static_cast<std::size_t>(passes), 0.0));
  for (int pass = 0; pass < passes; ++pass) {
    auto last = clock::now();
    run_pass([&] { last = clock::now(); },
             [&](std::size_t op) {
               const auto now = clock::now();
               ms[op][static_cast<std::size_t>(pass)] += std::chrono::duration<double, std::milli>(now - last).count();
               last = now;
             });
  }
  const auto names = [&]<std::size_t... I>(std::index_sequence<I...>) {
    return std::vector<std::string>{op_name<Low, I>()...};
  }
  (std::make_index_sequence<Low::op_count>{});
  std::vector<op_time> r;
  for (std::size_t op = 0; op < Low::op_count; ++op) {
    auto& t = ms[op];
    std::nth_element(t.begin(), t.begin() + std::ptrdiff_t(t.size() / 2), t.end());
    r.push_back({names[op], t[t.size() / 2]});
  }
  return r;
}

/// Floats that a chunk of images may keep in the largest value an op touches: 2^21 (8 MB), so that the op
/// after it reads the value from cache rather than DRAM (ResNet-50's 64 x 112 x 112 maps: 2 images).
inline constexpr std::int64_t chunk_budget_floats = std::int64_t{1} << 21;

/// The factor by which the images a chunk may hold must grow for staging to start a new stage. 16: each
/// stage's arena is cold when the stage starts (its first ops ran 15 - 70 % slower on Zen 3), which only
/// pays where the chunk grows a lot. With 4, MobileNetV2's 56 x 56 layers ran 4 images at a time and lost
/// 3.6 ms of its 125 at batch 32 / 2 threads; with 16, only its 14 x 14 and 7 x 7 layers form a stage
/// (docs/performance.md). A variable template, so that a test can reach several stages with a small network.
template <class Low>
inline constexpr std::int64_t stage_step = 16;

/// How a graph program runs a batch: its fused op list cut into stages, each run over chunks of as many images
/// as keep the values its ops touch within chunk_budget_floats. The early layers of an ImageNet network run one
/// or two images at a time; the late ones, whose maps are small, run many at once, so that a 1x1 layer
/// streams its weights once per chunk instead of once per image and the pool's threads meet once per op per
/// chunk (the classifier runs over the whole batch: a GEMM, not a GEMV per image). A stage runs when the
/// stage before it has filled its chunk (chunk sizes are multiples of the one before).
///
/// Each value lives in the arena of the stage that reads it last (its home), with room for that stage's
/// chunk: an earlier stage writes it in place, at the image it has reached, so nothing is copied between
/// stages. Every stage's arena is placed by liveness over the stage's own ops (lifetimes::place), a value
/// written by an earlier stage alive from the stage's start; everything in it is dead once the stage has run.
///
/// A new stage starts at op i when every op from i on allows at least stage_step<Low> times the images of the
/// current stage's chunk, or at least weight_step times where the ops from i on are bound by their weights: at
/// the current chunk they would stream weight_ratio times more weight floats per image than the activation
/// floats they touch, and op i itself at least half that (ResNet-50's layer4 from layer4.0.conv3 on: 20 images,
/// not 2; never between the two ops of a band pair); at most max_stages. A program whose max_batch
/// fits the first stage's chunk runs `whole`, one stage of every op over one arena: split into stages, each
/// stage's arena would be memory the others do not warm (MobileNetV2 at batch 1: 5 - 6 % slower that way).
template <class Low, template <std::size_t> class ExecAt>
struct staging {
  static constexpr std::size_t values = Low::plan::size.size();
  static constexpr int max_stages = 8;
  static constexpr std::int64_t step = stage_step<Low>;
  /// The weight-bound stages (above). ResNet-50 at batch 32 / 2 threads, Zen 3 (docs/performance.md): layer4
  /// from layer4.0.conv3 on in chunks of 20 images, its ops 0.4 - 33 ms faster in six A/B runs (median 17; the
  /// whole pass of about 1,500 within the VM's noise); from layer4.0.conv1 on in chunks of 10 (a step of 4)
  /// 4 - 40 ms slower than that; ResNet-18 from layer2.1.conv2 on (a first op
  /// whose weights are 0.24 times its activations) level to 3 % slower, so op i must be weight-bound too.
  static constexpr std::int64_t weight_step = 8, weight_ratio = 4;
  struct layout {
    int count = 0;
    std::array<std::size_t, max_stages + 1> begin{};  ///< stage s: ops [begin[s], begin[s + 1])
    std::array<std::int64_t, max_stages> limit{};     ///< images a chunk of stage s may hold
    std::array<std::int64_t, max_stages> floats_per_image{};
    std::array<bool, max_stages> fallback{};    ///< whether an op of the stage runs a reference fallback
    std::array<int, values> home{};             ///< the stage whose arena holds value v (-1: no op uses it)
    std::array<std::int64_t, values> offset{};  ///< v's offset in floats per image in its home's arena
    /// The residual whose place value v takes (-1: none): see in_place_residual.
    std::array<int, values> in_place{};
  };

  /// The residual whose place op i's output may take (-1: none): where ExecAt<i> reads each residual element
  /// right before it writes the output element at the same place (residual_in_place), the residual has the
  /// output's size, no longer lives after op i within its stage s ([b, e)), and is not also an input of op i (a
  /// convolution reads an input pixel for every block of output channels, and its neighbours).
  template <std::size_t I>
  static constexpr int in_place_residual(const typenet::detail::lifetimes<values>& life, const layout& l, int s,
                                         std::size_t b) {
    constexpr fused_op op = Low::ops[I];
    if constexpr (op.residual < 0 || !requires { ExecAt<I>::residual_in_place; }) {
      return -1;
    } else {
      const auto r = static_cast<std::size_t>(op.residual);
      bool ok = ExecAt<I>::residual_in_place && l.home[r] == s && life.last_use[r] == static_cast<int>(I - b) &&
                Low::plan::size[r] == Low::plan::size[static_cast<std::size_t>(op.output)];
      for (int k = 0; k < op.input_count; ++k) ok = ok && op.inputs[static_cast<std::size_t>(k)] != op.residual;
      return ok ? op.residual : -1;
    }
  }

  static constexpr layout plan(bool split) {
    constexpr std::size_t n = Low::op_count;
    constexpr auto fallback = []<std::size_t... I>(std::index_sequence<I...>) {
      return std::array<bool, sizeof...(I)>{ExecAt<I>::fallback...};
    }
    (std::make_index_sequence<n>{});
    const auto& size = Low::plan::size;
    layout l;
    // allows[i]: the images every op from i on allows.
    std::array<std::int64_t, n + 1> allows{};
    allows[n] = std::numeric_limits<std::int64_t>::max();
    for (std::size_t i = n; i-- > 0;) {
      const op_desc& o = Low::deps[i];
      std::int64_t touched = size[static_cast<std::size_t>(o.output)];
      for (int k = 0; k < o.input_count; ++k)
        touched = std::max(touched, size[static_cast<std::size_t>(o.inputs[static_cast<std::size_t>(k)])]);
      allows[i] = std::min(allows[i + 1], std::max<std::int64_t>(1, chunk_budget_floats / touched));
    }
    // weights[i], touched[i]: the weight floats of op i and the activation floats it reads and writes per
    // image; from[i]: their sums over the ops from i on.
    std::array<std::int64_t, n> weights{}, touched{};
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((weights[I] =
            [] {
              if constexpr (Low::ops[I].kind == op_desc::layer)
                return std::int64_t{Low::template leaf<Low::ops[I].leaf>::weights};
              else
                return std::int64_t{0};
            }()),
       ...);
    }
    (std::make_index_sequence<n>{});
    std::array<std::int64_t, n + 1> from_weights{}, from_touched{};
    for (std::size_t i = n; i-- > 0;) {
      const op_desc& o = Low::deps[i];
      touched[i] = size[static_cast<std::size_t>(o.output)];
      for (int k = 0; k < o.input_count; ++k)
        touched[i] += size[static_cast<std::size_t>(o.inputs[static_cast<std::size_t>(k)])];
      from_weights[i] = from_weights[i + 1] + weights[i];
      from_touched[i] = from_touched[i + 1] + touched[i];
    }
    const auto weight_bound = [&](std::size_t i, std::int64_t chunk) {
      return allows[i] >= weight_step * chunk && from_weights[i] >= weight_ratio * chunk * from_touched[i] &&
             2 * weights[i] >= weight_ratio * chunk * touched[i];
    };
    l.count = 1;
    l.limit[0] = allows[0];
    for (std::size_t i = 1; i < n; ++i)
      if (const std::int64_t chunk = l.limit[static_cast<std::size_t>(l.count - 1)];
          split && l.count < max_stages && (allows[i] >= step * chunk || weight_bound(i, chunk)) &&
          !Low::band_candidate(i - 1)) {
        l.begin[static_cast<std::size_t>(l.count)] = i;
        l.limit[static_cast<std::size_t>(l.count++)] = allows[i];
      }
    l.begin[static_cast<std::size_t>(l.count)] = n;
    for (auto& h : l.home) h = -1;
    for (auto& a : l.in_place) a = -1;
    for (int s = 0; s < l.count; ++s)
      for (std::size_t i = l.begin[static_cast<std::size_t>(s)]; i < l.begin[static_cast<std::size_t>(s) + 1]; ++i) {
        const op_desc& o = Low::deps[i];
        l.home[static_cast<std::size_t>(o.output)] = s;  // values are defined once, in op order
        for (int k = 0; k < o.input_count; ++k)
          l.home[static_cast<std::size_t>(o.inputs[static_cast<std::size_t>(k)])] = s;
        l.fallback[static_cast<std::size_t>(s)] = l.fallback[static_cast<std::size_t>(s)] || fallback[i];
      }
    for (int s = 0; s < l.count; ++s) {
      const std::size_t b = l.begin[static_cast<std::size_t>(s)], e = l.begin[static_cast<std::size_t>(s) + 1];
      std::array<op_desc, n> ops{};
      for (std::size_t i = b; i < e; ++i) ops[i - b] = Low::deps[i];
      // Values of earlier stages are defined before the stage's first op (lifetimes: -2, or -1 for the input).
      const typenet::detail::lifetimes<values> life{ops, e - b, Low::output, s + 1 == l.count};
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((I >= b && I < e
              ? void(l.in_place[static_cast<std::size_t>(Low::ops[I].output)] = in_place_residual<I>(life, l, s, b))
              : void()),
         ...);
      }
      (std::make_index_sequence<n>{});
      const auto off = life.place(
          size, [&](int v) { return l.home[static_cast<std::size_t>(v)] == s; },
          [&](int v) { return l.in_place[static_cast<std::size_t>(v)]; });
      for (std::size_t v = 0; v < values; ++v)
        if (l.home[v] == s) {
          l.offset[v] = off[v];
          l.floats_per_image[static_cast<std::size_t>(s)] =
              std::max(l.floats_per_image[static_cast<std::size_t>(s)], off[v] + size[v]);
        }
    }
    return l;
  }
  static constexpr layout place = plan(true), whole = plan(false);
};

/// Runs the executors [begin, end) of a program's tuple on fr, calling after_op(op) after each.
template <class Execs, class Frame, class AfterOp>
void run_ops(Execs& execs, const Frame& fr, std::size_t begin, std::size_t end, AfterOp&& after_op) {
  std::size_t op = 0;
  boost::hana::for_each(execs, [&](auto& e) {
    if (op >= begin && op < end) {
      e.run(fr);
      after_op(op);
    }
    ++op;
  });
}

/// The output edge of a graph program: the network's output value (fp32, NHWC or flat) of images [0, batch)
/// -> out (NCHW or flat).
template <class Low>
void store_output(thread_pool& pool, const float* last, float* out, int batch) {
  constexpr value_dims d = Low::plan::dims[static_cast<std::size_t>(Low::output)];
  constexpr std::int64_t size = Low::plan::size[static_cast<std::size_t>(Low::output)];
  split_run(pool, batch, [&](std::int64_t b, std::int64_t e) {
    if constexpr (d.c > 0)
      ks::nhwc_to_nchw<d.c, d.h, d.w>(last, out, b, e);
    else
      std::memcpy(out + b * size, last + b * size, sizeof(float) * std::size_t(e - b) * size);
  });
}

/// What every graph program (fp32, bf16, int8) shares: a forward pass runs the batch through the stages of
/// staging<Low, ExecAt>, each over chunks of cap(s) images (its limit, at most max_batch, a multiple of the
/// chunk before it), through Derived::run_stage(s, in, out, first, images, after_op) (in and out: the whole
/// batch's; stage 0 loads its images from in, the last stores them to out; after_op(op) after each fused
/// op); time_ops times those same passes. Derived passes its checked max_batch and allocates
/// arena_floats() floats of arena; value_offsets() says where a stage's values are.
template <class Derived, class Low, template <std::size_t> class ExecAt>
class chunked_program {
 public:
  using stages = staging<Low, ExecAt>;
  /// Images per chunk of the first stage (ResNet-50's 64 x 112 x 112 maps, 3.2 MB per image: 2). Measured on
  /// ResNet-50, MobileNetV2 and SqueezeNet at batch 32 (docs/performance.md): 1 - 2 images per chunk beat one
  /// pass over the whole batch by 25 - 40 %.
  static constexpr int chunk_images = static_cast<int>(std::min<std::int64_t>(stages::place.limit[0], 1 << 30));
  /// Operations one forward pass runs, after fusion.
  static constexpr std::size_t fused_ops = Low::op_count;

  void run(const float* in, float* out, int batch) {
    simd_detail::check_batch(batch, max_batch_);
    run_pass(
        in, out, batch, [] {}, [](std::size_t) {});
  }

  /// Where a forward pass spends its time: per fused op (in run order), its name and the median over
  /// `passes` forward passes of its time summed over the batch's chunks, in ms. The ops run exactly as in
  /// run() (same kernels, threads and chunks); only a clock is read between them. For finding the layer to
  /// work on; allocates the result, so it is not for the timed path itself.
  std::vector<op_time> time_ops(const float* in, float* out, int batch, int passes) {
    simd_detail::check_batch(batch, max_batch_);
    return simd_graph::time_ops<Low>([&](auto&& start, auto&& after_op) { run_pass(in, out, batch, start, after_op); },
                                     passes);
  }

  /// The stages this program runs (staging's `place`, or `whole` when max_batch fits the first one's chunk).
  int stage_count() const { return plan_->count; }
  /// Images per chunk of stage s for this program's max_batch.
  int stage_images(int s) const { return cap_[static_cast<std::size_t>(s)]; }
  /// The most images a run of fused op `op` holds: its stage's chunk.
  int op_images(std::size_t op) const {
    int s = 0;
    while (!last_stage(s) && stage_begin(s + 1) <= op) ++s;
    return stage_images(s);
  }

 protected:
  explicit chunked_program(int max_batch)
      : max_batch_(max_batch), plan_(max_batch <= stages::place.limit[0] ? &stages::whole : &stages::place) {
    std::int64_t at = 0;
    for (int s = 0; s < plan_->count; ++s) {
      const auto k = static_cast<std::size_t>(s);
      // A multiple of the chunk before (a chunk of stage s - 1 never straddles two of stage s), unless it is
      // the whole batch (one chunk).
      std::int64_t c = std::min<std::int64_t>(plan_->limit[k], max_batch);
      if (s > 0 && c < max_batch) c = std::max<std::int64_t>(cap_[k - 1], c / cap_[k - 1] * cap_[k - 1]);
      cap_[k] = static_cast<int>(c);
      base_[k] = at;
      at += (plan_->floats_per_image[k] * c + 15) / 16 * 16;
      if (plan_->fallback[k]) fallback_images_ = std::max(fallback_images_, cap_[k]);
    }
    arena_floats_ = at;
  }

  /// The arena's floats (the stages' arenas one after another).
  std::int64_t arena_floats() const { return arena_floats_; }
  /// The most images a stage with a reference fallback runs at once (its scratch holds that many).
  int fallback_images() const { return fallback_images_; }
  std::size_t stage_begin(int s) const { return plan_->begin[static_cast<std::size_t>(s)]; }
  bool last_stage(int s) const { return s + 1 == plan_->count; }

  /// Where the values stage s uses are for its chunk from image `first` (a multiple of its chunk): at[v], in
  /// elements from the arena, for an arena of per_float elements per float of the plan and values of
  /// elems[v] elements per image.
  void value_offsets(int s, int first, std::int64_t per_float, const std::int64_t* elems, std::int64_t* at) const {
    for (std::size_t v = 0; v < stages::values; ++v) {
      const int h = plan_->home[v];
      if (h < s) continue;  // not a value of this stage or a later one
      const auto k = static_cast<std::size_t>(h);
      at[v] = (base_[k] + plan_->offset[v] * cap_[k]) * per_float + std::int64_t{first % cap_[k]} * elems[v];
    }
  }

  /// One forward pass: start() before each run of a stage, after_op(op) after each fused op.
  template <class Start, class AfterOp>
  void run_pass(const float* in, float* out, int batch, Start&& start, AfterOp&& after_op) {
    for (int i = 0; i < batch; i += cap_[0])
      run_from(0, in, out, i, std::min(cap_[0], batch - i), batch, start, after_op);
  }
  // Stage s over images [first, first + images), then the next stage if its chunk is now full (or the batch
  // is done).
  template <class Start, class AfterOp>
  void run_from(int s, const float* in, float* out, int first, int images, int batch, Start& start, AfterOp& after_op) {
    start();
    self().run_stage(s, in, out, first, images, after_op);
    if (last_stage(s)) return;
    const int end = first + images, c = cap_[static_cast<std::size_t>(s) + 1];
    if (end % c == 0 || end == batch) {
      const int f = (end - 1) / c * c;
      run_from(s + 1, in, out, f, end - f, batch, start, after_op);
    }
  }

  int max_batch_;

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  const typename stages::layout* plan_;
  std::array<int, stages::max_stages> cap_{};
  std::array<std::int64_t, stages::max_stages> base_{};
  std::int64_t arena_floats_ = 0;
  int fallback_images_ = 0;
};

}  // namespace typenet::exec::simd_graph
