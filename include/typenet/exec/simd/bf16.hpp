// typenet/exec/simd/bf16.hpp: exec::simd<Arch, precision::bf16>, the bfloat16 program (chain networks here; graph
// networks: the executors of exec/simd/bf16_graph.hpp and the program at the end of this file).
// Included by exec/simd/policy.hpp; use it through exec/simd.hpp.
//
//   tn::exec::simd<xsimd::default_arch, tn::precision::bf16> policy;  policy.threads = 2;
//   tn::model<tn::zoo::seed_alexnet, decltype(policy)> m(params, /*max_batch=*/64, policy);
//
// The same fused stages as the fp32 program (fusion::stages_t<Net>), with
//   * weights rounded to bf16 and packed into pairs once, when the model is built (biases stay fp32);
//   * activations stored as bf16 between stages (NHWC, channels rounded up to even: kernels/simd/bf16.hpp);
//   * conv2d [+ relu] and dense [+ relu] on vdpbf16ps with fp32 accumulators, the bias and ReLU applied in
//     fp32 before the result is rounded to bf16; LRN and pooling fused in a conv stage run in fp32 on the
//     stage's fp32 conv output, then the stage's result is rounded once;
//   * standalone relu, softmax, LRN and pooling stages: their fp32 kernels between a widening and a rounding
//     pass;
//   * the last stage writes fp32, and the program's contract is the fp32 one: NCHW floats in, floats out.
// The input is rounded to bf16 when it is converted to NHWC. Everything is allocated by the constructor.
//
// Where it runs: the translation unit must be compiled with AVX512_BF16 (TYPENET_HAS_BF16, e.g.
// -march=native on Zen 4 or Sapphire Rapids), or the program does not compile (a static_assert says so);
// the constructor checks the running CPU and throws std::runtime_error if it lacks the instructions.
// Compiled with AMX as well (TYPENET_HAS_AMX: AMX_TILE and AMX_BF16, e.g. -march=native on Sapphire Rapids or
// later; -DTYPENET_NO_AMX leaves it out), the chain and graph programs run their convolutions with one group,
// and their dense layers whose stored input is whole blocks of 32, on AMX tiles (kernels/simd/amx.hpp), and
// the constructor also asks the OS for the tile state, with an error if the CPU or the OS refuses it.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "../../kernels/simd/amx.hpp"
#include "../../kernels/simd/bf16.hpp"
#include "../../precision.hpp"
#include "bf16_graph.hpp"
#include "policy.hpp"  // exec::simd and its fp32 stages (which include this file at their end)
#include "reduced.hpp"

