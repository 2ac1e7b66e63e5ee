// typenet/exec/simd/bf16_graph.hpp: exec::simd<Arch, precision::bf16> for graph networks (residual and
// concat blocks, batch norm, relu6, depthwise convolutions: ResNet, MobileNetV2, SqueezeNet). Included by
// exec/simd/bf16.hpp; use it through exec/simd.hpp.
//
// The fused op list of the fp32 graph program (fusion/graph.hpp: batch norm folded into the convolutions,
// residual joins and activations in their epilogues) over the same arena plan, with every value stored as
// bf16 (NHWC, channels rounded up to even as in kernels/simd/bf16.hpp; flat values with their length
// rounded up to even), run by simd_reduced_graph::graph_program (exec/simd/reduced_graph.hpp).
//   * convolutions with one group, or grouped with an even number of channels per group: conv_amx_kernel on
//     AMX tiles where ks::amx_suits (compiled with AMX, one group), else conv_bf16_kernel (direct) or winograd_bf16
//     where ks::winograd_suits (not ks::winograd_batched's 7 x 7 maps), weights folded with their batch norm in fp32
//     and then rounded to bf16; the residual (bf16) is added in fp32 before the epilogue, and the result is rounded
//     once;
//   * depthwise convolutions with an even channel count: depthwise.hpp's kernel on bf16 storage (fp32 weights
//     and sums: it is memory-bound, so the bf16 win is the halved activation traffic);
//   * concat along channels with even channel counts: a copy of the bf16 channels;
//   * max and average pools with an even channel count: pool.hpp's kernel over bf16 storage;
//   * every other op (adaptive pools, LRN, dense, standalone batch norm, activations, joins, softmax, layers
//     with a reference fallback): its fp32 executor of exec/simd/graph.hpp on fp32 copies, between a widening
//     pass over its inputs and a rounding pass over its output (simd_reduced_graph::shadow_exec).
// The input is rounded to bf16 when it is converted to NHWC, and the output comes back as fp32: the
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

#include "../../kernels/simd/amx.hpp"
#include "../../kernels/simd/bf16.hpp"
#include "../../kernels/simd/depthwise.hpp"
#include "../../kernels/simd/pool.hpp"
#include "graph.hpp"
#include "reduced_graph.hpp"

#if TYPENET_HAS_BF16

namespace typenet::exec::simd_bf16_graph {

namespace ks = ::typenet::kernels::simd;
using ks::bf16_t;
using ks::stored_channels;
using simd_graph::fused_op;
using ::typenet::detail::thread_pool;

/// bf16 as a simd_reduced_graph Format: channels stored rounded up to even, the padding channel 0.
struct format {
  using T = bf16_t;
  static constexpr int per_float = 2;
  static constexpr int stored(int c) { return stored_channels(c); }
  template <int C>
  static void to_f32(const bf16_t* src, float* dst, std::int64_t pixels, const ks::act_quant&) {
    ks::pixels_to_f32<C>(src, dst, pixels);
  }
  template <int C>
  static void from_f32(const float* src, bf16_t* dst, std::int64_t pixels, const ks::act_quant&) {
    ks::pixels_to_bf16<C>(src, dst, pixels);
  }
  template <int C, int H, int W>
  static void from_nchw(const float* in, bf16_t* out, std::int64_t b, std::int64_t e, const ks::act_quant&) {
    ks::nchw_to_nhwc_bf16<C, H, W>(in, out, b, e);
  }
};
using frame = simd_reduced_graph::frame<format>;
template <class Low, int V>
using stored_value = simd_reduced_graph::stored_value<format, Low, V>;
using simd_reduced_graph::no_extras;

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
  static constexpr bool amx = !depthwise && ks::amx_suits<geo>;
  static constexpr bool winograd = !amx && ks::winograd_suits<geo>;
  struct none {
    static constexpr std::size_t zero_elems = 0, workspace_floats_per_part = 0, workspace_floats = 0;
  };
  using direct = std::conditional_t<depthwise || winograd || amx, none, ks::conv_bf16_kernel<geo, bf16_t>>;
  using wino = std::conditional_t<winograd, ks::winograd_bf16<geo::c, geo::h, geo::w, geo::f, bf16_t>, none>;
  using dw = std::conditional_t<depthwise, ks::depthwise_kernel<geo, Arch, bf16_t>, none>;
#if TYPENET_HAS_AMX
  using tiles = std::conditional_t<amx, ks::conv_amx_kernel<geo, bf16_t>, none>;
#else
  using tiles = none;
#endif
  static constexpr std::size_t zero_elems = direct::zero_elems;
  static constexpr std::size_t workspace_floats = std::max(wino::workspace_floats_per_part, tiles::workspace_floats);

  detail::aligned_floats packed, bias;

