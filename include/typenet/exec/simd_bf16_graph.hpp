// typenet/exec/simd_bf16_graph.hpp: exec::simd<Arch, precision::bf16> for graph networks (residual and
// concat blocks, batch norm, relu6, depthwise convolutions: ResNet, MobileNetV2, SqueezeNet). Included by
// exec/simd_bf16.hpp; use it through exec/simd.hpp.
//
// The fused op list of the fp32 graph program (fusion/graph.hpp: batch norm folded into the convolutions,
// residual joins and activations in their epilogues) over the same arena plan, with every value stored as
// bf16 (NHWC, channels rounded up to even as in kernels/simd/bf16.hpp; flat values with their length
// rounded up to even). A value's bf16 copy sits at the start of its fp32 slot (a slot of n floats holds the
// 2n bf16 elements that any stored value of n floats needs), so the liveness plan is the fp32 one.
//   * convolutions with one group, or grouped with an even number of channels per group: conv_bf16_kernel
//     (direct) or winograd_bf16 where ks::winograd_suits says the fp32 program uses Winograd, weights folded
//     with their batch norm in fp32 and then rounded to bf16; the residual (bf16) is added in fp32 before
//     the epilogue, and the result is rounded once;
//   * depthwise convolutions with an even channel count: depthwise.hpp's kernel on bf16 storage (fp32 weights
//     and sums: it is memory-bound, so the bf16 win is the halved activation traffic);
//   * concat along channels with even channel counts: a copy of the bf16 channels;
//   * max and average pools with an even channel count: pool.hpp's kernel over bf16 storage;
//   * every other op (adaptive pools, LRN, dense, standalone batch norm, activations, joins, softmax, layers
//     with a reference fallback): its fp32 executor of exec/simd_graph.hpp on fp32 copies, between a widening
//     pass over its inputs and a rounding pass over its output (a "shadow" arena with the fp32 plan's
//     offsets).
// The input is rounded to bf16 when it is converted to NHWC, and the output is widened back to fp32: the
// contract is the fp32 one. Everything is allocated by the constructor; run() allocates nothing.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../kernels/simd/bf16.hpp"
#include "../kernels/simd/depthwise.hpp"
#include "../kernels/simd/pool.hpp"
#include "simd_graph.hpp"

#if TYPENET_HAS_BF16

namespace typenet::exec::simd_bf16_graph {

namespace ks = ::typenet::kernels::simd;
using ks::bf16_t;
using ks::stored_channels;
using simd_graph::fused_op;
using ::typenet::detail::thread_pool;

/// Where the values are during one run: the bf16 arena, and the fp32 frame the shadow executors use.
struct frame {
  bf16_t* arena;
  const std::int64_t* offset;
  int max_batch;
  int batch;
  thread_pool* pool;
  const bf16_t* zeros;
  float* workspace;              ///< per thread, for winograd_bf16
  const simd_graph::frame* f32;  ///< the shadow arena (fp32, the plan's offsets)
  bf16_t* at(int v) const { return arena + offset[static_cast<std::size_t>(v)] * 2 * max_batch; }
};

/// How value V of a lowered network is stored: `channels` per pixel (a flat value: its length, one pixel
/// per image), stored_channels(channels) bf16 elements per pixel.
template <class Low, int V>
struct stored_value {
  static constexpr value_dims d = Low::plan::dims[static_cast<std::size_t>(V)];
  static constexpr int channels = d.c > 0 ? d.c : static_cast<int>(Low::plan::size[static_cast<std::size_t>(V)]);
  static constexpr int stored = stored_channels(channels);
  static constexpr std::int64_t pixels = d.c > 0 ? std::int64_t{d.h} * d.w : 1;

