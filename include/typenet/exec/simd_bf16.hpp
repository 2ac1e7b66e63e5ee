// typenet/exec/simd_bf16.hpp: exec::simd<Arch, precision::bf16>, the bfloat16 program (chain networks here; graph
// networks: the executors of exec/simd_bf16_graph.hpp and the program at the end of this file).
// Included by exec/simd.hpp; use it through that header.
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

#include "../kernels/simd/bf16.hpp"
#include "../precision.hpp"
#include "simd.hpp"  // exec::simd and its fp32 stages (which include this file at their end)
#include "simd_bf16_graph.hpp"

namespace typenet::exec {

template <class Arch>
struct simd<Arch, precision::bf16> {
  /// Threads that run a forward pass (the caller included); at least 1.
  int threads = 1;
  template <class Net>
  class program;
  static std::string description() {
    return std::string("exec::simd, bf16 (AVX512_BF16 dot products, fp32 sums), xsimd architecture ") + Arch::name() +
           " (this CPU offers " + simd_arch::cpu_name() + (kernels::simd::cpu_has_bf16() ? ", with" : ", without") +
           " AVX512_BF16)";
  }
};

/// Whether exec::simd<Arch, precision::bf16> can run here: compiled with AVX512_BF16 (TYPENET_HAS_BF16) and
/// running on a CPU that has it. A program can choose its policy with it.
inline bool bf16_available() noexcept { return TYPENET_HAS_BF16 != 0 && kernels::simd::cpu_has_bf16(); }

namespace simd_bf16_detail {

/// The error a bf16 program gives on a CPU without AVX512_BF16 (std::runtime_error), before any kernel runs.
inline void check_cpu(bool has_bf16 = kernels::simd::cpu_has_bf16()) {
  if (!has_bf16)
    throw std::runtime_error(std::string("typenet: exec::simd<Arch, precision::bf16>: this CPU (best: ") +
                             simd_arch::cpu_name() +
                             ") has no AVX512_BF16 instructions (vdpbf16ps); run the fp32 policy exec::simd<Arch> "
                             "on it");
}

}  // namespace simd_bf16_detail

/// The program where no bf16 program can be built: a translation unit compiled without AVX512_BF16
/// (diag::bf16_not_compiled). It only reports that.
template <class Arch>
template <class Net>
class simd<Arch, precision::bf16>::program {
  static_assert(detail::report<diag::bf16_not_compiled<Arch>>::value);

