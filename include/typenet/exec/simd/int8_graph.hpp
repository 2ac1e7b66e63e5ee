// typenet/exec/simd/int8_graph.hpp: exec::simd<Arch, precision::int8> for graph networks (residual and
// concat blocks, batch norm, relu6, depthwise convolutions: ResNet, MobileNetV2, SqueezeNet). Included by
// exec/simd/int8.hpp; use it through exec/simd.hpp.
//
// The fused op list of the fp32 graph program (fusion/graph.hpp: batch norm folded into the convolutions,
// residual joins and activations in their epilogues) over the same arena plan, run by
// simd_reduced_graph::graph_program, with every value stored as u8 (NHWC, channels rounded up to a multiple
// of 4, the extra ones the value's zero point), each value with the scale and zero point of its calibrated
// range (policy.ranges: one per value of the plan, exec::calibrate<Net>):
//   * convolutions with one group, or grouped with a multiple of 4 channels per group: conv_int8_kernel
//     (vpdpbusd, exact int32 sums), or conv_amx_int8_kernel (tdpbusd on AMX tiles) for one group where
//     compiled with AMX_INT8, weights folded with their batch norm in fp32 and then quantised per output
//     channel; the residual (u8, its own scale) is dequantised and added in fp32 before the
//     activation, and the result is quantised once with the output's scale;
//   * max pools on a multiple of 4 channels: pool.hpp's kernel over u8 storage, the output sharing the input's
//     scale and zero point (tie_max_pools), which makes the max exact;
//   * depthwise convolutions on a multiple of 4 channels without a residual: depthwise.hpp's kernel reading and
//     writing u8 (fp32 weights, with the input's scale folded in, and fp32 sums on the stored integers minus
//     the zero point; the result quantised once);
//   * the classifier's dense layer on AMX tiles where compiled with AMX_INT8 and its stored input is whole
//     steps of 64 (int8 weights per output channel, fp32 logits to the shadow value);
//   * every other op (average pools, concat, dense, standalone batch norm, activations,
//     joins, softmax, reference fallbacks): its fp32 executor of exec/simd/graph.hpp between dequantising
//     its inputs and quantising its output (simd_reduced_graph::shadow_exec);
//   * the output comes back as fp32: from the shadow where the last op ran in fp32 (no quantisation of the
//     logits), else dequantised.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../kernels/simd/amx.hpp"
#include "../../kernels/simd/depthwise.hpp"
#include "../../kernels/simd/int8.hpp"
#include "graph.hpp"
#include "reduced_graph.hpp"

#if TYPENET_HAS_VNNI

namespace typenet::exec::simd_int8_detail {

/// The packed weights of one int8 layer (kernels::simd::int8_weights), owned.
struct packed_layer {
  detail::aligned_floats w, sums, mul, bias;
  packed_layer(std::size_t bytes, std::size_t sum_ints, std::size_t channels)
      : w(simd_graph::floats((bytes + 3) / 4)),
        sums(simd_graph::floats(sum_ints)),
        mul(simd_graph::floats(channels)),
        bias(simd_graph::floats(channels)) {}
  std::int8_t* weights() const { return reinterpret_cast<std::int8_t*>(w.get()); }
  std::int32_t* row_sums() const { return reinterpret_cast<std::int32_t*>(sums.get()); }
  kernels::simd::int8_weights view() const { return {weights(), row_sums(), mul.get(), bias.get()}; }
};

}  // namespace typenet::exec::simd_int8_detail

namespace typenet::exec::simd_int8_graph {

namespace ks = ::typenet::kernels::simd;
using simd_graph::fused_op;
using u8 = std::uint8_t;

/// int8 as a simd_reduced_graph Format: u8 values, channels stored rounded up to a multiple of 4.
struct format {
  using T = u8;
  static constexpr int per_float = 4;
  static constexpr int stored(int c) { return ks::quad_channels(c); }
  template <int C>
  static void to_f32(const u8* src, float* dst, std::int64_t pixels, const ks::act_quant& q) {
    ks::dequantize_pixels<C>(src, dst, pixels, q);
  }
  template <int C>
  static void from_f32(const float* src, u8* dst, std::int64_t pixels, const ks::act_quant& q) {
    ks::quantize_pixels<C>(src, dst, pixels, q);
  }
  template <int C, int H, int W>
  static void from_nchw(const float* in, u8* out, std::int64_t b, std::int64_t e, const ks::act_quant& q) {
    ks::nchw_to_nhwc_u8<C, H, W>(in, out, b, e, q);
  }
};
using frame = simd_reduced_graph::frame<format>;

/// A convolution on u8 values: conv_amx_int8_kernel on AMX tiles where ks::amx_int8_suits (compiled with
/// AMX_INT8, one group), else conv_int8_kernel, with the batch norm folded and the residual and the activation
/// in the epilogue. conv_int8_kernel's items (blocks of output channels x output rows) are claimed by the
/// threads in chunks; the AMX kernel's pixels or blocks split as ks::amx_parts says.
template <class Low, fused_op Op, class Arch>
struct conv_exec : simd_reduced_graph::no_extras {
  using B = typename Low::template leaf<Op.leaf>;
  using geo = ks::conv_geometry_of<B>;
  using epilogue = simd_graph::epilogue_t<Op.act>;
  static constexpr bool add = Op.residual >= 0;
  using kernels = ks::int8_conv_kernels<geo, u8>;
  static constexpr bool amx = kernels::amx;
  using kernel = typename kernels::direct;
  using tiles = typename kernels::tiles;
  static constexpr std::size_t workspace_floats = tiles::workspace_floats;

