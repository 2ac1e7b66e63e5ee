// typenet/exec/simd/reduced_graph.hpp: what the reduced-precision programs for graph networks share
// (exec/simd/bf16_graph.hpp, exec/simd/int8_graph.hpp): values stored in a narrower type over the fp32
// program's arena plan, fp32 "shadow" executors for the ops without a native kernel, and the program that
// runs the fused op list. Included by those headers; use the programs through exec/simd.hpp.
//
// A Format says how a precision stores a value of C channels per pixel (a flat value: its length, one pixel
// per image):
//   using T;                                   the element type;
//   static constexpr int per_float;            elements in the bytes of one float: a value's slot of n floats
//                                              in the fp32 plan holds per_float * n elements, enough for any
//                                              stored value of n floats, so the liveness plan is the fp32 one;
//   static constexpr int stored(int c);        elements stored per pixel of c channels (c rounded up);
//   to_f32<C>(src, dst, pixels, q);            stored pixels -> C floats each;
//   from_f32<C>(src, dst, pixels, q);          C floats each -> stored pixels (padding channels: a zero);
//   from_nchw<C, H, W>(in, out, b, e, q);      images [b, e) of an NCHW input -> stored NHWC.
// q is the value's quantisation (kernels::simd::act_quant: int8; bf16 ignores it).
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/hana/basic_tuple.hpp>

#include "../../kernels/simd/int8.hpp"  // act_quant
#include "../../kernels/simd/pool.hpp"
#include "graph.hpp"

namespace typenet::exec::simd_reduced_graph {

namespace ks = ::typenet::kernels::simd;
using simd_graph::fused_op;
using ::typenet::detail::thread_pool;

/// Where the values are during one run: the reduced arena, and the fp32 frame the shadow executors use.
template <class Format>
struct frame {
  using T = typename Format::T;
  T* arena;
  const std::int64_t* offset;  ///< per value of the plan, in elements from arena (simd_graph::frame's)
  int batch;
  thread_pool* pool;
  const T* zeros;
  float* workspace;              ///< per thread, for the native kernels that need one
  const simd_graph::frame* f32;  ///< the shadow arena (fp32, the plan's offsets)
  const ks::act_quant* quant;    ///< per value of the plan (int8), or nullptr
  T* at(int v) const { return arena + offset[static_cast<std::size_t>(v)]; }
  ks::act_quant quant_of(int v) const { return quant ? quant[static_cast<std::size_t>(v)] : ks::act_quant{}; }
};

/// How value V of a lowered network is stored: `channels` per pixel, Format::stored(channels) elements.
template <class Format, class Low, int V>
struct stored_value {
  static constexpr value_dims d = Low::plan::dims[static_cast<std::size_t>(V)];
  static constexpr int channels = d.c > 0 ? d.c : static_cast<int>(Low::plan::size[static_cast<std::size_t>(V)]);
  static constexpr int stored = Format::stored(channels);
  static constexpr std::int64_t pixels = d.c > 0 ? std::int64_t{d.h} * d.w : 1;

  /// Pixels [b, e) of the batch (image-major): stored -> the fp32 shadow.
  static void widen(const frame<Format>& fr, std::int64_t b, std::int64_t e) {
    Format::template to_f32<channels>(fr.at(V) + b * stored, fr.f32->at(V) + b * channels, e - b, fr.quant_of(V));
  }
  /// Pixels [b, e): the fp32 shadow -> stored.
  static void round(const frame<Format>& fr, std::int64_t b, std::int64_t e) {
    Format::template from_f32<channels>(fr.f32->at(V) + b * channels, fr.at(V) + b * stored, e - b, fr.quant_of(V));
  }
  static void widen_all(const frame<Format>& fr) {
    simd_graph::split_run(*fr.pool, pixels * fr.batch, [&](std::int64_t b, std::int64_t e) { widen(fr, b, e); });
  }
  static void round_all(const frame<Format>& fr) {
    simd_graph::split_run(*fr.pool, pixels * fr.batch, [&](std::int64_t b, std::int64_t e) { round(fr, b, e); });
  }
};

struct no_extras {
  static constexpr std::size_t zero_elems = 0, workspace_floats = 0, f32_zero_floats = 0, f32_workspace_floats = 0;
  static constexpr bool fallback = false, shadow = false;
};

/// An op with no native kernel: its fp32 executor on widened copies of its inputs (and residual), its output
/// stored back. Op I's fp32 executor is exactly the fp32 program's.
template <class Format, class Low, std::size_t I, class Arch>
struct shadow_exec {
  using f32_exec = typename simd_graph::exec_for<Low, I, Arch>::type;
  static constexpr fused_op op = Low::ops[I];
  static constexpr std::size_t zero_elems = 0, workspace_floats = 0;
  static constexpr std::size_t f32_zero_floats = f32_exec::zero_floats;
  static constexpr std::size_t f32_workspace_floats = f32_exec::workspace_floats;
  static constexpr bool fallback = f32_exec::fallback, shadow = true;
  using B = typename Low::template leaf<(op.leaf >= 0 ? op.leaf : 0)>;  ///< the layer (fallback_layers names it)