 public:
  static constexpr bool reference_fallback = false;
  static std::vector<std::string> fallback_layers() { return {}; }
  program(const params<Net>&, int, const simd&) {}
  int threads() const noexcept { return 1; }
  void run(const float*, float*, int) {}
};

#if TYPENET_HAS_BF16

namespace simd_bf16_detail {

namespace ks = ::typenet::kernels::simd;
using ks::bf16_t;
using ks::stored_channels;
using simd_detail::find_bound;
using simd_detail::layout_of_shape;
using simd_detail::nhwc_layout;
using simd_detail::plain_layout;
using ::typenet::type_list;
using ::typenet::detail::split;
using ::typenet::detail::thread_pool;

/// Stored bf16 values of one image of a tensor with layout L and Size floats.
template <class L, std::int64_t Size>
struct stored {
  static constexpr std::int64_t elems = stored_channels(int(Size));
  static constexpr std::int64_t pixels = 1;
  static constexpr int channels = int(Size);
};
template <int C, int H, int W, std::int64_t Size>
struct stored<nhwc_layout<C, H, W>, Size> {
  static constexpr std::int64_t pixels = std::int64_t{H} * W;
  static constexpr std::int64_t elems = stored_channels(C) * pixels;
  static constexpr int channels = C;
};

/// fp32 [batch][Size] in layout L <-> stored bf16, images [b, e) (a range of whole images).
template <class L, std::int64_t Size>
void round_images(const float* src, bf16_t* dst, std::int64_t b, std::int64_t e) {
  using St = stored<L, Size>;
  for (std::int64_t i = b; i < e; ++i)
    ks::pixels_to_bf16<St::channels>(src + i * Size, dst + i * St::elems, St::pixels);
}
template <class L, std::int64_t Size>
void widen_images(const bf16_t* src, float* dst, std::int64_t b, std::int64_t e) {
  using St = stored<L, Size>;
  for (std::int64_t i = b; i < e; ++i) ks::pixels_to_f32<St::channels>(src + i * St::elems, dst + i * Size, St::pixels);
}

/// thread_pool::run for a temporary function object.
template <class F>
void on_threads(thread_pool& pool, F&& f) {
  pool.run(f);
}

/// What a stage needs besides its input and output.
struct frame {
  float* scratch_a;
  float* scratch_b;
  const bf16_t* zeros;
  std::uint32_t* panel;
  float* f32_scratch;      // for the fp32 executors of island stages
  const float* f32_zeros;  // idem
  float* workspace;        // idem, per thread
  int batch;
  thread_pool* pool;
};

// ---- stage executors -------------------------------------------------------------------------------
// Each has: out_layout; scratch_a_floats, scratch_b_floats (per image); zero_elems; panel_pairs(max_batch);
// a constructor from the canonical parameter buffer; run(const bf16_t* in, void* out, const frame&), where
// out holds bf16 values in the stored layout, or floats when Last.

template <class Stage, class InLayout, class Arch, bool Last, class Bs = typename Stage::layers>
struct conv_stage;
template <class Stage, class InLayout, class Arch, bool Last, class... Bs>
struct conv_stage<Stage, InLayout, Arch, Last, type_list<Bs...>> {
  using conv_b = typename Stage::first;
  using lrn_b = typename find_bound<layer_kind::lrn, Bs...>::type;
  using pool_b = typename find_bound<layer_kind::pool, Bs...>::type;
  static constexpr bool relu_ = !std::is_void_v<typename find_bound<layer_kind::relu, Bs...>::type>;
  static constexpr bool has_lrn = !std::is_void_v<lrn_b>, has_pool = !std::is_void_v<pool_b>;
  static constexpr bool post = has_lrn || has_pool;  // fp32 work on the conv output inside the stage
  using geo = ks::conv_geometry_of<conv_b>;
  using out_t = std::conditional_t<Last, float, bf16_t>;
  using conv_out_t = std::conditional_t<post, float, out_t>;
  using kernel = ks::conv_bf16_kernel<geo, conv_out_t>;
  using out_shape = typename Stage::output;
  using out_layout = typename layout_of_shape<out_shape>::type;
  using epilogue = std::conditional_t<relu_, ks::epilogue_relu, ks::epilogue_none>;
  using lrn_kernel = typename simd_detail::lrn_of<lrn_b, geo, Arch>::type;
  using pool_kernel = typename simd_detail::pool_of<pool_b, Arch>::type;
  static constexpr std::int64_t conv_floats = conv_b::output::size;
  static constexpr std::int64_t out_floats = out_shape::size;
  using out_stored = stored<out_layout, out_floats>;
  static constexpr std::int64_t in_elems = stored<InLayout, conv_b::input::size>::elems;
  static constexpr std::int64_t out_elems = Last ? out_floats : out_stored::elems;  // per image, of out_t
  static constexpr std::int64_t scratch_a_floats = post ? conv_floats : 0;
  static constexpr std::int64_t scratch_b_floats = has_pool && !Last ? out_floats : 0;
  static constexpr std::size_t zero_elems = kernel::zero_elems;
  static constexpr std::size_t panel_pairs(int) { return 0; }

  /// Winograd F(2x2, 3x3) in bf16 where the fp32 program uses it (ks::winograd_suits, ks::winograd_bf16).
  static constexpr bool winograd = ks::winograd_suits<geo>;
  using wino = ks::winograd_bf16<geo::c, geo::h, geo::w, geo::f, conv_out_t>;
  static constexpr std::size_t workspace_floats = winograd ? wino::workspace_floats_per_part : 0;

  detail::aligned_floats packed, packed_bias;

  explicit conv_stage(const float* params)
      : packed(simd_detail::copy_aligned(((winograd ? wino::packed_elems : kernel::packed_elems) + 1) / 2)),
        packed_bias(simd_detail::copy_aligned(kernel::packed_bias_floats)) {
    if constexpr (winograd) {
      wino::pack(params + conv_b::weight_offset, weights());
      std::memcpy(packed_bias.get(), params + conv_b::bias_offset, sizeof(float) * geo::f);
    } else {
      kernel::pack(params + conv_b::weight_offset, params + conv_b::bias_offset, weights(), packed_bias.get());
    }
  }