  simd_int8_detail::packed_layer k;
  std::vector<u8> pad;  ///< conv_int8_kernel's padding row: the input's zero point
  ks::act_quant in_q, res_q;
  ks::out_quant out_q;

  conv_exec(const float* p, const std::vector<ks::act_quant>& q)
      : k(amx ? tiles::packed_bytes : kernel::packed_bytes, amx ? tiles::sum_ints : kernel::sum_ints,
          amx ? tiles::channel_floats : kernel::channel_floats),
        pad(amx ? 0 : kernel::pad_bytes + 64, static_cast<u8>(q[std::size_t(Op.inputs[0])].zero)),
        in_q(q[std::size_t(Op.inputs[0])]),
        res_q(add ? q[std::size_t(Op.residual)] : ks::act_quant{}),
        out_q(ks::out_quant_of(q[std::size_t(Op.output)])) {
    std::vector<float> wf, bf;
    simd_graph::conv_exec<Low, Op, Arch>::folded(p, wf, bf);
    if constexpr (amx)
      tiles::pack(wf.data(), bf.data(), in_q.scale, k.weights(), k.row_sums(), k.mul.get(), k.bias.get());
    else
      kernel::pack(wf.data(), bf.data(), in_q.scale, k.weights(), k.row_sums(), k.mul.get(), k.bias.get());
  }

  void run(const frame& fr) const {
    const u8* in = fr.at(Op.inputs[0]);
    u8* out = fr.at(Op.output);
    const u8* res = add ? fr.at(Op.residual) : nullptr;
    const ks::int8_weights w = k.view();
    if constexpr (amx) {
      ks::amx_parts<tiles>(
          *fr.pool, fr.batch, fr.workspace, [&](float* ws, std::int64_t b, std::int64_t e, int ob0, int ob1) {
            tiles::template run<epilogue, add>(w, in, in_q.zero, out, out_q, ws, b, e, ob0, ob1, res, res_q);
          });
    } else {
      simd_graph::claim_chunks(*fr.pool, kernel::items(fr.batch), [&](std::int64_t b, std::int64_t e) {
        kernel::template run<epilogue, add>(w, in, in_q.zero, out, out_q, pad.data(), fr.batch, b, e, res, res_q);
      });
    }
  }
};

#if TYPENET_HAS_AMX_INT8
/// A dense layer (the classifier) on AMX tiles: conv_amx_int8_kernel as a 1x1 convolution over the batch's
/// rows, reading the stored u8 input in place (its length whole steps of 64, no padding channel) and writing
/// fp32 to the op's shadow value, as the fp32 executor would (so the network's logits are not quantised),
/// then quantising that to the stored value for any op that reads it.
template <class Low, fused_op Op, class Arch>
struct dense_exec : simd_reduced_graph::no_extras {
  static constexpr bool shadow = true;  // the fp32 result is in the shadow arena
  using f32 = simd_graph::dense_exec<Low, Op, Arch>;
  using tiles =
      ks::conv_amx_int8_kernel<ks::conv_geometry<f32::in_size, 1, 1, f32::out_size, 1, 1, 1, 1, 1, 1, 0, 0, 1>, float>;
  static_assert(tiles::workspace_floats == tiles::acc_floats, "read in place: no input buffer");
  simd_int8_detail::packed_layer k;
  ks::act_quant in_q;

  dense_exec(const float* p, const std::vector<ks::act_quant>& q)
      : k(tiles::packed_bytes, tiles::sum_ints, tiles::channel_floats), in_q(q[std::size_t(Op.inputs[0])]) {
    std::vector<float> w, b;
    simd_reduced_graph::dense_weights_hwc<f32>(p, w, b);
    tiles::pack(w.data(), b.data(), in_q.scale, k.weights(), k.row_sums(), k.mul.get(), k.bias.get());
  }

  void run(const frame& fr) const {
    const u8* in = fr.at(Op.inputs[0]);
    float* out = fr.f32->at(Op.output);
    const ks::int8_weights w = k.view();
    auto part = [&](int t, int n) {
      const auto r = typenet::detail::split(tiles::blocks, t, n);
      tiles::template run<typename f32::epilogue>(w, in, in_q.zero, out, ks::out_quant{}, nullptr, 0, fr.batch,
                                                  int(r.begin), int(r.end));
    };
    fr.pool->run(part);
    simd_reduced_graph::stored_value<format, Low, Op.output>::round_all(fr);
  }
};
#endif

/// A depthwise convolution on u8 values whose channels are stored unpadded (a multiple of 4) and without a
/// residual: depthwise.hpp's kernel with u8_affine_io (fp32 weights and sums, as the fp32 program's, on the
/// stored integers minus the input's zero point). The input's scale and the output's scale and zero point are
/// folded into the weights and biases with the batch norm (u8_affine_io::fold), so the sums arrive in the
/// output's scaled domain and the activation and quantisation are one clamp. It is memory-bound: reading u8
/// instead of a widened fp32 copy is the gain.
template <class Low, fused_op Op, class Arch>
struct depthwise_exec : simd_reduced_graph::no_extras {
  using B = typename Low::template leaf<Op.leaf>;
  using geo = ks::conv_geometry_of<B>;
  using epilogue = simd_graph::epilogue_t<Op.act>;
  using kernel = ks::depthwise_kernel<geo, Arch, u8>;