namespace typenet::exec {

template <class Arch>
struct simd<Arch, precision::bf16> {
  /// Threads that run a forward pass (the caller included); at least 1.
  int threads = 1;
  template <class Net>
  class program;
  static std::string description() {
    return std::string("exec::simd, bf16 (") + (TYPENET_HAS_AMX ? "AMX tiles and " : "") +
           "AVX512_BF16 dot products, fp32 sums), xsimd architecture " + Arch::name() + " (this CPU offers " +
           simd_arch::cpu_name() + (kernels::simd::cpu_has_bf16() ? ", with" : ", without") + " AVX512_BF16" +
           (kernels::simd::cpu_has_amx_bf16() ? ", with AMX)" : ", without AMX)");
  }
};

/// Whether exec::simd<Arch, precision::bf16> can run here: compiled with AVX512_BF16 (TYPENET_HAS_BF16) and
/// running on a CPU that has it (and AMX, granted by the OS, where compiled with AMX). A program can choose its
/// policy with it.
inline bool bf16_available() noexcept {
  return TYPENET_HAS_BF16 != 0 && kernels::simd::cpu_has_bf16() &&
         (TYPENET_HAS_AMX == 0 || kernels::simd::amx_enable());
}

namespace simd_bf16_detail {

/// The error a bf16 program gives on a CPU without AVX512_BF16 (std::runtime_error), before any kernel runs.
inline void check_cpu(bool has_bf16 = kernels::simd::cpu_has_bf16()) {
  if (!has_bf16)
    throw std::runtime_error(std::string("typenet: exec::simd<Arch, precision::bf16>: this CPU (best: ") +
                             simd_arch::cpu_name() +
                             ") has no AVX512_BF16 instructions (vdpbf16ps); run the fp32 policy exec::simd<Arch> "
                             "on it");
}

/// The error a bf16 program compiled with AMX gives where the CPU lacks AMX or the OS does not grant its tile
/// state (std::runtime_error), before any kernel runs; `granted`: kernels::simd::amx_enable().
inline void check_amx(bool granted) {
  if (!granted)
    throw std::runtime_error(
        std::string("typenet: exec::simd<Arch, precision::bf16>: compiled with AMX (AMX_TILE, "
                    "AMX_BF16) but this CPU (best: ") +
        simd_arch::cpu_name() +
        (kernels::simd::cpu_has_amx_bf16() ? ") has AMX and the OS refused its tile state" : ") has no AMX") +
        "; build for this CPU (-march=native) or with -DTYPENET_NO_AMX");
}

}  // namespace simd_bf16_detail

/// The program where no bf16 program can be built: a translation unit compiled without AVX512_BF16
/// (diag::bf16_not_compiled). It only reports that.
template <class Arch>
template <class Net>
class simd<Arch, precision::bf16>::program
    : public simd_detail::reported_program<Net, simd<Arch, precision::bf16>, diag::bf16_not_compiled<Arch>> {
  using base = simd_detail::reported_program<Net, simd<Arch, precision::bf16>, diag::bf16_not_compiled<Arch>>;

 public:
  using base::base;
};

#if TYPENET_HAS_BF16

namespace simd_bf16_detail {

namespace ks = ::typenet::kernels::simd;
using ks::bf16_t;
using simd_detail::on_threads;
using simd_detail::plain_layout;
using ::typenet::detail::split;

/// bf16 as a simd_reduced Format: values rounded to nearest even, channels stored rounded up to even (the
/// extra one 0); every tensor converts alike.
struct bf16_format {
  using T = bf16_t;
  static constexpr int Q = 2;
  struct tensor {
    template <class L, std::int64_t Size>
    void to_f32(const bf16_t* src, float* dst, std::int64_t b, std::int64_t e) const {
      using St = simd_reduced::stored<bf16_format, L, Size>;
      for (std::int64_t i = b; i < e; ++i)
        ks::pixels_to_f32<St::channels>(src + i * St::elems, dst + i * Size, St::pixels);
    }
    template <class L, std::int64_t Size>
    void from_f32(const float* src, bf16_t* dst, std::int64_t b, std::int64_t e) const {
      using St = simd_reduced::stored<bf16_format, L, Size>;
      for (std::int64_t i = b; i < e; ++i)
        ks::pixels_to_bf16<St::channels>(src + i * Size, dst + i * St::elems, St::pixels);
    }
    template <int C>
    void pixels_from_f32(const float* src, bf16_t* dst, std::int64_t pixels) const {
      ks::pixels_to_bf16<C>(src, dst, pixels);
    }
    template <int C, int H, int W>
    void from_nchw(const float* in, bf16_t* out, std::int64_t b, std::int64_t e) const {
      ks::nchw_to_nhwc_bf16<C, H, W>(in, out, b, e);
    }
  };
};
using frame = simd_reduced::frame<bf16_t>;
using stage_io = simd_reduced::stage_io<bf16_format>;

/// conv2d [+ relu] [+ LRN] [+ pool] on conv_amx_kernel where ks::amx_suits (compiled with AMX), else on
/// conv_bf16_kernel, or on winograd_bf16 where the fp32 program uses Winograd (ks::winograd_suits); LRN and
/// pooling in fp32 on the stage's fp32 conv output (simd_reduced).
template <class Stage, class InLayout, class Arch, bool Last>
struct conv_stage
    : simd_reduced::conv_stage_base<conv_stage<Stage, InLayout, Arch, Last>, bf16_format, Stage, InLayout, Arch, Last> {
  using base =
      simd_reduced::conv_stage_base<conv_stage<Stage, InLayout, Arch, Last>, bf16_format, Stage, InLayout, Arch, Last>;
  using typename base::conv_b;
  using typename base::conv_out_t;
  using typename base::epilogue;
  using typename base::geo;
  using kernel = ks::conv_bf16_kernel<geo, conv_out_t>;
  static constexpr bool amx = ks::amx_suits<geo>;
  static constexpr bool winograd = !amx && ks::winograd_suits<geo>;
  using wino = ks::winograd_bf16<geo::c, geo::h, geo::w, geo::f, conv_out_t>;
  struct no_tiles {
    static constexpr std::size_t workspace_floats = 0, packed_elems = 0, packed_bias_floats = 0;
  };
#if TYPENET_HAS_AMX
  using tiles = std::conditional_t<amx, ks::conv_amx_kernel<geo, conv_out_t>, no_tiles>;
#else
  using tiles = no_tiles;
#endif
  static constexpr std::size_t zero_elems = amx || winograd ? 0 : kernel::zero_elems;
  static constexpr std::size_t workspace_floats = winograd ? wino::workspace_floats_per_part
                                                  : amx    ? tiles::workspace_floats
                                                           : 0;

  detail::aligned_floats packed, packed_bias;
  stage_io io;

  conv_stage(const float* params, const stage_io& s)
      : packed(simd_detail::copy_aligned(((amx        ? tiles::packed_elems
                                           : winograd ? wino::packed_elems
                                                      : kernel::packed_elems) +
                                          1) /
                                         2)),
        packed_bias(simd_detail::copy_aligned(amx ? tiles::packed_bias_floats : kernel::packed_bias_floats)),
        io(s) {
    if constexpr (amx) {
      tiles::pack(params + conv_b::weight_offset, params + conv_b::bias_offset, weights(), packed_bias.get());
    } else if constexpr (winograd) {
      wino::pack(params + conv_b::weight_offset, weights());
      std::memcpy(packed_bias.get(), params + conv_b::bias_offset, sizeof(float) * geo::f);
    } else {
      kernel::pack(params + conv_b::weight_offset, params + conv_b::bias_offset, weights(), packed_bias.get());
    }
  }

  void conv_image(const bf16_t* x, conv_out_t* y, const frame& f, int t) const {
    float* ws = f.workspace + std::size_t(t) * workspace_floats;
    if constexpr (amx)
      tiles::template run<epilogue>(weights(), packed_bias.get(), x, y, ws, 0, tiles::units(1), 0, tiles::blocks);
    else if constexpr (winograd)
      wino::template run_tiles<epilogue>(weights(), packed_bias.get(), x, y, ws, 0, wino::tiles(1));
    else
      kernel::template run<epilogue>(weights(), packed_bias.get(), x, y, f.zeros, 1, 0, kernel::items(1));
  }
  void conv_batch(const bf16_t* in, conv_out_t* out, const frame& f) const {
    const std::int64_t items = kernel::items(f.batch);
    const std::int64_t chunk = std::max<std::int64_t>(1, items / (8 * f.pool->size()));
    std::atomic<std::int64_t> next{0};
    on_threads(*f.pool, [&]([[maybe_unused]] int t, [[maybe_unused]] int n) {
      float* ws = f.workspace + std::size_t(t) * workspace_floats;
      if constexpr (amx) {
        const auto r = split(tiles::units(f.batch), t, n);
        tiles::template run<epilogue>(weights(), packed_bias.get(), in, out, ws, r.begin, r.end, 0, tiles::blocks);
      } else if constexpr (winograd) {
        const auto r = split(wino::tiles(f.batch), t, n);
        wino::template run_tiles<epilogue>(weights(), packed_bias.get(), in, out, ws, r.begin, r.end);
      } else {
        for (std::int64_t b = next.fetch_add(chunk, std::memory_order_relaxed); b < items;
             b = next.fetch_add(chunk, std::memory_order_relaxed))
          kernel::template run<epilogue>(weights(), packed_bias.get(), in, out, f.zeros, f.batch, b,
                                         std::min(items, b + chunk));
      }
    });
  }

 private:
  bf16_t* weights() const { return reinterpret_cast<bf16_t*>(packed.get()); }
};

/// dense [+ relu] [+ softmax] on dense_bf16_kernel, or on conv_amx_kernel as a 1x1 convolution over the
/// batch's rows where compiled with AMX and the stored input is whole blocks of 32 values (read in place)
/// (simd_reduced::dense_stage_base).
template <class Stage, class InLayout, class Arch, bool Last>
struct dense_stage
    : simd_reduced::dense_stage_base<dense_stage<Stage, InLayout, Arch, Last>, bf16_format, Stage, InLayout, Last> {
  using base =
      simd_reduced::dense_stage_base<dense_stage<Stage, InLayout, Arch, Last>, bf16_format, Stage, InLayout, Last>;
  using typename base::k_out_t;
  using kernel = ks::dense_bf16_kernel<base::order::elems, base::out_size, k_out_t>;
  static constexpr bool amx = TYPENET_HAS_AMX != 0 && base::order::elems % 32 == 0;
#if TYPENET_HAS_AMX
  using tiles =
      ks::conv_amx_kernel<ks::conv_geometry<base::order::elems, 1, 1, base::out_size, 1, 1, 1, 1, 1, 1, 0, 0, 1>,
                          k_out_t>;
  static_assert(!amx || tiles::workspace_floats == tiles::acc_floats, "read in place: no input buffer");
#else
  struct tiles {
    static constexpr std::size_t packed_elems = 0, packed_bias_floats = 0;
  };
#endif
  static constexpr std::size_t panel_words(int max_batch) {
    return max_batch > 1 && !amx ? kernel::panel_pairs(max_batch) : 0;
  }

  detail::aligned_floats packed, bias;
  stage_io io;

  dense_stage(const float* params, const stage_io& s)
      : packed(simd_detail::copy_aligned(((amx ? tiles::packed_elems : kernel::packed_elems) + 1) / 2)),
        bias(simd_detail::copy_aligned(amx ? tiles::packed_bias_floats : kernel::bias_floats)),
        io(s) {
    const std::vector<float> w = base::stored_order_weights(params);
    if constexpr (amx)
      tiles::pack(w.data(), params + base::dense_b::bias_offset, weights(), bias.get());
    else
      kernel::pack(w.data(), params + base::dense_b::bias_offset, weights(), bias.get());
  }

  void run_part(const bf16_t* in, const std::uint32_t* panel, k_out_t* out, int batch, int part, int parts) const {
    if constexpr (amx) {
      const auto r = ::typenet::detail::split(tiles::blocks, part, parts);
      tiles::template run<typename base::epilogue>(weights(), bias.get(), in, out, nullptr, 0, batch, int(r.begin),
                                                   int(r.end));
    } else {
      kernel::template run<typename base::epilogue>(weights(), bias.get(), in, panel, out, batch, part, parts);
    }
  }

 private:
  bf16_t* weights() const { return reinterpret_cast<bf16_t*>(packed.get()); }
};

/// The executor of a stage: a grouped convolution with an odd number of channels per group (which pairs of
/// adjacent channels cannot serve) and every stage that is neither conv nor dense run in fp32
/// (simd_reduced::island_stage).
template <class Stage, class InLayout, class Arch, bool Last>
struct stage_select {
  static constexpr layer_kind kind = layer_kind_of<typename Stage::first::layer>;
  template <class Geo>
  static constexpr bool pairs_fit = Geo::g == 1 || (Geo::cg % 2 == 0 && Geo::fg % 2 == 0);
  static constexpr bool bf16_conv = [] {
    if constexpr (kind == layer_kind::conv)
      return pairs_fit<kernels::simd::conv_geometry_of<typename Stage::first>>;
    else
      return false;
  }();
  using type =
      std::conditional_t<bf16_conv, conv_stage<Stage, InLayout, Arch, Last>,
                         std::conditional_t<kind == layer_kind::dense, dense_stage<Stage, InLayout, Arch, Last>,
                                            simd_reduced::island_stage<bf16_format, Stage, InLayout, Arch, Last>>>;
};

template <class Stage, class InLayout, class Arch, bool Last>
using stage_exec = typename stage_select<Stage, InLayout, Arch, Last>::type;
template <class Layout, class Stages, class Arch>
using build = simd_detail::reduced_build<stage_exec, Layout, Stages, Arch>;

}  // namespace simd_bf16_detail

/// A chain network: simd_reduced::chain_program with bf16 values.
template <class Arch>
template <class Net>
requires(simd_native<Net>) class simd<Arch, precision::bf16>::program<Net>
    : public simd_reduced::chain_program<simd_bf16_detail::bf16_format, Net, Arch, simd_bf16_detail::stage_exec> {
  using format = simd_bf16_detail::bf16_format;
  using base = simd_reduced::chain_program<format, Net, Arch, simd_bf16_detail::stage_exec>;

 public:
  program(const params<Net>& p, int max_batch, const simd& policy)
      : base(p, check(max_batch, policy), policy.threads, std::vector<typename format::tensor>(base::tensor_count)) {}

 private:
  static int check(int max_batch, const simd& policy) {
    const int checked = simd_detail::checked<Arch>(max_batch, policy.threads);
    simd_bf16_detail::check_cpu();
    if constexpr (TYPENET_HAS_AMX != 0) simd_bf16_detail::check_amx(kernels::simd::amx_enable());
    return checked;
  }
};

/// A graph network (blocks, batch norm, relu6, depthwise convolutions): exec/simd/bf16_graph.hpp's executors
/// over the fp32 graph program's op list and arena plan, run by simd_reduced_graph::graph_program.
template <class Arch>
template <class Net>
requires(!simd_native<Net>) class simd<Arch, precision::bf16>::program<Net>
    : public simd_reduced_graph::graph_program<simd_bf16_graph::format, Net, Arch, simd_bf16_graph::exec_for> {
  using base = simd_reduced_graph::graph_program<simd_bf16_graph::format, Net, Arch, simd_bf16_graph::exec_for>;

 public:
  program(const params<Net>& p, int max_batch, const simd<Arch, precision::bf16>& policy)
      : base(p, check(max_batch, policy), policy.threads, {}) {}

 private:
  static int check(int max_batch, const simd<Arch, precision::bf16>& policy) {
    const int checked = simd_detail::checked<Arch>(max_batch, policy.threads);
    simd_bf16_detail::check_cpu();
    if constexpr (TYPENET_HAS_AMX != 0) simd_bf16_detail::check_amx(kernels::simd::amx_enable());
    return checked;
  }
};

#endif  // TYPENET_HAS_BF16

}  // namespace typenet::exec