  void run(const bf16_t* in, void* out_v, const frame& f) const {
    out_t* out = static_cast<out_t*>(out_v);
    const int batch = f.batch, threads = f.pool->size();
    if (batch % threads == 0 || batch >= 4 * threads) {
      // Whole images per thread (see the fp32 conv_stage): the fp32 intermediates of an image stay in one
      // slot of the scratch per thread, in cache.
      std::atomic<std::int64_t> next{0};
      on_threads(*f.pool, [&](int t, int) {
        for (std::int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < batch;
             i = next.fetch_add(1, std::memory_order_relaxed)) {
          float* a = f.scratch_a + std::int64_t{t} * scratch_a_floats;
          float* b = f.scratch_b + std::int64_t{t} * scratch_b_floats;
          const bf16_t* x = in + i * in_elems;
          out_t* y = out + i * out_elems;
          float* ws = f.workspace + std::size_t(t) * workspace_floats;
          if constexpr (post) {
            conv_image(x, a, f.zeros, ws);
            if constexpr (has_lrn) run_lrn(a, 0, lrn_kernel::items(1));
            finish(a, has_pool ? b : a, y, 0, 1);
          } else {
            conv_image(x, y, f.zeros, ws);
          }
        }
      });
      return;
    }
    // One batch split over the threads: conv items in chunks, then (barriers between) LRN, pool, rounding.
    conv_out_t* conv_out;
    if constexpr (post)
      conv_out = f.scratch_a;
    else
      conv_out = out;
    const std::int64_t items = kernel::items(batch);
    const std::int64_t chunk = std::max<std::int64_t>(1, items / (8 * threads));
    std::atomic<std::int64_t> next{0};
    on_threads(*f.pool, [&]([[maybe_unused]] int t, [[maybe_unused]] int n) {
      if constexpr (winograd) {
        const auto r = split(wino::tiles(batch), t, n);
        wino::template run_tiles<epilogue>(weights(), packed_bias.get(), in, conv_out,
                                           f.workspace + std::size_t(t) * workspace_floats, r.begin, r.end);
      } else {
        for (std::int64_t b = next.fetch_add(chunk, std::memory_order_relaxed); b < items;
             b = next.fetch_add(chunk, std::memory_order_relaxed))
          kernel::template run<epilogue>(weights(), packed_bias.get(), in, conv_out, f.zeros, batch, b,
                                         std::min(items, b + chunk));
      }
    });
    if constexpr (post) {
      if constexpr (has_lrn)
        on_threads(*f.pool, [&](int t, int n) {
          const auto r = split(lrn_kernel::items(batch), t, n);
          run_lrn(f.scratch_a, r.begin, r.end);
        });
      float* pooled = has_pool ? f.scratch_b : f.scratch_a;
      if constexpr (has_pool) {
        float* dst;
        if constexpr (Last)
          dst = out;
        else
          dst = pooled;
        on_threads(*f.pool, [&](int t, int n) {
          const auto r = split(pool_kernel::items(batch), t, n);
          pool_kernel::run(f.scratch_a, dst, r.begin, r.end);
        });
      }
      if constexpr (!(Last && has_pool))
        on_threads(*f.pool, [&](int t, int n) {
          // Rounding (or copying) by pixel ranges: with batch 1 both threads share the image.
          const auto r = split(std::int64_t{batch} * out_stored::pixels, t, n);
          store_pixels(pooled, out, r.begin, r.end);
        });
    }
  }

