// typenet/exec/simd/int8.hpp: exec::simd<Arch, precision::int8>, the 8-bit program (chain networks here;
// graph networks: exec/simd/int8_graph.hpp and the program at the end of this file), and exec::calibrate,
// which measures the ranges it quantises with. Included by exec/simd/policy.hpp; use it through exec/simd.hpp.
//
//   tn::exec::simd<xsimd::default_arch, tn::precision::int8> policy;  policy.threads = 2;
//   policy.ranges = tn::exec::calibrate<Net>(params, images, count);  // representative inputs, once
//   tn::model<Net, decltype(policy)> m(params, /*max_batch=*/64, policy);
//
// The same fused stages as the fp32 program (fusion::stages_t<Net>), with
//   * weights quantised to s8 with one scale per output channel and packed into quads once, when the model
//     is built (biases stay fp32);
//   * activations stored as u8 between stages (NHWC, channels rounded up to a multiple of 4), each tensor
//     with the scale and zero point of its calibrated range: policy.ranges holds one range per tensor, the
//     network's input first, then every stage's output (exec::calibrate: the minimum and maximum the fp32
//     program produces on the calibration images);
//   * conv2d [+ relu] and dense [+ relu] on vpdpbusd (kernels/simd/int8.hpp: exact int32 sums, then bias and
//     ReLU in fp32, then the result quantised for the next stage); LRN and pooling fused into a conv stage
//     run in fp32 on the stage's fp32 conv output, and the stage's result is quantised once. Compiled with
//     AMX_INT8 (TYPENET_HAS_AMX_INT8, kernels/simd/amx.hpp), convolutions with one group and dense layers
//     whose stored input is whole steps of 64 run on AMX tiles (tdpbusd) instead, with the same epilogue;
//   * every other stage (standalone relu, softmax, LRN, pools, adaptive pooling, a grouped convolution whose
//     groups are not a multiple of 4 channels): its fp32 executor between dequantising and quantising;
//   * the last stage writes fp32: NCHW floats in, floats out, as for every policy.
// Everything is allocated by the constructor. int8 has no NaN: a NaN input becomes the bottom of its range.
//
// Where it runs: compiled with AVX512_VNNI (TYPENET_HAS_VNNI, e.g. -march=native on Zen 4 or Ice Lake and
// later Xeons), or the program does not compile (diag::int8_not_compiled); the constructor checks the
// running CPU (and, compiled with AMX_INT8, AMX_INT8 and the OS's tile state) and throws std::runtime_error
// if it lacks the instructions. Graph networks (blocks, batch
// norm): exec/simd/int8_graph.hpp and the program at the end of this file.
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "../../kernels/simd/amx.hpp"
#include "../../kernels/simd/int8.hpp"
#include "../../precision.hpp"
#include "int8_graph.hpp"
#include "policy.hpp"  // exec::simd and its fp32 stages (which include this file at their end)
#include "reduced.hpp"