  static constexpr std::size_t packed_floats() {
    if constexpr (depthwise)
      return dw::packed_floats;
    else if constexpr (amx)
      return (tiles::packed_elems + 1) / 2;
    else if constexpr (winograd)
      return (wino::packed_elems + 1) / 2;
    else
      return (direct::packed_elems + 1) / 2;
  }
  static constexpr std::size_t bias_floats() {
    if constexpr (depthwise)
      return dw::packed_bias_floats;
    else if constexpr (amx)
      return tiles::packed_bias_floats;
    else if constexpr (winograd)
      return std::size_t(geo::f);
    else
      return direct::packed_bias_floats;
  }

  explicit conv_exec(const float* p)
      : packed(simd_graph::floats(packed_floats())), bias(simd_graph::floats(bias_floats())) {
    std::vector<float> wf, bf;
    simd_graph::conv_exec<Low, Op, Arch>::folded(p, wf, bf);
    if constexpr (depthwise) {
      dw::pack(wf.data(), bf.data(), packed.get(), bias.get());
    } else if constexpr (amx) {
      tiles::pack(wf.data(), bf.data(), weights(), bias.get());
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
    } else if constexpr (amx) {
      ks::amx_parts<tiles>(
          *fr.pool, fr.batch, fr.workspace, [&](float* ws, std::int64_t b, std::int64_t e, int ob0, int ob1) {
            tiles::template run<epilogue, add>(weights(), bias.get(), in, out, ws, b, e, ob0, ob1, res);
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
  static constexpr std::array<int, ::typenet::detail::max_concat_branches> channels =
      simd_graph::concat_exec<Low, Op, Arch>::channels;
  explicit concat_exec(const float*) {}
  void run(const frame& fr) const {
    std::array<const bf16_t*, ::typenet::detail::max_concat_branches> in{};
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

using simd_reduced_graph::is_f32_concat;
using simd_reduced_graph::is_f32_conv;
using simd_reduced_graph::is_f32_dense;
#if TYPENET_HAS_AMX
/// A dense layer (the classifier) on AMX tiles: conv_amx_kernel as a 1x1 convolution over the batch's rows,
/// reading the stored bf16 input in place (its length whole blocks of 32, no padding channel) and writing
/// fp32 to the op's shadow value, as the fp32 executor would (so the network's logits are not rounded), then
/// rounding that to the stored value for any op that reads it.
template <class Low, fused_op Op, class Arch>
struct dense_exec : no_extras {
  static constexpr bool shadow = true;  // the fp32 result is in the shadow arena
  using f32 = simd_graph::dense_exec<Low, Op, Arch>;
  using tiles =
      ks::conv_amx_kernel<ks::conv_geometry<f32::in_size, 1, 1, f32::out_size, 1, 1, 1, 1, 1, 1, 0, 0, 1>, float>;
  static_assert(tiles::workspace_floats == tiles::acc_floats, "read in place: no input buffer");
  detail::aligned_floats packed, bias;

  explicit dense_exec(const float* p)
      : packed(simd_graph::floats((tiles::packed_elems + 1) / 2)), bias(simd_graph::floats(tiles::packed_bias_floats)) {
    std::vector<float> v, b;
    simd_reduced_graph::dense_weights_hwc<f32>(p, v, b);
    tiles::pack(v.data(), b.data(), reinterpret_cast<bf16_t*>(packed.get()), bias.get());
  }

  void run(const frame& fr) const {
    const bf16_t* in = fr.at(Op.inputs[0]);
    float* out = fr.f32->at(Op.output);
    auto part = [&](int t, int n) {
      const auto r = typenet::detail::split(tiles::blocks, t, n);
      tiles::template run<typename f32::epilogue>(reinterpret_cast<const bf16_t*>(packed.get()), bias.get(), in, out,
                                                  nullptr, 0, fr.batch, int(r.begin), int(r.end));
    };
    fr.pool->run(part);
    stored_value<Low, Op.output>::round_all(fr);
  }
};
#endif

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
  static constexpr bool native_pool = simd_reduced_graph::runs_stored_pool<format, f32_exec, true>();
  static constexpr bool native_dense = [] {
    if constexpr (is_f32_dense<f32_exec>::value && TYPENET_HAS_AMX) {
      using in_v = stored_value<Low, op.inputs[0]>;
      return op.residual < 0 && op.input_count == 1 && in_v::stored == in_v::channels && f32_exec::in_size % 32 == 0;
    } else {
      return false;
    }
  }();
#if TYPENET_HAS_AMX
  using dense = std::conditional_t<native_dense, dense_exec<Low, op, Arch>, void>;
#else
  using dense = void;
#endif
  using type = std::conditional_t<
      native_dense, dense,
      std::conditional_t<
          native_conv, conv_exec<Low, op, Arch>,
          std::conditional_t<native_concat, concat_exec<Low, op, Arch>,
                             std::conditional_t<native_pool, simd_reduced_graph::pool_exec<format, Low, op, Arch>,
                                                simd_reduced_graph::shadow_exec<format, Low, I, Arch>>>>>;
};

}  // namespace typenet::exec::simd_bf16_graph

#endif  // TYPENET_HAS_BF16