 private:
  bf16_t* weights() const { return reinterpret_cast<bf16_t*>(packed.get()); }
  void conv_image(const bf16_t* x, conv_out_t* y, const bf16_t* zeros, [[maybe_unused]] float* workspace) const {
    if constexpr (winograd)
      wino::template run_tiles<epilogue>(weights(), packed_bias.get(), x, y, workspace, 0, wino::tiles(1));
    else
      kernel::template run<epilogue>(weights(), packed_bias.get(), x, y, zeros, 1, 0, kernel::items(1));
  }
  static void run_lrn(float* data, std::int64_t begin, std::int64_t end) {
    if constexpr (has_lrn) {
      using L = typename lrn_b::layer;
      lrn_kernel::run(data, data, begin, end, L::alpha, L::beta, L::k);
    }
  }
  // pixels [b, e) of fp32 out_shape (channels last) -> out.
  static void store_pixels(const float* src, out_t* dst, std::int64_t b, std::int64_t e) {
    constexpr int C = out_stored::channels;
    if constexpr (Last)
      std::memcpy(dst + b * C, src + b * C, sizeof(float) * std::size_t(e - b) * C);
    else
      ks::pixels_to_bf16<C>(src + b * C, dst + b * stored_channels(C), e - b);
  }
  // One image's fp32 conv output a (after its LRN) -> pooled into b (when pooling) -> y.
  static void finish(float* a, float* b, out_t* y, std::int64_t, std::int64_t) {
    if constexpr (has_pool) {
      if constexpr (Last) {
        pool_kernel::run(a, y, 0, pool_kernel::items(1));
        return;
      } else {
        pool_kernel::run(a, b, 0, pool_kernel::items(1));
      }
    }
    store_pixels(b, y, 0, out_stored::pixels);
  }
};

/// Dense weights [Out][N] in PyTorch's input order -> [Out][stored elements] in the stored order of the
/// producer's layout (channels last, the padding columns zero).
template <class InLayout, int N>
struct dense_stored_order {
  static constexpr int elems = int(stored<InLayout, N>::elems);
  static void permute(const float* w, float* dst, int out) {
    for (int o = 0; o < out; ++o) {
      float* d = dst + std::size_t(o) * elems;
      std::fill(d, d + elems, 0.f);
      if constexpr (std::is_same_v<InLayout, plain_layout>) {
        std::copy(w + std::size_t(o) * N, w + std::size_t(o + 1) * N, d);
      } else {
        constexpr int C = InLayout::c, P = InLayout::h * InLayout::w, Cs = stored_channels(C);
        for (int c = 0; c < C; ++c)
          for (int p = 0; p < P; ++p) d[std::size_t(p) * Cs + c] = w[std::size_t(o) * N + std::size_t(c) * P + p];
      }
    }
  }
};

template <class Stage, class InLayout, class Arch, bool Last, class Bs = typename Stage::layers>
struct dense_stage;
template <class Stage, class InLayout, class Arch, bool Last, class... Bs>
struct dense_stage<Stage, InLayout, Arch, Last, type_list<Bs...>> {
  using dense_b = typename Stage::first;
  static constexpr int in_size = static_cast<int>(dense_b::input::size);
  static constexpr int out_size = static_cast<int>(dense_b::output::size);
  static constexpr bool relu_ = !std::is_void_v<typename find_bound<layer_kind::relu, Bs...>::type>;
  static constexpr bool softmax_ = !std::is_void_v<typename find_bound<layer_kind::softmax, Bs...>::type>;
  using order = dense_stored_order<InLayout, in_size>;
  static constexpr bool f32_out = Last || softmax_;  // the kernel writes floats
  using kernel = ks::dense_bf16_kernel<order::elems, out_size, std::conditional_t<f32_out, float, bf16_t>>;
  using epilogue = std::conditional_t<relu_, ks::epilogue_relu, ks::epilogue_none>;
  using out_layout = plain_layout;
  using out_t = std::conditional_t<Last, float, bf16_t>;
  static constexpr std::int64_t scratch_a_floats = softmax_ && !Last ? out_size : 0;
  static constexpr std::int64_t scratch_b_floats = 0;
  static constexpr std::size_t zero_elems = 0;
  static constexpr std::size_t panel_pairs(int max_batch) { return max_batch > 1 ? kernel::panel_pairs(max_batch) : 0; }

  detail::aligned_floats packed, bias;

  explicit dense_stage(const float* params)
      : packed(simd_detail::copy_aligned((kernel::packed_elems + 1) / 2)),
        bias(simd_detail::copy_aligned(kernel::bias_floats)) {
    std::vector<float> w(std::size_t(order::elems) * out_size);
    order::permute(params + dense_b::weight_offset, w.data(), out_size);
    kernel::pack(w.data(), params + dense_b::bias_offset, weights(), bias.get());
  }