  /// Pixels [b, e) of the batch (image-major) bf16 -> fp32 shadow.
  static void widen(const frame& fr, std::int64_t b, std::int64_t e) {
    ks::pixels_to_f32<channels>(fr.at(V) + b * stored, fr.f32->at(V) + b * channels, e - b);
  }
  /// Pixels [b, e): fp32 shadow -> bf16 (the padding channel 0).
  static void round(const frame& fr, std::int64_t b, std::int64_t e) {
    ks::pixels_to_bf16<channels>(fr.f32->at(V) + b * channels, fr.at(V) + b * stored, e - b);
  }
  static void widen_all(const frame& fr) {
    simd_graph::split_run(*fr.pool, pixels * fr.batch, [&](std::int64_t b, std::int64_t e) { widen(fr, b, e); });
  }
  static void round_all(const frame& fr) {
    simd_graph::split_run(*fr.pool, pixels * fr.batch, [&](std::int64_t b, std::int64_t e) { round(fr, b, e); });
  }
};

struct no_extras {
  static constexpr std::size_t zero_elems = 0, workspace_floats = 0, f32_zero_floats = 0, f32_workspace_floats = 0;
  static constexpr bool fallback = false, shadow = false;
};

/// An op with no bf16 kernel: its fp32 executor on widened copies of its inputs (and residual), its output
/// rounded back. Op I's fp32 executor is exactly the fp32 program's.
template <class Low, std::size_t I, class Arch>
struct shadow_exec {
  using f32_exec = typename simd_graph::exec_for<Low, I, Arch>::type;
  static constexpr fused_op op = Low::ops[I];
  static constexpr std::size_t zero_elems = 0, workspace_floats = 0;
  static constexpr std::size_t f32_zero_floats = f32_exec::zero_floats;
  static constexpr std::size_t f32_workspace_floats = f32_exec::workspace_floats;
  static constexpr bool fallback = f32_exec::fallback, shadow = true;
  using B = typename Low::template leaf<(op.leaf >= 0 ? op.leaf : 0)>;

  f32_exec exec;
  explicit shadow_exec(const float* p) : exec(p) {}

  void run(const frame& fr) const {
    [&]<std::size_t... K>(std::index_sequence<K...>) { (stored_value<Low, op.inputs[K]>::widen_all(fr), ...); }
    (std::make_index_sequence<static_cast<std::size_t>(op.input_count)>{});
    if constexpr (op.residual >= 0) stored_value<Low, op.residual>::widen_all(fr);
    exec.run(*fr.f32);
    stored_value<Low, op.output>::round_all(fr);
  }
};

/// A convolution on bf16 values: direct or Winograd (pairs of channels on vdpbf16ps), or depthwise (fp32
/// weights and sums on widened bf16 loads), with the batch norm folded, the residual and the activation
/// in the epilogue.
template <class Low, fused_op Op, class Arch>
struct conv_exec : no_extras {
  using B = typename Low::template leaf<Op.leaf>;
  using geo = ks::conv_geometry_of<B>;
  using epilogue = simd_graph::epilogue_t<Op.act>;
  static constexpr bool add = Op.residual >= 0;
  static constexpr bool depthwise = geo::g == geo::c && geo::f == geo::c && geo::c > 1;
  static constexpr bool winograd = ks::winograd_suits<geo>;
  struct none {
    static constexpr std::size_t zero_elems = 0, workspace_floats_per_part = 0;
  };
  using direct = std::conditional_t<depthwise || winograd, none, ks::conv_bf16_kernel<geo, bf16_t>>;
  using wino = std::conditional_t<winograd, ks::winograd_bf16<geo::c, geo::h, geo::w, geo::f, bf16_t>, none>;
  using dw = std::conditional_t<depthwise, ks::depthwise_kernel<geo, Arch, bf16_t>, none>;
  static constexpr std::size_t zero_elems = direct::zero_elems;
  static constexpr std::size_t workspace_floats = wino::workspace_floats_per_part;

  detail::aligned_floats packed, bias;