  detail::aligned_floats packed, bias;
  ks::u8_affine_io io;

  depthwise_exec(const float* p, const std::vector<ks::act_quant>& q)
      : packed(simd_graph::floats(kernel::packed_floats)),
        bias(simd_graph::floats(kernel::packed_bias_floats)),
        io(q[std::size_t(Op.inputs[0])].zero, ks::out_quant_of(q[std::size_t(Op.output)])) {
    std::vector<float> wf, bf;
    simd_graph::conv_exec<Low, Op, Arch>::folded(p, wf, bf);
    ks::u8_affine_io::fold(wf, bf, q[std::size_t(Op.inputs[0])].scale, ks::out_quant_of(q[std::size_t(Op.output)]));
    kernel::pack(wf.data(), bf.data(), packed.get(), bias.get());
  }

  void run(const frame& fr) const {
    simd_graph::split_run(*fr.pool, kernel::items(fr.batch), [&](std::int64_t b, std::int64_t e) {
      kernel::template run<epilogue, false>(packed.get(), bias.get(), fr.at(Op.inputs[0]), fr.at(Op.output), b, e,
                                            nullptr, io);
    });
  }
};

using simd_reduced_graph::is_f32_conv;

/// Op I's int8 executor: conv_int8_kernel for a convolution whose groups hold a multiple of 4 channels (or
/// one group) and whose reduction fits int32; depthwise_exec for a depthwise convolution on a multiple of 4
/// channels without a residual; pool_exec for a max pool on a multiple of 4 channels; else the shadow
/// executor.
template <class Low, std::size_t I, class Arch>
struct exec_for {
  static constexpr fused_op op = Low::ops[I];
  using f32_exec = typename simd_graph::exec_for<Low, I, Arch>::type;
  static constexpr bool native_pool = simd_reduced_graph::runs_stored_pool<format, f32_exec, false>();
  static constexpr bool native_conv = [] {
    if constexpr (is_f32_conv<f32_exec>::value) {
      using geo = typename f32_exec::geo;
      constexpr int quads = geo::g == 1 ? ks::quad_channels(geo::c) : geo::cg;
      return (geo::g == 1 || geo::cg % 4 == 0) && geo::kh * geo::kw * quads <= ks::max_reduction;
    } else {
      return false;
    }
  }();
  static constexpr bool native_depthwise = [] {
    if constexpr (is_f32_conv<f32_exec>::value) {
      using geo = typename f32_exec::geo;
      return geo::g == geo::c && geo::f == geo::c && geo::c > 1 && geo::c % 4 == 0 && op.residual < 0;
    } else {
      return false;
    }
  }();
  static constexpr bool native_dense = [] {
    if constexpr (simd_reduced_graph::is_f32_dense<f32_exec>::value && TYPENET_HAS_AMX_INT8) {
      using in_v = simd_reduced_graph::stored_value<format, Low, op.inputs[0]>;
      return op.residual < 0 && op.input_count == 1 && in_v::stored == in_v::channels && f32_exec::in_size % 64 == 0;
    } else {
      return false;
    }
  }();
#if TYPENET_HAS_AMX_INT8
  using dense = std::conditional_t<native_dense, dense_exec<Low, op, Arch>, void>;
#else
  using dense = void;
#endif
  using type = std::conditional_t<
      native_dense, dense,
      std::conditional_t<
          native_conv, conv_exec<Low, op, Arch>,
          std::conditional_t<native_depthwise, depthwise_exec<Low, op, Arch>,
                             std::conditional_t<native_pool, simd_reduced_graph::pool_exec<format, Low, op, Arch>,
                                                simd_reduced_graph::shadow_exec<format, Low, I, Arch>>>>>;
};

/// The quantisations the executors use: q (one per value, from the calibrated ranges) with each native max
/// pool's output given its input's scale and zero point (in op order, so a pool of a pool follows). Its
/// calibrated range lies within its input's anyway (a max of some of the input's values).
template <class Low, class Arch>
std::vector<ks::act_quant> tie_max_pools(std::vector<ks::act_quant> q) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((exec_for<Low, I, Arch>::native_pool
          ? void(q[std::size_t(Low::ops[I].output)] = q[std::size_t(Low::ops[I].inputs[0])])
          : void()),
     ...);
  }
  (std::make_index_sequence<Low::op_count>{});
  return q;
}

}  // namespace typenet::exec::simd_int8_graph

#endif  // TYPENET_HAS_VNNI