  void run(const bf16_t* in, void* out_v, const frame& f) const {
    const int batch = f.batch;
    thread_pool& pool = *f.pool;
    if (batch > 1)
      on_threads(pool, [&](int t, int n) {
        const int rows = ceil_rows(batch);
        const auto r = split(rows, t, n);
        kernel::make_panel(in, f.panel, batch, int(r.begin), int(r.end));
      });
    using k_out_t = std::conditional_t<f32_out, float, bf16_t>;
    k_out_t* kout;
    if constexpr (softmax_ && !Last)
      kout = f.scratch_a;
    else
      kout = static_cast<k_out_t*>(out_v);
    const int parts = pool.size() == 1 ? 1 : 4 * pool.size();
    std::atomic<int> next{0};
    on_threads(pool, [&](int, int) {
      for (int part = next.fetch_add(1, std::memory_order_relaxed); part < parts;
           part = next.fetch_add(1, std::memory_order_relaxed))
        kernel::template run<epilogue>(weights(), bias.get(), in, f.panel, kout, batch, part, parts);
    });
    if constexpr (softmax_) {
      on_threads(pool, [&](int t, int n) {
        const auto r = split(batch, t, n);
        for (std::int64_t b = r.begin; b < r.end; ++b) {
          float* row = kout + b * out_size;
          ks::softmax_row(row, row, out_size);
          if constexpr (!Last) ks::to_bf16(row, static_cast<bf16_t*>(out_v) + b * stored_channels(out_size), out_size);
        }
      });
    }
  }

 private:
  static int ceil_rows(int batch) { return ks::ceil_div(batch, kernel::tile_rows) * kernel::tile_rows; }
  bf16_t* weights() const { return reinterpret_cast<bf16_t*>(packed.get()); }
};

/// Any other stage (standalone relu, softmax, LRN, pools, adaptive average pool; a grouped convolution with
/// an odd number of channels per group, which pairs of adjacent channels cannot serve): its fp32 executor
/// between a widening pass and a rounding pass.
template <class Stage, class InLayout, class Arch, bool Last>
struct island_stage {
  using f32_exec = typename simd_detail::stage_exec_select<Stage, InLayout, Arch>::type;
  using out_layout = typename f32_exec::out_layout;
  static constexpr std::int64_t in_floats = Stage::first::input::size, out_floats = Stage::output::size;
  static constexpr std::int64_t scratch_a_floats = in_floats;
  static constexpr std::int64_t scratch_b_floats = Last ? 0 : out_floats;
  static constexpr std::int64_t f32_scratch_floats = f32_exec::scratch_floats;
  static constexpr std::size_t f32_zero_floats = f32_exec::zero_floats;
  static constexpr std::size_t workspace_floats = f32_exec::workspace_floats;
  static constexpr std::size_t zero_elems = 0;
  static constexpr std::size_t panel_pairs(int) { return 0; }

  f32_exec exec;
  explicit island_stage(const float* params) : exec(params) {}