  static constexpr std::size_t packed_floats() {
    if constexpr (depthwise)
      return dw::packed_floats;
    else if constexpr (winograd)
      return (wino::packed_elems + 1) / 2;
    else
      return (direct::packed_elems + 1) / 2;
  }
  static constexpr std::size_t bias_floats() {
    if constexpr (depthwise)
      return dw::packed_bias_floats;
    else if constexpr (winograd)
      return std::size_t(geo::f);
    else
      return direct::packed_bias_floats;
  }

  explicit conv_exec(const float* p)
      : packed(simd_graph::floats(packed_floats())), bias(simd_graph::floats(bias_floats())) {
    std::vector<float> wf, bf;
    simd_graph::fold_conv(p + B::tensor_offset(0), B::layer::has_bias ? p + B::tensor_offset(1) : nullptr,
                          simd_graph::conv_exec<Low, Op, Arch>::bn_tensors(p), geo::f,
                          std::size_t(geo::cg) * geo::kh * geo::kw, wf, bf);
    if constexpr (depthwise) {
      dw::pack(wf.data(), bf.data(), packed.get(), bias.get());
    } else if constexpr (winograd) {
      wino::pack(wf.data(), weights());
      std::copy(bf.begin(), bf.end(), bias.get());
    } else {
      direct::pack(wf.data(), bf.data(), weights(), bias.get());
    }
  }

  void run(const frame& fr) const {
    const bf16_t* in = fr.at(Op.inputs[0]);
    bf16_t* out = fr.at(Op.output);
    const bf16_t* res = add ? fr.at(Op.residual) : nullptr;
    if constexpr (depthwise) {
      simd_graph::split_run(*fr.pool, dw::items(fr.batch), [&](std::int64_t b, std::int64_t e) {
        dw::template run<epilogue, add>(packed.get(), bias.get(), in, out, b, e, res);
      });
    } else if constexpr (winograd) {
      auto part = [&](int t, int n) {
        const auto r = typenet::detail::split(wino::tiles(fr.batch), t, n);
        wino::template run_tiles<epilogue, add>(weights(), bias.get(), in, out,
                                                fr.workspace + std::size_t(t) * workspace_floats, r.begin, r.end, res);
      };
      fr.pool->run(part);
    } else {
      // As the fp32 program splits its direct convolutions: a contiguous share of output rows per thread
      // (every block of it), or blocks claimed in chunks where rows are few.
      const std::int64_t rows = std::int64_t{fr.batch} * geo::oh;
      if (rows >= 4 * fr.pool->size()) {
        simd_graph::split_run(*fr.pool, rows, [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t gb = 0; gb < std::int64_t{geo::g} * direct::blocks; ++gb)
            direct::template run<epilogue, add>(weights(), bias.get(), in, out, fr.zeros, fr.batch, gb * rows + b,
                                                gb * rows + e, res);
        });
      } else {
        simd_graph::claim_chunks(*fr.pool, direct::items(fr.batch), [&](std::int64_t b, std::int64_t e) {
          direct::template run<epilogue, add>(weights(), bias.get(), in, out, fr.zeros, fr.batch, b, e, res);
        });
      }
    }
  }

 private:
  bf16_t* weights() const { return reinterpret_cast<bf16_t*>(packed.get()); }
};

/// A concat join along channels of bf16 values (even channel counts: each branch's stored channels are its
/// channels, so the output pixel is the branches' pixels one after another).
template <class Low, fused_op Op, class Arch>
struct concat_exec : no_extras {
  using out_v = stored_value<Low, Op.output>;
  static constexpr std::array<int, 8> channels = simd_graph::concat_exec<Low, Op, Arch>::channels;
  explicit concat_exec(const float*) {}
  void run(const frame& fr) const {
    std::array<const bf16_t*, 8> in{};
    for (int k = 0; k < Op.input_count; ++k) in[std::size_t(k)] = fr.at(Op.inputs[std::size_t(k)]);
    bf16_t* out = fr.at(Op.output);
    simd_graph::split_run(*fr.pool, out_v::pixels * fr.batch, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t q = b; q < e; ++q) {
        bf16_t* y = out + q * out_v::stored;
        for (int k = 0; k < Op.input_count; ++k) {
          const std::size_t c = std::size_t(channels[std::size_t(k)]);
          std::memcpy(y, in[std::size_t(k)] + std::size_t(q) * c, sizeof(bf16_t) * c);
          y += c;
        }
      }
    });
  }
};