  f32_exec exec;
  explicit shadow_exec(const float* p) : exec(p) {}

  void run(const frame<Format>& fr) const {
    [&]<std::size_t... K>(std::index_sequence<K...>) { (stored_value<Format, Low, op.inputs[K]>::widen_all(fr), ...); }
    (std::make_index_sequence<static_cast<std::size_t>(op.input_count)>{});
    if constexpr (op.residual >= 0) stored_value<Format, Low, op.residual>::widen_all(fr);
    exec.run(*fr.f32);
    stored_value<Format, Low, op.output>::round_all(fr);
  }
};

/// Which of the fp32 program's executors an op has (the reduced programs replace some of them).
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

template <class T>
struct is_f32_dense : std::false_type {};
template <class L, fused_op O, class A>
struct is_f32_dense<simd_graph::dense_exec<L, O, A>> : std::true_type {};

/// A dense layer's weights (F32: its fp32 executor, simd_graph::dense_exec) as a 1x1 convolution over the
/// stored NHWC input wants them: [out][in] with the inputs of a conv-shaped value ordered (h, w, c); and its
/// bias (zeros where the layer has none).
template <class F32>
void dense_weights_hwc(const float* p, std::vector<float>& w, std::vector<float>& b) {
  using B = typename F32::B;
  const float* src = p + B::tensor_offset(0);
  w.assign(std::size_t(F32::in_size) * F32::out_size, 0.0f);
  b.assign(std::size_t(F32::out_size), 0.0f);
  constexpr auto d = F32::in_dims;
  if constexpr (d.c > 0)
    simd_graph::permute_to_hwc(src, w.data(), F32::out_size, d.c, d.h, d.w);
  else
    std::copy(src, src + w.size(), w.begin());
  if constexpr (B::layer::has_bias)
    for (int o = 0; o < F32::out_size; ++o) b[std::size_t(o)] = p[B::tensor_offset(1) + o];
}

/// A max or average pool on stored values whose channels the Format stores unpadded: pool.hpp's kernel over
/// Format::T storage. bf16: a max is exact, an average is summed in fp32 and rounded once. int8 (max pools
/// only): the output shares the input's scale and zero point (simd_int8_graph::tie_max_pools), so the max of
/// the stored integers is the quantised max, exactly.
template <class Format, class Low, fused_op Op, class Arch>
struct pool_exec : no_extras {
  using B = typename Low::template leaf<Op.leaf>;
  using L = typename B::layer;
  using kernel =
      ks::pool_kernel<ks::pool_geometry_of<B>, L::kind == pool_kind::max ? ks::pool_op::max : ks::pool_op::average,
                      Arch, typename Format::T>;
  explicit pool_exec(const float*) {}
  void run(const frame<Format>& fr) const {
    simd_graph::split_run(*fr.pool, kernel::items(fr.batch), [&](std::int64_t b, std::int64_t e) {
      kernel::run(fr.at(Op.inputs[0]), fr.at(Op.output), b, e);
    });
  }
};

/// Whether an op whose fp32 executor is F32Exec runs as pool_exec: a pool over channels the Format stores
/// unpadded (Format::stored(C) == C), and a max pool unless Averages.
template <class Format, class F32Exec, bool Averages>
constexpr bool runs_stored_pool() {
  if constexpr (is_f32_spatial<F32Exec>::value) {
    using L = typename F32Exec::L;
    if constexpr (layer_kind_of<L> == layer_kind::pool)
      return (Averages || L::kind == pool_kind::max) && Format::stored(F32Exec::C) == F32Exec::C;
    else
      return false;
  } else {
    return false;
  }
}

/// The program of a graph network in a reduced precision: ExecFor<Low, I, Arch>::type is op I's executor
/// (constructed from the canonical parameters, and the values' quantisations where it takes them). The
/// input is stored in the reduced type when it is converted to NHWC; the output comes back as fp32 (from
/// the shadow where the last op ran in fp32, else widened). run() and time_ops() (the latter with each
/// shadow op's widening and storing passes) come from simd_graph::chunked_program. Everything is
/// allocated by the constructor; a forward pass allocates nothing.
/// ExecFor<Low, I, Arch>::type as a template of the op's index (the program's ExecAt for staging).
template <template <class, std::size_t, class> class ExecFor, class Low, class Arch>
struct execs_of {
  template <std::size_t I>
  using at = typename ExecFor<Low, I, Arch>::type;
};

template <class Format, class Net, class Arch, template <class, std::size_t, class> class ExecFor>
class graph_program
    : public simd_graph::chunked_program<graph_program<Format, Net, Arch, ExecFor>, simd_graph::lowered<Net>,
                                         execs_of<ExecFor, simd_graph::lowered<Net>, Arch>::template at> {
  using low = simd_graph::lowered<Net>;
  using base = simd_graph::chunked_program<graph_program, low, execs_of<ExecFor, low, Arch>::template at>;
  friend base;
  using T = typename Format::T;
  template <std::size_t I>
  using exec_at = typename ExecFor<low, I, Arch>::type;
  template <std::size_t... I>
  static auto exec_types(std::index_sequence<I...>) -> boost::hana::basic_tuple<exec_at<I>...>;
  using execs_tuple = decltype(exec_types(std::make_index_sequence<low::op_count>{}));
  template <class Tuple>
  struct info;
  template <class... E>
  struct info<boost::hana::basic_tuple<E...>> {
    static constexpr std::size_t zeros = std::max({std::size_t{0}, E::zero_elems...});
    static constexpr std::size_t workspace =
        std::max({std::size_t{0}, E::workspace_floats..., E::f32_workspace_floats...});
    static constexpr std::size_t f32_zeros = std::max({std::size_t{0}, E::f32_zero_floats...});
    static constexpr bool fallback = (false || ... || E::fallback);
  };
  using tuple_info = info<execs_tuple>;
  static constexpr std::int64_t scratch_floats =
      tuple_info::fallback ? *std::max_element(low::plan::size.begin(), low::plan::size.end()) : 0;
  static constexpr value_dims in_dims = low::plan::dims[0];
  static constexpr std::int64_t in_size = Net::input_shape::size;
  /// Elements per image of each value as stored.
  static constexpr auto stored_elems = []<int... V>(std::integer_sequence<int, V...>) {
    return std::array<std::int64_t, sizeof...(V)>{stored_value<Format, low, V>::pixels *
                                                  stored_value<Format, low, V>::stored...};
  }
  (std::make_integer_sequence<int, static_cast<int>(low::plan::size.size())>{});
  /// The op that writes the network's output (the last one that does).
  static constexpr std::size_t out_op = [] {
    std::size_t k = 0;
    for (std::size_t i = 0; i < low::op_count; ++i)
      if (low::ops[i].output == low::output) k = i;
    return k;
  }();

 public:
  /// Whether some layer runs exec::reference's kernel (fallback_layers() names them).
  static constexpr bool reference_fallback = tuple_info::fallback;

  int threads() const noexcept { return pool_.size(); }

  /// The keys of the layers that run exec::reference's kernel (in fp32, between widening and storing).
  static std::vector<std::string> fallback_layers() { return simd_graph::fallback_layers<low, exec_at>(); }

 protected:
  /// max_batch and threads checked by the caller; quant: one per value of the plan (int8), or empty.
  graph_program(const params<Net>& p, int max_batch, int threads, std::vector<ks::act_quant> quant)
      : base(max_batch),
        quant_(std::move(quant)),
        execs_(make_execs(p.data(), quant_, std::make_index_sequence<low::op_count>{})),
        arena_(detail::make_aligned_floats(this->arena_floats())),
        shadow_(detail::make_aligned_floats(this->arena_floats())),
        zeros_(detail::make_aligned_floats(
            static_cast<std::int64_t>((tuple_info::zeros + Format::per_float - 1) / Format::per_float) + 64)),
        f32_zeros_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::f32_zeros) + 64)),
        workspace_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::workspace) * threads)),
        scratch_(detail::make_aligned_floats(2 * scratch_floats * this->fallback_images())),
        pool_(threads),
        at_stored_(low::plan::size.size()),
        at_f32_(low::plan::size.size()) {}

 private:
  /// Stage s over images [first, first + images) on the stored values and their fp32 shadow (f.stored.f32
  /// points to f.f32): stage 0 loads them from in, the last stage stores its output to out.
  template <class AfterOp>
  void run_stage(int s, const float* in, float* out, int first, int images, AfterOp&& after_op) {
    this->value_offsets(s, first, Format::per_float, stored_elems.data(), at_stored_.data());
    this->value_offsets(s, first, 1, low::plan::size.data(), at_f32_.data());
    const simd_graph::frame f32{
        shadow_.get(),    at_f32_.data(),   images,         &pool_,
        f32_zeros_.get(), workspace_.get(), scratch_.get(), scratch_floats * this->fallback_images()};
    const frame<Format> fr{
        reinterpret_cast<T*>(arena_.get()),       at_stored_.data(), images, &pool_,
        reinterpret_cast<const T*>(zeros_.get()), workspace_.get(),  &f32,   quant_.empty() ? nullptr : quant_.data()};
    if (s == 0) {
      in += std::int64_t{first} * in_size;
      T* x = fr.at(0);
      const ks::act_quant q0 = fr.quant_of(0);
      simd_graph::split_run(pool_, images, [&](std::int64_t b, std::int64_t e) {
        if constexpr (in_dims.c > 0) {
          Format::template from_nchw<in_dims.c, in_dims.h, in_dims.w>(in, x, b, e, q0);
        } else {
          using v0 = stored_value<Format, low, 0>;
          Format::template from_f32<v0::channels>(in + b * in_size, x + b * v0::stored, e - b, q0);
        }
      });
    }
    simd_graph::run_ops(execs_, fr, this->stage_begin(s), this->stage_begin(s + 1), after_op);
    if (this->last_stage(s)) {
      // The network's output as fp32: from the shadow where the last op ran in fp32, else widened.
      if constexpr (!exec_at<out_op>::shadow) stored_value<Format, low, low::output>::widen_all(fr);
      simd_graph::store_output<low>(pool_, f32.at(low::output), out + std::int64_t{first} * Net::output_shape::size,
                                    images);
    }
  }

  template <class E>
  static E make_exec(const float* p, const std::vector<ks::act_quant>& quant) {
    if constexpr (std::is_constructible_v<E, const float*, const std::vector<ks::act_quant>&>)
      return E(p, quant);
    else
      return E(p);
  }
  template <std::size_t... I>
  static execs_tuple make_execs(const float* p, const std::vector<ks::act_quant>& quant, std::index_sequence<I...>) {
    return boost::hana::make_basic_tuple(make_exec<exec_at<I>>(p, quant)...);
  }

  std::vector<ks::act_quant> quant_;
  execs_tuple execs_;
  detail::aligned_floats arena_, shadow_, zeros_, f32_zeros_, workspace_, scratch_;
  detail::thread_pool pool_;
  std::vector<std::int64_t> at_stored_, at_f32_;  ///< where the running stage's values are (value_offsets)
};

}  // namespace typenet::exec::simd_reduced_graph