  void run(const bf16_t* in, void* out_v, const frame& f) const {
    const int batch = f.batch;
    on_threads(*f.pool, [&](int t, int n) {
      const auto r = split(batch, t, n);
      widen_images<InLayout, in_floats>(in, f.scratch_a, r.begin, r.end);
    });
    float* dst = Last ? static_cast<float*>(out_v) : f.scratch_b;
    exec.run(f.scratch_a, dst, f.f32_scratch, f.f32_zeros, f.workspace, batch, *f.pool);
    if constexpr (!Last)
      on_threads(*f.pool, [&](int t, int n) {
        const auto r = split(batch, t, n);
        round_images<out_layout, out_floats>(f.scratch_b, static_cast<bf16_t*>(out_v), r.begin, r.end);
      });
  }
};

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
                                            island_stage<Stage, InLayout, Arch, Last>>>;
};

/// The executors of a stage list, each with the layout it reads.
template <class Layout, class Stages, class Arch>
struct build;
template <class Layout, class Arch>
struct build<Layout, type_list<>, Arch> {
  using execs = type_list<>;
  using final_layout = Layout;
};
template <class Layout, class S, class... Rest, class Arch>
struct build<Layout, type_list<S, Rest...>, Arch> {
  using exec = typename stage_select<S, Layout, Arch, sizeof...(Rest) == 0>::type;
  using next = build<typename exec::out_layout, type_list<Rest...>, Arch>;
  template <class List>
  struct prepend;
  template <class... E>
  struct prepend<type_list<E...>> {
    using type = type_list<exec, E...>;
  };
  using execs = typename prepend<typename next::execs>::type;
  using final_layout = typename next::final_layout;
};

// What an island stage's fp32 executor needs (0 for the other stages).
template <class E>
constexpr std::int64_t f32_scratch_of() {
  if constexpr (requires { E::f32_scratch_floats; })
    return E::f32_scratch_floats;
  else
    return 0;
}
template <class E>
constexpr std::size_t f32_zeros_of() {
  if constexpr (requires { E::f32_zero_floats; })
    return E::f32_zero_floats;
  else
    return 0;
}
template <class E>
constexpr std::size_t workspace_of() {
  if constexpr (requires { E::workspace_floats; })
    return E::workspace_floats;
  else
    return 0;
}

template <class List>
struct as_tuple;
template <class... E>
struct as_tuple<type_list<E...>> {
  using type = boost::hana::basic_tuple<E...>;
  static constexpr std::int64_t scratch_a = std::max({std::int64_t{0}, E::scratch_a_floats...});
  static constexpr std::int64_t scratch_b = std::max({std::int64_t{0}, E::scratch_b_floats...});
  static constexpr std::size_t zeros = std::max({std::size_t{0}, E::zero_elems...});
  static constexpr std::int64_t f32_scratch = std::max({std::int64_t{0}, f32_scratch_of<E>()...});
  static constexpr std::size_t f32_zeros = std::max({std::size_t{0}, f32_zeros_of<E>()...});
  static constexpr std::size_t workspace = std::max({std::size_t{0}, workspace_of<E>()...});
  static std::size_t panel(int max_batch) { return std::max({std::size_t{0}, E::panel_pairs(max_batch)...}); }
};

}  // namespace simd_bf16_detail

template <class Arch>
template <class Net>
requires(simd_native<Net>) class simd<Arch, precision::bf16>::program<Net> {
  using stages = fusion::stages_t<Net>;
  using in_layout = typename simd_detail::layout_of_shape<typename Net::input_shape>::type;
  using built = simd_bf16_detail::build<in_layout, stages, Arch>;
  using execs_list = typename built::execs;
  using tuple_info = simd_bf16_detail::as_tuple<execs_list>;
  using execs_tuple = typename tuple_info::type;
  using bf16_t = kernels::simd::bf16_t;
  static constexpr std::int64_t in_size = Net::input_shape::size;
  static constexpr std::int64_t out_size = Net::output_shape::size;
  static constexpr std::int64_t in_elems = simd_bf16_detail::stored<in_layout, in_size>::elems;
  // Floats per image of a ping-pong buffer: a stored bf16 tensor takes at most as many bytes as its fp32 one.
  static constexpr std::int64_t buffer_floats = std::max(in_size, simd_detail::largest_output<stages>::value);

 public:
  static constexpr bool reference_fallback = false;
  static std::vector<std::string> fallback_layers() { return {}; }

  program(const params<Net>& p, int max_batch, const simd& policy)
      : max_batch_(check(max_batch, policy)),
        execs_(make_execs(p.data(), static_cast<execs_list*>(nullptr))),
        a_(detail::make_aligned_floats(buffer_floats * max_batch_)),
        b_(detail::make_aligned_floats(buffer_floats * max_batch_)),
        scratch_a_(detail::make_aligned_floats(tuple_info::scratch_a * std::max(max_batch_, policy.threads))),
        scratch_b_(detail::make_aligned_floats(tuple_info::scratch_b * std::max(max_batch_, policy.threads))),
        zeros_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::zeros) + 64)),
        panel_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::panel(max_batch_)))),
        f32_scratch_(detail::make_aligned_floats(tuple_info::f32_scratch * max_batch_)),
        f32_zeros_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::f32_zeros) + 64)),
        workspace_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::workspace) * policy.threads)),
        pool_(policy.threads) {}

  int threads() const noexcept { return pool_.size(); }

  void run(const float* in, float* out, int batch) {
    simd_detail::check_batch(batch, max_batch_);
    void* cur = a_.get();
    void* next = b_.get();
    simd_bf16_detail::on_threads(pool_, [&](int t, int n) {
      const auto r = detail::split(batch, t, n);
      auto* dst = static_cast<bf16_t*>(cur);
      if constexpr (std::is_same_v<in_layout, simd_detail::plain_layout>) {
        for (std::int64_t i = r.begin; i < r.end; ++i) {
          kernels::simd::to_bf16(in + i * in_size, dst + i * in_elems, in_size);
          if (in_elems != in_size) dst[i * in_elems + in_size] = 0;
        }
      } else {
        using S = typename Net::input_shape;
        kernels::simd::nchw_to_nhwc_bf16<S::dims[0], S::dims[1], S::dims[2]>(in, dst, r.begin, r.end);
      }
    });
    const simd_bf16_detail::frame f{scratch_a_.get(),
                                    scratch_b_.get(),
                                    reinterpret_cast<const bf16_t*>(zeros_.get()),
                                    reinterpret_cast<std::uint32_t*>(panel_.get()),
                                    f32_scratch_.get(),
                                    f32_zeros_.get(),
                                    workspace_.get(),
                                    batch,
                                    &pool_};
    boost::hana::for_each(execs_, [&](auto& e) {
      e.run(static_cast<const bf16_t*>(cur), next, f);
      std::swap(cur, next);
    });
    const float* last = static_cast<const float*>(cur);
    using final_layout = typename built::final_layout;
    if constexpr (std::is_same_v<final_layout, simd_detail::plain_layout>) {
      std::memcpy(out, last, sizeof(float) * std::size_t(batch * out_size));
    } else {
      using S = final_layout;
      simd_bf16_detail::on_threads(pool_, [&](int t, int n) {
        const auto r = detail::split(batch, t, n);
        kernels::simd::nhwc_to_nchw<S::c, S::h, S::w>(last, out, r.begin, r.end);
      });
    }
  }

 private:
  static int check(int max_batch, const simd& policy) {
    const int checked = simd_detail::checked<Arch>(max_batch, policy.threads);
    simd_bf16_detail::check_cpu();
    return checked;
  }
  template <class... E>
  static execs_tuple make_execs(const float* p, simd_detail::type_list<E...>*) {
    return boost::hana::make_basic_tuple(E(p)...);
  }

  int max_batch_;
  execs_tuple execs_;
  detail::aligned_floats a_, b_, scratch_a_, scratch_b_, zeros_, panel_, f32_scratch_, f32_zeros_, workspace_;
  detail::thread_pool pool_;
};