/// A max or average pool on bf16 values (even channel count): pool.hpp's kernel over bf16 storage (a max
/// is exact; an average is summed in fp32 and rounded once).
template <class Low, fused_op Op, class Arch>
struct pool_exec : no_extras {
  using B = typename Low::template leaf<Op.leaf>;
  using L = typename B::layer;
  using kernel = ks::pool_kernel<ks::pool_geometry_of<B>,
                                 L::kind == pool_kind::max ? ks::pool_op::max : ks::pool_op::average, Arch, bf16_t>;
  explicit pool_exec(const float*) {}
  void run(const frame& fr) const {
    simd_graph::split_run(*fr.pool, kernel::items(fr.batch), [&](std::int64_t b, std::int64_t e) {
      kernel::run(fr.at(Op.inputs[0]), fr.at(Op.output), b, e);
    });
  }
};

template <class T>
struct is_f32_conv : std::false_type {};
template <class L, fused_op O, class A>
struct is_f32_conv<simd_graph::conv_exec<L, O, A>> : std::true_type {};
template <class T>
struct is_f32_concat : std::false_type {};
template <class L, fused_op O, class A>
struct is_f32_concat<simd_graph::concat_exec<L, O, A>> : std::true_type {};
template <class T>
struct is_f32_spatial : std::false_type {};
template <class L, fused_op O, class A>
struct is_f32_spatial<simd_graph::spatial_exec<L, O, A>> : std::true_type {};

/// Op I's bf16 executor: a bf16 kernel where one serves it, else the shadow executor.
template <class Low, std::size_t I, class Arch>
struct exec_for {
  static constexpr fused_op op = Low::ops[I];
  using f32_exec = typename simd_graph::exec_for<Low, I, Arch>::type;
  static constexpr bool native_conv = [] {
    if constexpr (is_f32_conv<f32_exec>::value) {
      using geo = typename f32_exec::geo;
      constexpr bool dw = geo::g == geo::c && geo::f == geo::c && geo::c > 1;
      if constexpr (dw) return geo::c % 2 == 0;
      return geo::g == 1 || (geo::cg % 2 == 0 && geo::fg % 2 == 0);
    } else {
      return false;
    }
  }();
  static constexpr bool native_concat = [] {
    if constexpr (is_f32_concat<f32_exec>::value) {
      if (stored_value<Low, op.output>::d.c <= 0) return false;
      for (int k = 0; k < op.input_count; ++k)
        if (f32_exec::channels[std::size_t(k)] % 2 != 0 ||
            Low::plan::dims[std::size_t(op.inputs[std::size_t(k)])].c <= 0)
          return false;
      return true;
    } else {
      return false;
    }
  }();
  static constexpr bool native_pool = [] {
    if constexpr (is_f32_spatial<f32_exec>::value) {
      using L = typename f32_exec::L;
      return layer_kind_of<L> == layer_kind::pool && f32_exec::C % 2 == 0;
    } else {
      return false;
    }
  }();
  using type = std::conditional_t<
      native_conv, conv_exec<Low, op, Arch>,
      std::conditional_t<native_concat, concat_exec<Low, op, Arch>,
                         std::conditional_t<native_pool, pool_exec<Low, op, Arch>, shadow_exec<Low, I, Arch>>>>;
};

}  // namespace typenet::exec::simd_bf16_graph

#endif  // TYPENET_HAS_BF16