namespace typenet::exec {

template <class Arch>
struct simd<Arch, precision::int8> {
  /// Threads that run a forward pass (the caller included); at least 1.
  int threads = 1;
  /// One range per tensor the program quantises, in run order: the network's input, then the output of
  /// every fused stage (exec::calibrate<Net> computes them; their count is checked against the network).
  std::vector<tensor_range> ranges;
  template <class Net>
  class program;
  static std::string description() {
    return std::string("exec::simd, int8 (") + (TYPENET_HAS_AMX_INT8 ? "AMX tiles and " : "") +
           "AVX512_VNNI u8 x s8 dot products, int32 sums), xsimd architecture " + Arch::name() + " (this CPU offers " +
           simd_arch::cpu_name() + (kernels::simd::cpu_has_vnni() ? ", with" : ", without") + " AVX512_VNNI" +
           (kernels::simd::cpu_has_amx_int8() ? ", with AMX)" : ", without AMX)");
  }
};

/// Whether exec::simd<Arch, precision::int8> can run here: compiled with AVX512_VNNI (TYPENET_HAS_VNNI) and
/// running on a CPU that has it.
inline bool int8_available() noexcept {
  return TYPENET_HAS_VNNI != 0 && kernels::simd::cpu_has_vnni() &&
         (TYPENET_HAS_AMX_INT8 == 0 || (kernels::simd::cpu_has_amx_int8() && kernels::simd::amx_enable()));
}

/// The number of tensors the int8 program quantises (the length exec::simd<Arch, precision::int8>::ranges
/// must have): for a chain network its input and every fused stage's output; for a graph network every
/// value of its activation plan (the input first; values that fusion folds away keep an unused range).
template <class Net>
inline constexpr std::size_t int8_tensor_count = [] {
  if constexpr (simd_native<Net>)
    return fusion::stages_t<Net>::size + 1;
  else
    return std::size_t(simd_graph::lowered<Net>::values);
}();

/// The ranges for exec::simd<Arch, precision::int8>: runs the fp32 program (exec::simd<Arch>) on `count`
/// images (NCHW floats, count x the input size) and records the minimum and maximum of the input and of
/// every fused stage's output (a graph network: of every value a fused op writes). The images should be
/// like the ones the model will see (a few dozen real inputs); a value outside a calibrated range saturates
/// at its end. Throws std::invalid_argument on a size mismatch, and when an image or a stage's output holds
/// NaN or infinity (int8 cannot represent it).
template <class Net, class Arch = xsimd::default_arch>
std::vector<tensor_range> calibrate(const params<Net>& p, std::span<const float> images, int count, int threads = 1) {
  constexpr std::int64_t in_size = Net::input_shape::size;
  if (count < 1)
    throw std::invalid_argument("typenet: calibrate: count must be at least 1, got " + std::to_string(count));
  if (images.size() != std::size_t(count) * std::size_t(in_size))
    throw std::invalid_argument(
        "typenet: calibrate: " + std::to_string(count) + " images of " + std::to_string(in_size) + " floats need " +
        std::to_string(std::size_t(count) * std::size_t(in_size)) + " floats, got " + std::to_string(images.size()));
  std::vector<tensor_range> r(int8_tensor_count<Net>);
  const auto take = [&](std::size_t k, const float* v, std::int64_t n) {
    float lo = r[k].lo, hi = r[k].hi;
    bool finite = true;
    for (std::int64_t i = 0; i < n; ++i) {
      finite = finite && std::isfinite(v[i]);
      lo = std::min(lo, v[i]);
      hi = std::max(hi, v[i]);
    }
    if (!finite)
      throw std::invalid_argument("typenet: calibrate: " +
                                  (k == 0             ? std::string("the calibration images hold")
                                   : simd_native<Net> ? "fused stage " + std::to_string(k - 1) + "'s output holds"
                                                      : "value " + std::to_string(k) + " of the network holds") +
                                  " NaN or infinity; int8 cannot represent it (calibrate with finite inputs)");
    r[k] = {lo, hi};
  };
  take(0, images.data(), std::int64_t(images.size()));
  constexpr int chunk = 16;
  simd<Arch> policy;
  policy.threads = threads;
  typename simd<Arch>::template program<Net> fp32(p, std::min(count, chunk), policy);
  std::vector<float> out(std::size_t(std::min(count, chunk)) * Net::output_shape::size);
  for (int i = 0; i < count; i += chunk) {
    const int n = std::min(chunk, count - i);
    // A chain reports fused stage s (tensor s + 1), a graph network the value its op wrote.
    fp32.run_observed(images.data() + std::int64_t{i} * in_size, out.data(), n,
                      [&](std::size_t k, const float* v, std::int64_t size) { take(k + simd_native<Net>, v, size); });
  }
  return r;
}

namespace simd_int8_detail {

/// The error an int8 program gives on a CPU without AVX512_VNNI (std::runtime_error), before any kernel runs.
inline void check_cpu(bool has_vnni = kernels::simd::cpu_has_vnni()) {
  if (!has_vnni)
    throw std::runtime_error(
        std::string("typenet: exec::simd<Arch, precision::int8>: this CPU (best: ") + simd_arch::cpu_name() +
        ") has no AVX512_VNNI instructions (vpdpbusd); run the fp32 policy exec::simd<Arch> on it");
}

/// The error an int8 program compiled with AMX gives where the CPU lacks AMX_INT8 or the OS does not grant its
/// tile state (std::runtime_error), before any kernel runs; `has`: kernels::simd::cpu_has_amx_int8(),
/// `granted`: kernels::simd::amx_enable().
inline void check_amx(bool has, bool granted) {
  if (!has || !granted)
    throw std::runtime_error(std::string("typenet: exec::simd<Arch, precision::int8>: compiled with AMX (AMX_TILE, "
                                         "AMX_INT8) but this CPU (best: ") +
                             simd_arch::cpu_name() +
                             (has ? ") has AMX and the OS refused its tile state" : ") has no AMX_INT8") +
                             "; build for this CPU (-march=native) or with -DTYPENET_NO_AMX");
}

/// max_batch and threads checked as for every simd program, and the CPU (check_cpu, check_amx).
template <class Arch>
int checked(int max_batch, int threads) {
  const int c = simd_detail::checked<Arch>(max_batch, threads);
  check_cpu();
  if constexpr (TYPENET_HAS_AMX_INT8 != 0)
    check_amx(kernels::simd::cpu_has_amx_int8(), kernels::simd::cpu_has_amx_int8() && kernels::simd::amx_enable());
  return c;
}

/// The u8 quantisations of a network's tensors from policy.ranges, checked: one finite range per tensor.
inline std::vector<kernels::simd::act_quant> quantisations(const std::vector<tensor_range>& ranges, std::size_t want) {
  if (ranges.size() != want)
    throw std::invalid_argument("typenet: exec::simd<Arch, precision::int8>: policy.ranges has " +
                                std::to_string(ranges.size()) + " ranges, the network quantises " +
                                std::to_string(want) +
                                " tensors (its input and each fused stage's output, or each value of a graph "
                                "network); compute them with tn::exec::calibrate<Net>");
  std::vector<kernels::simd::act_quant> q;
  for (std::size_t i = 0; i < want; ++i) {
    const tensor_range& t = ranges[i];
    if (!std::isfinite(t.lo) || !std::isfinite(t.hi) || t.lo > t.hi)
      throw std::invalid_argument("typenet: exec::simd<Arch, precision::int8>: policy.ranges[" + std::to_string(i) +
                                  "] = [" + std::to_string(t.lo) + ", " + std::to_string(t.hi) +
                                  "] is not a finite range lo <= hi");
    q.push_back(kernels::simd::act_quant_for_range(t.lo, t.hi));
  }
  return q;
}

}  // namespace simd_int8_detail

/// The program where no int8 program can be built: a translation unit compiled without AVX512_VNNI
/// (diag::int8_not_compiled). It only reports that.
template <class Arch>
template <class Net>
class simd<Arch, precision::int8>::program
    : public simd_detail::reported_program<Net, simd<Arch, precision::int8>, diag::int8_not_compiled<Arch>> {
  using base = simd_detail::reported_program<Net, simd<Arch, precision::int8>, diag::int8_not_compiled<Arch>>;

 public:
  using base::base;
};

#if TYPENET_HAS_VNNI

namespace simd_int8_detail {

namespace ks = ::typenet::kernels::simd;
using ks::act_quant;
using ks::out_quant;
using simd_detail::on_threads;
using u8 = std::uint8_t;

/// int8 as a simd_reduced Format: u8 values, channels stored rounded up to a multiple of 4 (the extra ones
/// the zero point); every tensor has its own scale and zero point.
struct int8_format {
  using T = u8;
  static constexpr int Q = 4;
  struct tensor {
    act_quant q;
    template <class L, std::int64_t Size>
    void to_f32(const u8* src, float* dst, std::int64_t b, std::int64_t e) const {
      using St = simd_reduced::stored<int8_format, L, Size>;
      for (std::int64_t i = b; i < e; ++i)
        ks::dequantize_pixels<St::channels>(src + i * St::elems, dst + i * Size, St::pixels, q);
    }
    template <class L, std::int64_t Size>
    void from_f32(const float* src, u8* dst, std::int64_t b, std::int64_t e) const {
      using St = simd_reduced::stored<int8_format, L, Size>;
      for (std::int64_t i = b; i < e; ++i)
        ks::quantize_pixels<St::channels>(src + i * Size, dst + i * St::elems, St::pixels, q);
    }
    template <int C>
    void pixels_from_f32(const float* src, u8* dst, std::int64_t pixels) const {
      ks::quantize_pixels<C>(src, dst, pixels, q);
    }
    template <int C, int H, int W>
    void from_nchw(const float* in, u8* out, std::int64_t b, std::int64_t e) const {
      ks::nchw_to_nhwc_u8<C, H, W>(in, out, b, e, q);
    }
    /// How a kernel stores this tensor (1 / scale, zero point).
    out_quant stores() const noexcept { return {1.0f / q.scale, q.zero}; }
  };
};
using frame = simd_reduced::frame<u8>;
using stage_io = simd_reduced::stage_io<int8_format>;

/// conv2d [+ relu] [+ LRN] [+ pool] on conv_amx_int8_kernel where ks::amx_int8_suits (compiled with AMX_INT8,
/// one group), else on conv_int8_kernel (its padding row holds the input's zero point); LRN and pooling in
/// fp32 on the stage's fp32 conv output (simd_reduced).
template <class Stage, class InLayout, class Arch, bool Last>
struct conv_stage
    : simd_reduced::conv_stage_base<conv_stage<Stage, InLayout, Arch, Last>, int8_format, Stage, InLayout, Arch, Last> {
  using base =
      simd_reduced::conv_stage_base<conv_stage<Stage, InLayout, Arch, Last>, int8_format, Stage, InLayout, Arch, Last>;
  using typename base::conv_b;
  using typename base::conv_out_t;
  using typename base::epilogue;
  using typename base::geo;
  using kernels = ks::int8_conv_kernels<geo, conv_out_t>;
  static constexpr bool amx = kernels::amx;
  using kernel = typename kernels::direct;
  using tiles = typename kernels::tiles;
  static constexpr std::size_t zero_elems = 0;  // the stage's own padding row (or the AMX copy): its zero point
  static constexpr std::size_t workspace_floats = tiles::workspace_floats;

  packed_layer k;
  std::vector<u8> pad;
  stage_io io;

  conv_stage(const float* params, const stage_io& s)
      : k(amx ? tiles::packed_bytes : kernel::packed_bytes, amx ? tiles::sum_ints : kernel::sum_ints,
          amx ? tiles::channel_floats : kernel::channel_floats),
        pad(amx ? 0 : kernel::pad_bytes + 64, static_cast<u8>(s.in.q.zero)),
        io(s) {
    const float* w = params + conv_b::weight_offset;
    const float* b = params + conv_b::bias_offset;
    if constexpr (amx)
      tiles::pack(w, b, io.in.q.scale, k.weights(), k.row_sums(), k.mul.get(), k.bias.get());
    else
      kernel::pack(w, b, io.in.q.scale, k.weights(), k.row_sums(), k.mul.get(), k.bias.get());
  }

  void conv_image(const u8* x, conv_out_t* y, const frame& f, int t) const {
    if constexpr (amx)
      tiles::template run<epilogue>(k.view(), x, io.in.q.zero, y, io.out.stores(),
                                    f.workspace + std::size_t(t) * workspace_floats, 0, tiles::units(1), 0,
                                    tiles::blocks);
    else
      kernel::template run<epilogue>(k.view(), x, io.in.q.zero, y, io.out.stores(), pad.data(), 1, 0, kernel::items(1));
  }
  void conv_batch(const u8* in, conv_out_t* out, const frame& f) const {
    const ks::int8_weights w = k.view();
    const out_quant oq = io.out.stores();
    if constexpr (amx) {
      ks::amx_parts<tiles>(*f.pool, f.batch, f.workspace,
                           [&](float* ws, std::int64_t b, std::int64_t e, int ob0, int ob1) {
                             tiles::template run<epilogue>(w, in, io.in.q.zero, out, oq, ws, b, e, ob0, ob1);
                           });
    } else {
      const std::int64_t items = kernel::items(f.batch);
      const std::int64_t chunk = std::max<std::int64_t>(1, items / (8 * f.pool->size()));
      std::atomic<std::int64_t> next{0};
      on_threads(*f.pool, [&](int, int) {
        for (std::int64_t b = next.fetch_add(chunk, std::memory_order_relaxed); b < items;
             b = next.fetch_add(chunk, std::memory_order_relaxed))
          kernel::template run<epilogue>(w, in, io.in.q.zero, out, oq, pad.data(), f.batch, b,
                                         std::min(items, b + chunk));
      });
    }
  }
};

/// dense [+ relu] [+ softmax] on dense_int8_kernel, or on conv_amx_int8_kernel as a 1x1 convolution over the
/// batch's rows where compiled with AMX_INT8 and the stored input is whole steps of 64 values (read in place)
/// (simd_reduced::dense_stage_base).
template <class Stage, class InLayout, class Arch, bool Last>
struct dense_stage
    : simd_reduced::dense_stage_base<dense_stage<Stage, InLayout, Arch, Last>, int8_format, Stage, InLayout, Last> {
  using base =
      simd_reduced::dense_stage_base<dense_stage<Stage, InLayout, Arch, Last>, int8_format, Stage, InLayout, Last>;
  using typename base::k_out_t;
  using kernel = ks::dense_int8_kernel<base::order::elems, base::out_size, k_out_t>;
  using geo = ks::conv_geometry<base::order::elems, 1, 1, base::out_size, 1, 1, 1, 1, 1, 1, 0, 0, 1>;
  static constexpr bool amx = base::order::elems % 64 == 0 && ks::amx_int8_suits<geo>;
  struct no_tiles {
    static constexpr std::size_t packed_bytes = 0, sum_ints = 0, channel_floats = 0;
  };
#if TYPENET_HAS_AMX_INT8
  using tiles = std::conditional_t<amx, ks::conv_amx_int8_kernel<geo, k_out_t>, no_tiles>;
  static_assert(
      [] {
        if constexpr (amx)
          return tiles::workspace_floats == tiles::acc_floats;
        else
          return true;
      }(),
      "read in place: no input buffer");
#else
  using tiles = no_tiles;
#endif
  static constexpr std::size_t panel_words(int max_batch) {
    return max_batch > 1 && !amx ? kernel::panel_quads(max_batch) : 0;
  }

  packed_layer k;
  stage_io io;

  dense_stage(const float* params, const stage_io& s)
      : k(amx ? tiles::packed_bytes : kernel::packed_bytes, amx ? tiles::sum_ints : kernel::channel_floats,
          amx ? tiles::channel_floats : kernel::channel_floats),
        io(s) {
    const std::vector<float> w = base::stored_order_weights(params);
    if constexpr (amx)
      tiles::pack(w.data(), params + base::dense_b::bias_offset, io.in.q.scale, k.weights(), k.row_sums(), k.mul.get(),
                  k.bias.get());
    else
      kernel::pack(w.data(), params + base::dense_b::bias_offset, io.in.q.scale, k.weights(), k.row_sums(), k.mul.get(),
                   k.bias.get());
  }

  void run_part(const u8* in, const std::uint32_t* panel, k_out_t* out, int batch, int part, int parts) const {
    if constexpr (amx) {
      const auto r = ::typenet::detail::split(tiles::blocks, part, parts);
      tiles::template run<typename base::epilogue>(k.view(), in, io.in.q.zero, out, io.out.stores(), nullptr, 0, batch,
                                                   int(r.begin), int(r.end));
    } else {
      kernel::template run<typename base::epilogue>(k.view(), io.in.q.zero, in, panel, out, io.out.stores(), batch,
                                                    part, parts);
    }
  }
};

/// The executor of a stage: int8 kernels for convolutions whose groups hold a multiple of 4 channels and for
/// dense layers (where the reduction fits int32: ks::max_reduction), fp32 islands for the rest.
template <class Stage, class InLayout, class Arch, bool Last>
struct stage_select {
  static constexpr layer_kind kind = layer_kind_of<typename Stage::first::layer>;
  template <class Geo>
  static constexpr bool quads_fit =
      (Geo::g == 1 || Geo::cg % 4 == 0) && Geo::kh* Geo::kw*(Geo::g == 1 ? ks::quad_channels(Geo::c)
                                                                         : Geo::cg) <= ks::max_reduction;
  static constexpr bool int8_conv = [] {
    if constexpr (kind == layer_kind::conv)
      return quads_fit<kernels::simd::conv_geometry_of<typename Stage::first>>;
    else
      return false;
  }();
  static constexpr bool int8_dense = [] {
    if constexpr (kind == layer_kind::dense)
      return simd_reduced::stored<int8_format, InLayout, Stage::first::input::size>::elems <= ks::max_reduction;
    else
      return false;
  }();
  using type =
      std::conditional_t<int8_conv, conv_stage<Stage, InLayout, Arch, Last>,
                         std::conditional_t<int8_dense, dense_stage<Stage, InLayout, Arch, Last>,
                                            simd_reduced::island_stage<int8_format, Stage, InLayout, Arch, Last>>>;
};
template <class Stage, class InLayout, class Arch, bool Last>
using stage_exec = typename stage_select<Stage, InLayout, Arch, Last>::type;

}  // namespace simd_int8_detail

/// A chain network: simd_reduced::chain_program with u8 values, each tensor quantised with the scale and
/// zero point of its range in policy.ranges.
template <class Arch>
template <class Net>
requires(simd_native<Net>) class simd<Arch, precision::int8>::program<Net>
    : public simd_reduced::chain_program<simd_int8_detail::int8_format, Net, Arch, simd_int8_detail::stage_exec> {
  using format = simd_int8_detail::int8_format;
  using base = simd_reduced::chain_program<format, Net, Arch, simd_int8_detail::stage_exec>;

 public:
  program(const params<Net>& p, int max_batch, const simd& policy)
      : base(p, simd_int8_detail::checked<Arch>(max_batch, policy.threads), policy.threads, tensors(policy.ranges)) {}

 private:
  static std::vector<typename format::tensor> tensors(const std::vector<tensor_range>& ranges) {
    std::vector<typename format::tensor> t;
    for (const kernels::simd::act_quant& q : simd_int8_detail::quantisations(ranges, base::tensor_count))
      t.push_back({q});
    return t;
  }
};

/// A graph network: exec/simd/int8_graph.hpp's executors over the fp32 graph program's op list and arena
/// plan, run by simd_reduced_graph::graph_program, each value quantised with the scale and zero point of its
/// range in policy.ranges.
template <class Arch>
template <class Net>
requires(!simd_native<Net>) class simd<Arch, precision::int8>::program<Net>
    : public simd_reduced_graph::graph_program<simd_int8_graph::format, Net, Arch, simd_int8_graph::exec_for> {
  using base = simd_reduced_graph::graph_program<simd_int8_graph::format, Net, Arch, simd_int8_graph::exec_for>;

 public:
  program(const params<Net>& p, int max_batch, const simd<Arch, precision::int8>& policy)
      : base(p, simd_int8_detail::checked<Arch>(max_batch, policy.threads), policy.threads,
             simd_int8_graph::tie_max_pools<simd_graph::lowered<Net>, Arch>(
                 simd_int8_detail::quantisations(policy.ranges, int8_tensor_count<Net>))) {}
};

#endif  // TYPENET_HAS_VNNI

}  // namespace typenet::exec