/// A graph network (blocks, batch norm, relu6, depthwise convolutions): exec/simd_bf16_graph.hpp's executors
/// over the fp32 graph program's op list and arena plan.
template <class Arch>
template <class Net>
requires(!simd_native<Net>) class simd<Arch, precision::bf16>::program<Net> {
  using low = simd_graph::lowered<Net>;
  template <std::size_t I>
  using exec_at = typename simd_bf16_graph::exec_for<low, I, Arch>::type;
  template <std::size_t... I>
  static auto exec_types(std::index_sequence<I...>) -> boost::hana::basic_tuple<exec_at<I>...>;
  using execs_tuple = decltype(exec_types(std::make_index_sequence<low::op_count>{}));
  template <class T>
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
  using bf16_t = kernels::simd::bf16_t;
  static constexpr std::int64_t scratch_floats =
      tuple_info::fallback ? *std::max_element(low::plan::size.begin(), low::plan::size.end()) : 0;
  static constexpr value_dims in_dims = low::plan::dims[0];
  static constexpr value_dims out_dims = low::plan::dims[static_cast<std::size_t>(low::output)];
  static constexpr std::int64_t in_size = Net::input_shape::size, out_size = Net::output_shape::size;
  using out_value = simd_bf16_graph::stored_value<low, low::output>;

 public:
  /// Images per pass through the op list, as in the fp32 program.
  static constexpr int chunk_images = simd_graph::chunk_images<low>;
  /// Whether some layer runs exec::reference's kernel (fallback_layers() names them).
  static constexpr bool reference_fallback = tuple_info::fallback;
  static constexpr std::size_t fused_ops = low::op_count;

  program(const params<Net>& p, int max_batch, const simd<Arch, precision::bf16>& policy)
      : max_batch_(check(max_batch, policy)),
        chunk_(std::min(max_batch_, chunk_images)),
        execs_(make_execs(p.data(), std::make_index_sequence<low::op_count>{})),
        arena_(detail::make_aligned_floats(low::floats_per_image * chunk_)),
        shadow_(detail::make_aligned_floats(low::floats_per_image * chunk_)),
        zeros_(detail::make_aligned_floats(static_cast<std::int64_t>((tuple_info::zeros + 1) / 2) + 64)),
        f32_zeros_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::f32_zeros) + 64)),
        workspace_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::workspace) * policy.threads)),
        scratch_(detail::make_aligned_floats(2 * scratch_floats * chunk_)),
        pool_(policy.threads) {}

  int threads() const noexcept { return pool_.size(); }

  /// The keys of the layers that run exec::reference's kernel (in fp32, between widening and rounding).
  static std::vector<std::string> fallback_layers() { return simd_graph::fallback_layers<low, exec_at>(); }

  void run(const float* in, float* out, int batch) {
    simd_detail::check_batch(batch, max_batch_);
    for (int i = 0; i < batch; i += chunk_)
      run_chunk(in + std::int64_t{i} * in_size, out + std::int64_t{i} * out_size, std::min(chunk_, batch - i),
                [](std::size_t) {});
  }

  /// As the fp32 program's time_ops: the median time of every fused op (with its widening and rounding
  /// passes where it runs in fp32).
  using op_time = simd_graph::op_time;
  std::vector<op_time> time_ops(const float* in, float* out, int batch, int passes) {
    simd_detail::check_batch(batch, max_batch_);
    return simd_graph::time_ops<low>(
        [&](const float* x, float* y, int n, auto&& after_op) { run_chunk(x, y, n, after_op); }, in, out, batch, chunk_,
        passes);
  }

 private:
  template <class AfterOp>
  void run_chunk(const float* in, float* out, int batch, AfterOp&& after_op) {
    const simd_graph::frame f32{
        shadow_.get(),  low::offset.data(),     chunk_, batch, &pool_, f32_zeros_.get(), workspace_.get(),
        scratch_.get(), scratch_floats * chunk_};
    const simd_bf16_graph::frame fr{
        reinterpret_cast<bf16_t*>(arena_.get()),       low::offset.data(), chunk_, batch, &pool_,
        reinterpret_cast<const bf16_t*>(zeros_.get()), workspace_.get(),   &f32};
    bf16_t* first = fr.at(0);
    simd_graph::split_run(pool_, batch, [&](std::int64_t b, std::int64_t e) {
      if constexpr (in_dims.c > 0) {
        kernels::simd::nchw_to_nhwc_bf16<in_dims.c, in_dims.h, in_dims.w>(in, first, b, e);
      } else {
        constexpr std::int64_t stored = kernels::simd::stored_channels(int(in_size));
        for (std::int64_t i = b; i < e; ++i) {
          kernels::simd::to_bf16(in + i * in_size, first + i * stored, in_size);
          if (stored != in_size) first[i * stored + in_size] = 0;
        }
      }
    });
    std::size_t op = 0;
    boost::hana::for_each(execs_, [&](auto& e) {
      e.run(fr);
      after_op(op++);
    });
    out_value::widen_all(fr);
    const float* last = f32.at(low::output);
    simd_graph::split_run(pool_, batch, [&](std::int64_t b, std::int64_t e) {
      if constexpr (out_dims.c > 0)
        kernels::simd::nhwc_to_nchw<out_dims.c, out_dims.h, out_dims.w>(last, out, b, e);
      else
        std::memcpy(out + b * out_size, last + b * out_size, sizeof(float) * std::size_t(e - b) * out_size);
    });
  }

  static int check(int max_batch, const simd<Arch, precision::bf16>& policy) {
    const int checked = simd_detail::checked<Arch>(max_batch, policy.threads);
    simd_bf16_detail::check_cpu();
    return checked;
  }
  template <std::size_t... I>
  static execs_tuple make_execs(const float* p, std::index_sequence<I...>) {
    return boost::hana::make_basic_tuple(exec_at<I>(p)...);
  }

  int max_batch_;
  int chunk_;
  execs_tuple execs_;
  detail::aligned_floats arena_, shadow_, zeros_, f32_zeros_, workspace_, scratch_;
  detail::thread_pool pool_;
};

#endif  // TYPENET_HAS_BF16

}  // namespace typenet::exec
