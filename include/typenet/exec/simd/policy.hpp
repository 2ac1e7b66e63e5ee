// typenet/exec/simd/policy.hpp: the fused, packed, vectorised and threaded CPU policy.
//
//   tn::exec::simd<> policy;  policy.threads = 2;
//   tn::model<tn::zoo::seed_alexnet, tn::exec::simd<>> m(params, /*max_batch=*/64, policy);
//
// The program runs the fusion plan fusion::stages_t<Net> stage by stage:
//   conv2d [+ relu] [+ lrn] [+ max/avg pool]   register-blocked direct convolution (kernels/simd/conv2d.hpp),
//                                              bias and ReLU in the kernel's epilogue, then LRN and pooling
//   dense [+ relu | softmax]                   kernels/simd/dense.hpp, softmax applied per row afterwards
//   relu, softmax, lrn, pools, adaptive_avg_pool on their own
// Activations between spatial stages are NHWC; the NCHW input is converted once at the start, and a
// spatial output back to NCHW at the end. A dense layer that reads a flattened spatial tensor gets its
// weights permuted (C,H,W -> H,W,C order of its inputs) when the model is built, so no conversion runs.
//
// Everything is allocated by the constructor: packed weights, two ping-pong activation buffers and a
// scratch buffer for max_batch images, and a persistent pool of std::threads (detail/thread_pool.hpp;
// no OpenMP). run() allocates nothing.
//
// That is the program for chains (fusion::fused_kernels_cover<Net>). Networks with blocks, batch norm,
// relu6 or depthwise convolutions get the fused op list of exec/simd/graph.hpp (the second program below).
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <ratio>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <boost/hana/basic_tuple.hpp>
#include <boost/hana/for_each.hpp>
#include <xsimd/xsimd.hpp>

#include "../../core/model.hpp"
#include "../../core/network.hpp"
#include "../../core/params.hpp"
#include "../../detail/thread_pool.hpp"
#include "../../fusion/plan.hpp"
#include "../../kernels/simd/activation.hpp"
#include "../../kernels/simd/conv2d.hpp"
#include "../../kernels/simd/dense.hpp"
#include "../../kernels/simd/norm.hpp"
#include "../../kernels/simd/pool.hpp"
#include "../../kernels/simd/winograd.hpp"
#include "../../layers.hpp"
#include "../../precision.hpp"
#include "../reference.hpp"
#include "graph.hpp"

namespace typenet::exec {

namespace simd_arch {

/// The best instruction set of the running CPU, in xsimd's words ("avx512bw", "fma3+avx2", "sse2", ...).
inline const char* cpu_name() noexcept {
  const unsigned best = xsimd::available_architectures().best;
  const char* name = "none known to xsimd";
  xsimd::all_architectures::for_each([&](auto arch) {
    if (decltype(arch)::version() == best) name = decltype(arch)::name();
  });
  return name;
}

/// How code compiled for an instruction set (xsimd version `compiled`) fits a CPU whose best is `cpu`.
enum class fit {
  ok,           ///< the CPU runs it, and has nothing much faster
  cpu_lacks,    ///< the CPU cannot run it (it would stop on an illegal instruction)
  much_slower,  ///< below AVX2 + FMA on a CPU that has them: 2-3x slower than it could be
};
constexpr fit fit_of(unsigned compiled, unsigned cpu) noexcept {
  constexpr unsigned avx2_fma = xsimd::fma3<xsimd::avx2>::version();
  if (cpu < compiled) return fit::cpu_lacks;
  if (compiled < avx2_fma && cpu >= avx2_fma) return fit::much_slower;
  return fit::ok;
}

/// Checked when an exec::simd program is built: code for an instruction set the CPU lacks is an error
/// (std::runtime_error) instead of an illegal instruction later; code far below what the CPU offers is
/// said once per process on stderr (unless TYPENET_NO_ARCH_NOTICE is defined).
template <class Arch>
void check_cpu() {
  switch (fit_of(Arch::version(), xsimd::available_architectures().best)) {
    case fit::cpu_lacks:
      throw std::runtime_error(std::string("typenet: exec::simd: this program was compiled for ") + Arch::name() +
                               ", which this CPU does not offer (its best: " + cpu_name() +
                               "); build it for this CPU (e.g. -march=native there, CMake: typenet::native)");
    case fit::much_slower: {
#ifndef TYPENET_NO_ARCH_NOTICE
      static std::once_flag once;  // one per Arch; in practice a program is built for one
      std::call_once(once, [] {
        std::fprintf(stderr,
                     "typenet: exec::simd runs %s code, but this CPU offers %s: about 2-3x faster. Compile with "
                     "-march=native (CMake: link typenet::native) or define TYPENET_NO_ARCH_NOTICE to silence this.\n",
                     Arch::name(), cpu_name());
      });
#endif
      break;
    }
    case fit::ok:
      break;
  }
}

}  // namespace simd_arch

/// Precision: precision::f32 (this program), precision::bf16 (exec/simd/bf16.hpp) or precision::int8
/// (exec/simd/int8.hpp).
template <class Arch = xsimd::default_arch, class Precision = precision::f32>
struct simd {
  static_assert(detail::report<std::conditional_t<std::is_same_v<Precision, precision::f32>, void,
                                                  diag::precision_not_implemented<Precision>>>::value);
  /// Threads that run a forward pass (the caller included); at least 1.
  int threads = 1;
  template <class Net>
  class program;
  /// For describe<Net, simd<Arch>>(): the instruction set compiled for, and the running CPU's best.
  static std::string description() {
    return std::string("exec::simd, xsimd architecture ") + Arch::name() + " (this CPU offers " +
           simd_arch::cpu_name() + ")";
  }
};

namespace simd_detail {

namespace ks = ::typenet::kernels::simd;
using ::typenet::type_list;
using ::typenet::detail::split;
using ::typenet::detail::thread_pool;

/// How a tensor between stages is stored: a plain row-major vector per image, or NHWC.
struct plain_layout {};
template <int C, int H, int W>
struct nhwc_layout {
  static constexpr int c = C, h = H, w = W;
};

template <class S>
struct layout_of_shape {
  using type = plain_layout;
};
template <int C, int H, int W>
struct layout_of_shape<shape<C, H, W>> {
  using type = nhwc_layout<C, H, W>;
};

/// How the reduced-precision programs (bf16, int8) store one image of a tensor with layout L and Size
/// floats: the channels of a pixel (or a flat vector's elements) rounded up to a multiple of Q (2 for
/// bf16 pairs, 4 for int8 quads), the extra ones padding.
constexpr int round_up(int n, int q) { return (n + q - 1) / q * q; }
template <class L, std::int64_t Size, int Q>
struct stored_tensor {
  static constexpr std::int64_t elems = round_up(int(Size), Q);
  static constexpr std::int64_t pixels = 1;
  static constexpr int channels = int(Size);
};
template <int C, int H, int W, std::int64_t Size, int Q>
struct stored_tensor<nhwc_layout<C, H, W>, Size, Q> {
  static constexpr std::int64_t pixels = std::int64_t{H} * W;
  static constexpr std::int64_t elems = round_up(C, Q) * pixels;
  static constexpr int channels = C;
};

/// Dense weights [Out][N] in PyTorch's input order -> [Out][stored elements] in the stored order (channels
/// rounded up to a multiple of Q) of the producer's layout (channels last, the padding columns zero).
template <class InLayout, int N, int Q>
struct dense_stored_order {
  static constexpr int elems = int(stored_tensor<InLayout, N, Q>::elems);
  static void permute(const float* w, float* dst, int out) {
    for (int o = 0; o < out; ++o) {
      float* d = dst + std::size_t(o) * elems;
      std::fill(d, d + elems, 0.f);
      if constexpr (std::is_same_v<InLayout, plain_layout>) {
        std::copy(w + std::size_t(o) * N, w + std::size_t(o + 1) * N, d);
      } else {
        constexpr int C = InLayout::c, P = InLayout::h * InLayout::w, Cs = round_up(C, Q);
        for (int c = 0; c < C; ++c)
          for (int p = 0; p < P; ++p) d[std::size_t(p) * Cs + c] = w[std::size_t(o) * N + std::size_t(c) * P + p];
      }
    }
  }
};

/// thread_pool::run for a temporary function object.
template <class F>
void on_threads(thread_pool& pool, F&& f) {
  pool.run(f);
}

/// The executors of a reduced-precision program (bf16, int8) for a stage list, each with the layout it
/// reads: Select<Stage, InLayout, Arch, Last> is a stage's executor.
template <template <class, class, class, bool> class Select, class Layout, class Stages, class Arch>
struct reduced_build;
template <template <class, class, class, bool> class Select, class Layout, class Arch>
struct reduced_build<Select, Layout, type_list<>, Arch> {
  using execs = type_list<>;
  using final_layout = Layout;
};
template <template <class, class, class, bool> class Select, class Layout, class S, class... Rest, class Arch>
struct reduced_build<Select, Layout, type_list<S, Rest...>, Arch> {
  using exec = Select<S, Layout, Arch, sizeof...(Rest) == 0>;
  using next = reduced_build<Select, typename exec::out_layout, type_list<Rest...>, Arch>;
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

/// The tuple of a reduced-precision program's executors and the buffers they need: the largest of each
/// (scratch per image, zero row, island scratch, workspace per thread, the dense panel in 32-bit words).
template <class List>
struct reduced_tuple;
template <class... E>
struct reduced_tuple<type_list<E...>> {
  using type = boost::hana::basic_tuple<E...>;
  static constexpr std::int64_t scratch_a = std::max({std::int64_t{0}, E::scratch_a_floats...});
  static constexpr std::int64_t scratch_b = std::max({std::int64_t{0}, E::scratch_b_floats...});
  static constexpr std::size_t zeros = std::max({std::size_t{0}, E::zero_elems...});
  static constexpr std::int64_t f32_scratch = std::max({std::int64_t{0}, f32_scratch_of<E>()...});
  static constexpr std::size_t f32_zeros = std::max({std::size_t{0}, f32_zeros_of<E>()...});
  static constexpr std::size_t workspace = std::max({std::size_t{0}, workspace_of<E>()...});
  static std::size_t panel(int max_batch) { return std::max({std::size_t{0}, E::panel_words(max_batch)...}); }
};

/// The first bound layer in Bs... of kind K (layers' own classification, layers/layer.hpp), or void.
template <layer_kind K, class... Bs>
struct find_bound {
  using type = void;
};
template <layer_kind K, class B, class... Bs>
struct find_bound<K, B, Bs...>
    : std::conditional_t<layer_kind_of<typename B::layer> == K, std::type_identity<B>, find_bound<K, Bs...>> {};

inline detail::aligned_floats copy_aligned(std::size_t n) { return detail::make_aligned_floats(std::int64_t(n)); }

// ---- stage executors -------------------------------------------------------------------------------
// Each has: using out_layout; static constexpr scratch_floats (per image); zero_floats;
// workspace_floats (per thread); a constructor from the canonical parameter buffer;
// run(in, out, scratch, zeros, workspace, batch, pool).

template <class Stage, class InLayout, class Arch>
struct stage_exec;

template <class LrnB, class Geo, class Arch>
struct lrn_of {
  using type = ks::lrn_kernel<Geo::f, Geo::oh, Geo::ow, LrnB::layer::size, Arch>;
};
template <class PoolB, class Arch>
struct pool_of {
  using P = typename PoolB::layer;
  using type = ks::pool_kernel<ks::pool_geometry_of<PoolB>,
                               P::kind == pool_kind::max ? ks::pool_op::max : ks::pool_op::average, Arch>;
};

template <class Geo, class Arch>
struct lrn_of<void, Geo, Arch> {
  using type = void;
};
template <bool Use, class Geo, class Arch>
struct winograd_of {
  using type = void;
  static constexpr std::size_t packed = 0, workspace = 0;
};
template <class Geo, class Arch>
struct winograd_of<true, Geo, Arch> {
  using type = ks::winograd_3x3<Geo::c, Geo::h, Geo::w, Geo::f, Arch, ks::winograd_tile<Geo>>;
  static constexpr std::size_t packed = type::packed_floats, workspace = type::workspace_floats_per_part;
};
template <class Arch>
struct pool_of<void, Arch> {
  using type = void;
};

template <class Stage, class InLayout, class Arch, class Bs = typename Stage::layers>
struct conv_stage;
template <class Stage, class InLayout, class Arch, class... Bs>
struct conv_stage<Stage, InLayout, Arch, type_list<Bs...>> {
  using conv_b = typename Stage::first;
  using lrn_b = typename find_bound<layer_kind::lrn, Bs...>::type;
  using pool_b = typename find_bound<layer_kind::pool, Bs...>::type;
  static constexpr bool relu_ = !std::is_void_v<typename find_bound<layer_kind::relu, Bs...>::type>;
  using geo = ks::conv_geometry_of<conv_b>;
  using kernel = ks::conv_kernel<geo, Arch>;
  using out_shape = typename Stage::output;
  using out_layout = typename layout_of_shape<out_shape>::type;
  static constexpr std::int64_t conv_floats = conv_b::output::size;
  static constexpr std::int64_t scratch_floats = std::is_void_v<pool_b> ? 0 : conv_floats;
  static constexpr std::size_t zero_floats = kernel::zero_floats;

  /// Winograd F(4x4, 3x3) or F(2x2, 3x3) where it pays (kernels/simd/winograd.hpp, winograd_suits,
  /// winograd_tile).
  static constexpr bool winograd = ks::winograd_suits<geo>;
  using wino = typename winograd_of<winograd, geo, Arch>::type;
  static constexpr std::size_t workspace_floats = winograd_of<winograd, geo, Arch>::workspace;
  using epilogue = std::conditional_t<relu_, ks::epilogue_relu, ks::epilogue_none>;

  detail::aligned_floats packed, packed_bias;

  explicit conv_stage(const float* params)
      : packed(copy_aligned(winograd ? winograd_of<winograd, geo, Arch>::packed : kernel::packed_floats)),
        packed_bias(copy_aligned(kernel::packed_bias_floats)) {
    if constexpr (winograd) {
      wino::pack(params + conv_b::weight_offset, packed.get());
      std::memcpy(packed_bias.get(), params + conv_b::bias_offset, sizeof(float) * geo::f);
    } else {
      kernel::pack(params + conv_b::weight_offset, params + conv_b::bias_offset, packed.get(), packed_bias.get());
    }
  }

  using lrn_kernel = typename lrn_of<lrn_b, geo, Arch>::type;  // void when the stage has no lrn
  using pool_kernel = typename pool_of<pool_b, Arch>::type;    // void when the stage has no pool
  static constexpr std::int64_t in_floats = conv_b::input::size, out_floats = out_shape::size;

  // conv items [b0, b1) of the batch, then (after a barrier when the items span images) lrn and pool.
  void run(const float* in, float* out, float* scratch, const float* zeros, float* workspace, int batch,
           thread_pool& pool) const {
    float* conv_out = std::is_void_v<pool_b> ? out : scratch;
    const int threads = pool.size();
    if (batch % threads == 0 || batch >= 4 * threads) {
      // Whole images per thread, claimed one at a time from a shared counter (a thread on a busier core
      // takes fewer): each image's conv output is pooled while it is still in cache, and the threads
      // never wait for each other inside the stage. With a pool, each thread reuses one slot of the
      // scratch for all its images, so the conv outputs do not stream through memory.
      std::atomic<std::int64_t> next{0};
      auto per_image = [&](int t, int) {
        for (std::int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < batch;
             i = next.fetch_add(1, std::memory_order_relaxed)) {
          float* c = std::is_void_v<pool_b> ? out + i * conv_floats : scratch + std::int64_t{t} * conv_floats;
          image(in + i * in_floats, c, out + i * out_floats, zeros, workspace + std::size_t(t) * workspace_floats);
        }
      };
      pool.run(per_image);
      return;
    }
    // Split one batch's items over the threads (batch 1 with 2 threads): conv, barrier, lrn, barrier, pool.
    // Items are claimed in chunks (8 per thread on average) in block-major order, so a thread's chunks
    // mostly share weight blocks, and a slower core takes fewer chunks. Winograd: one range of tiles per
    // thread (each range streams all the transformed weights once per block of tiles).
    const std::int64_t items = kernel::items(batch);
    const std::int64_t chunk = std::max<std::int64_t>(1, items / (8 * threads));
    std::atomic<std::int64_t> next{0};
    auto conv = [&]([[maybe_unused]] int t, [[maybe_unused]] int n) {
      if constexpr (winograd) {
        const auto r = split(wino::tiles(batch), t, n);
        wino::template run_tiles<epilogue>(packed.get(), packed_bias.get(), in, conv_out,
                                           workspace + std::size_t(t) * workspace_floats, r.begin, r.end);
      } else {
        for (std::int64_t b = next.fetch_add(chunk, std::memory_order_relaxed); b < items;
             b = next.fetch_add(chunk, std::memory_order_relaxed))
          kernel::template run<epilogue>(packed.get(), packed_bias.get(), in, conv_out, zeros, batch, b,
                                         std::min(items, b + chunk));
      }
    };
    pool.run(conv);
    if constexpr (!std::is_void_v<lrn_b>) {
      auto norm = [&](int t, int n) {
        const auto r = split(lrn_kernel::items(batch), t, n);
        run_lrn(conv_out, r.begin, r.end);
      };
      pool.run(norm);
    }
    if constexpr (!std::is_void_v<pool_b>) {
      auto pooling = [&](int t, int n) {
        const auto r = split(pool_kernel::items(batch), t, n);
        pool_kernel::run(conv_out, out, r.begin, r.end);
      };
      pool.run(pooling);
    }
  }

 private:
  void image(const float* in, float* conv_out, float* out, const float* zeros, float* workspace) const {
    if constexpr (winograd)
      wino::template run_tiles<epilogue>(packed.get(), packed_bias.get(), in, conv_out, workspace, 0, wino::tiles(1));
    else
      kernel::template run<epilogue>(packed.get(), packed_bias.get(), in, conv_out, zeros, 1, 0, kernel::items(1));
    if constexpr (!std::is_void_v<lrn_b>) run_lrn(conv_out, 0, lrn_kernel::items(1));
    if constexpr (!std::is_void_v<pool_b>) pool_kernel::run(conv_out, out, 0, pool_kernel::items(1));
  }
  static void run_lrn(float* data, std::int64_t begin, std::int64_t end) {
    if constexpr (!std::is_void_v<lrn_b>) {
      using L = typename lrn_b::layer;
      lrn_kernel::run(data, data, begin, end, L::alpha, L::beta, L::k);
    }
  }
};

/// Dense weights [Out][C*H*W] in PyTorch's (C, H, W) input order, permuted to the (H, W, C) order of an
/// NHWC producer.
template <class InLayout>
struct dense_input_order {
  static void permute(const float* w, float* dst, int out, std::int64_t in) {
    std::memcpy(dst, w, sizeof(float) * std::size_t(out) * std::size_t(in));
  }
};
template <int C, int H, int W>
struct dense_input_order<nhwc_layout<C, H, W>> {
  static void permute(const float* w, float* dst, int out, std::int64_t) {
    constexpr std::size_t in = std::size_t(C) * H * W;
    for (int o = 0; o < out; ++o)
      for (int c = 0; c < C; ++c)
        for (int p = 0; p < H * W; ++p)
          dst[std::size_t(o) * in + std::size_t(p) * C + c] = w[std::size_t(o) * in + std::size_t(c) * H * W + p];
  }
};

template <class Stage, class InLayout, class Arch, class Bs = typename Stage::layers>
struct dense_stage;
template <class Stage, class InLayout, class Arch, class... Bs>
struct dense_stage<Stage, InLayout, Arch, type_list<Bs...>> {
  using dense_b = typename Stage::first;
  static constexpr int in_size = static_cast<int>(dense_b::input::size);
  static constexpr int out_size = static_cast<int>(dense_b::output::size);
  static constexpr bool relu_ = !std::is_void_v<typename find_bound<layer_kind::relu, Bs...>::type>;
  static constexpr bool softmax_ = !std::is_void_v<typename find_bound<layer_kind::softmax, Bs...>::type>;
  using kernel = ks::dense_kernel<in_size, out_size, Arch>;
  using epilogue = std::conditional_t<relu_, ks::epilogue_relu, ks::epilogue_none>;
  using out_layout = plain_layout;
  static constexpr std::int64_t scratch_floats = 0;
  static constexpr std::size_t zero_floats = 0;
  static constexpr std::size_t workspace_floats = 0;

  detail::aligned_floats packed, bias;

  explicit dense_stage(const float* params)
      : packed(copy_aligned(kernel::packed_floats)), bias(copy_aligned(std::size_t(out_size))) {
    std::vector<float> w(std::size_t(in_size) * out_size);
    dense_input_order<InLayout>::permute(params + dense_b::weight_offset, w.data(), out_size, in_size);
    kernel::pack(w.data(), packed.get());
    std::memcpy(bias.get(), params + dense_b::bias_offset, sizeof(float) * out_size);
  }

  void run(const float* in, float* out, float*, const float*, float*, int batch, thread_pool& pool) const {
    // With several threads the outputs are cut into 4 parts per thread, claimed from a shared counter.
    const int parts = pool.size() == 1 ? 1 : 4 * pool.size();
    std::atomic<int> next{0};
    auto dense = [&](int, int) {
      for (int part = next.fetch_add(1, std::memory_order_relaxed); part < parts;
           part = next.fetch_add(1, std::memory_order_relaxed))
        kernel::template run<epilogue>(packed.get(), bias.get(), in, out, batch, part, parts);
    };
    pool.run(dense);
    if constexpr (softmax_) {
      auto soft = [&](int t, int n) {
        const auto r = split(batch, t, n);
        for (std::int64_t b = r.begin; b < r.end; ++b)
          ks::softmax_row(out + b * out_size, out + b * out_size, out_size);
      };
      pool.run(soft);
    }
  }
};

/// Element-wise relu, any layout (the layout is kept).
template <class Stage, class InLayout, class Arch>
struct relu_stage {
  using out_layout = InLayout;
  static constexpr std::int64_t size = Stage::output::size;
  static constexpr std::int64_t scratch_floats = 0;
  static constexpr std::size_t zero_floats = 0;
  static constexpr std::size_t workspace_floats = 0;
  explicit relu_stage(const float*) {}
  void run(const float* in, float* out, float*, const float*, float*, int batch, thread_pool& pool) const {
    auto f = [&](int t, int n) {
      const auto r = split(size * batch, t, n);
      ks::relu_range<Arch>(in, out, r.begin, r.end);
    };
    pool.run(f);
  }
};

/// Softmax over each image's flat vector (a permutation of it keeps the layout valid).
template <class Stage, class InLayout, class Arch>
struct softmax_stage {
  using out_layout = InLayout;
  static constexpr int size = static_cast<int>(Stage::output::size);
  static constexpr std::int64_t scratch_floats = 0;
  static constexpr std::size_t zero_floats = 0;
  static constexpr std::size_t workspace_floats = 0;
  explicit softmax_stage(const float*) {}
  void run(const float* in, float* out, float*, const float*, float*, int batch, thread_pool& pool) const {
    auto f = [&](int t, int n) {
      const auto r = split(batch, t, n);
      for (std::int64_t b = r.begin; b < r.end; ++b) ks::softmax_row(in + b * size, out + b * size, size);
    };
    pool.run(f);
  }
};

/// Standalone spatial layers on NHWC: lrn, pools, adaptive average pool.
template <class Stage, class InLayout, class Arch>
struct spatial_stage {
  using B = typename Stage::first;
  using L = typename B::layer;
  static constexpr int C = B::input::dims[0], H = B::input::dims[1], W = B::input::dims[2];
  using out_layout = typename layout_of_shape<typename B::output>::type;
  static constexpr std::int64_t scratch_floats = 0;
  static constexpr std::size_t zero_floats = 0;
  static constexpr std::size_t workspace_floats = 0;
  explicit spatial_stage(const float*) {}

  template <class K, class... Extra>
  static void rows(const float* in, float* out, int batch, thread_pool& pool, Extra... extra) {
    auto f = [&](int t, int n) {
      const auto r = split(K::items(batch), t, n);
      K::run(in, out, r.begin, r.end, extra...);
    };
    pool.run(f);
  }

  void run(const float* in, float* out, float*, const float*, float*, int batch, thread_pool& pool) const {
    if constexpr (layer_kind_of<L> == layer_kind::lrn) {
      rows<ks::lrn_kernel<C, H, W, L::size, Arch>>(in, out, batch, pool, L::alpha, L::beta, L::k);
    } else if constexpr (layer_kind_of<L> == layer_kind::pool) {
      rows<ks::pool_kernel<ks::pool_geometry_of<B>, L::kind == pool_kind::max ? ks::pool_op::max : ks::pool_op::average,
                           Arch>>(in, out, batch, pool);
    } else {
      rows<ks::adaptive_avg_pool_kernel<C, H, W, L::out_h, L::out_w, Arch>>(in, out, batch, pool);
    }
  }
};

template <class Stage, class InLayout, class Arch>
struct stage_exec_select {
  static constexpr layer_kind kind = layer_kind_of<typename Stage::first::layer>;
  using type = std::conditional_t<
      kind == layer_kind::conv, conv_stage<Stage, InLayout, Arch>,
      std::conditional_t<
          kind == layer_kind::dense, dense_stage<Stage, InLayout, Arch>,
          std::conditional_t<kind == layer_kind::relu, relu_stage<Stage, InLayout, Arch>,
                             std::conditional_t<kind == layer_kind::softmax, softmax_stage<Stage, InLayout, Arch>,
                                                spatial_stage<Stage, InLayout, Arch>>>>>;
  static_assert(kind == layer_kind::conv || kind == layer_kind::dense || kind == layer_kind::relu ||
                    kind == layer_kind::softmax || kind == layer_kind::lrn || kind == layer_kind::pool ||
                    kind == layer_kind::adaptive_pool,
                "typenet: exec::simd has no kernel for this layer kind");
};

/// The executors of a stage list, with the layout each stage reads.
template <class Layout, class Stages, class Arch>
struct build;
template <class Layout, class Arch>
struct build<Layout, type_list<>, Arch> {
  using execs = type_list<>;
  using final_layout = Layout;
};
template <class Layout, class S, class... Rest, class Arch>
struct build<Layout, type_list<S, Rest...>, Arch> {
  using exec = typename stage_exec_select<S, Layout, Arch>::type;
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

template <class List>
struct as_tuple;
template <class... E>
struct as_tuple<type_list<E...>> {
  using type = boost::hana::basic_tuple<E...>;
  static constexpr std::int64_t scratch = std::max({std::int64_t{0}, E::scratch_floats...});
  static constexpr std::size_t zeros = std::max({std::size_t{0}, E::zero_floats...});
  static constexpr std::size_t workspace = std::max({std::size_t{0}, E::workspace_floats...});
};

template <class Stages>
struct largest_output;
template <class... S>
struct largest_output<type_list<S...>> {
  static constexpr std::int64_t value = std::max({std::int64_t{0}, S::output::size...});
};

/// The arguments every exec::simd program checks: max_batch and threads when built (and the CPU against
/// Arch), batch when run.
template <class Arch>
int checked(int max_batch, int threads) {
  simd_arch::check_cpu<Arch>();
  if (max_batch < 1)
    throw std::invalid_argument("typenet: exec::simd: max_batch must be at least 1, got " + std::to_string(max_batch));
  if (threads < 1)
    throw std::invalid_argument("typenet: exec::simd: threads must be at least 1, got " + std::to_string(threads));
  return max_batch;
}

}  // namespace simd_detail

namespace simd_detail {
/// The program of a policy that cannot run Net here: instantiating it reports Diag (a rule of
/// diag/rules.hpp); it has the members model<> uses, so that no second error follows.
template <class Net, class Policy, class Diag>
struct reported_program {
  static_assert(detail::report<Diag>::value);
  static constexpr bool reference_fallback = false;
  static std::vector<std::string> fallback_layers() { return {}; }
  reported_program(const params<Net>&, int, const Policy&) {}
  int threads() const noexcept { return 1; }
  void run(const float*, float*, int) {}
};

/// The output size (floats per image) of each stage of a list.
template <class Stages>
struct stage_floats;
template <class... S>
struct stage_floats<type_list<S...>> {
  static constexpr std::array<std::int64_t, sizeof...(S)> value{S::output::size...};
};
}  // namespace simd_detail

/// Whether exec::simd runs Net as a chain of fused stages (the program below); every other network runs the
/// fused op list of exec/simd/graph.hpp.
template <class Net>
inline constexpr bool simd_native = fusion::fused_kernels_cover<Net>;

template <class Arch, class Precision>
template <class Net>
class simd<Arch, Precision>::program {
  using stages = fusion::stages_t<Net>;
  using in_layout = typename simd_detail::layout_of_shape<typename Net::input_shape>::type;
  using built = simd_detail::build<in_layout, stages, Arch>;
  using execs_list = typename built::execs;
  using tuple_info = simd_detail::as_tuple<execs_list>;
  using execs_tuple = typename tuple_info::type;
  static constexpr std::int64_t in_size = Net::input_shape::size;
  static constexpr std::int64_t out_size = Net::output_shape::size;
  static constexpr std::int64_t buffer_floats = std::max(in_size, simd_detail::largest_output<stages>::value);

 public:
  static constexpr bool reference_fallback = false;
  static std::vector<std::string> fallback_layers() { return {}; }

  program(const params<Net>& p, int max_batch, const simd& policy)
      : max_batch_(check(max_batch, policy)),
        execs_(make_execs(p.data(), static_cast<execs_list*>(nullptr))),
        a_(detail::make_aligned_floats(buffer_floats * max_batch_)),
        b_(detail::make_aligned_floats(buffer_floats * max_batch_)),
        scratch_(detail::make_aligned_floats(tuple_info::scratch * max_batch_)),
        zeros_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::zeros) + 64)),
        workspace_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::workspace) * policy.threads)),
        pool_(policy.threads) {}

  int threads() const noexcept { return pool_.size(); }

  void run(const float* in, float* out, int batch) {
    run_observed(in, out, batch, [](std::size_t, const float*, std::int64_t) {});
  }

  /// run(), calling observe(stage, values, count) after each fused stage with its fp32 output (count =
  /// batch x the stage's output size, in the stage's layout): how exec::calibrate sees every tensor the
  /// int8 program quantises.
  template <class Observe>
  void run_observed(const float* in, float* out, int batch, Observe&& observe) {
    simd_detail::check_batch(batch, max_batch_);
    float* cur = a_.get();
    float* next = b_.get();
    // Input edge: NCHW -> NHWC (or a plain copy).
    auto load = [&](int t, int n) {
      const auto r = detail::split(batch, t, n);
      if constexpr (std::is_same_v<in_layout, simd_detail::plain_layout>) {
        std::memcpy(cur + r.begin * in_size, in + r.begin * in_size, sizeof(float) * (r.end - r.begin) * in_size);
      } else {
        using S = typename Net::input_shape;
        kernels::simd::nchw_to_nhwc<S::dims[0], S::dims[1], S::dims[2]>(in, cur, r.begin, r.end);
      }
    };
    pool_.run(load);
    std::size_t stage = 0;
    boost::hana::for_each(execs_, [&](auto& e) {
      e.run(cur, next, scratch_.get(), zeros_.get(), workspace_.get(), batch, pool_);
      observe(stage, static_cast<const float*>(next), batch * simd_detail::stage_floats<stages>::value[stage]);
      ++stage;
      std::swap(cur, next);
    });
    // Output edge.
    using final_layout = typename built::final_layout;
    if constexpr (std::is_same_v<final_layout, simd_detail::plain_layout>) {
      std::memcpy(out, cur, sizeof(float) * std::size_t(batch * out_size));
    } else {
      using S = final_layout;
      auto store = [&](int t, int n) {
        const auto r = detail::split(batch, t, n);
        kernels::simd::nhwc_to_nchw<S::c, S::h, S::w>(cur, out, r.begin, r.end);
      };
      pool_.run(store);
    }
  }

 private:
  static int check(int max_batch, const simd& policy) { return simd_detail::checked<Arch>(max_batch, policy.threads); }
  template <class... E>
  static execs_tuple make_execs(const float* p, simd_detail::type_list<E...>*) {
    return boost::hana::make_basic_tuple(E(p)...);
  }

  int max_batch_;
  execs_tuple execs_;
  detail::aligned_floats a_, b_, scratch_, zeros_, workspace_;
  detail::thread_pool pool_;
};

/// A network with blocks or the layers of the torchvision zoo: the fused op list of exec/simd/graph.hpp.
/// run() and time_ops() (the stages of simd_graph::staging, in chunks) come from simd_graph::chunked_program.
template <class Arch, class Precision>
template <class Net>
requires(!simd_native<Net>) class simd<Arch, Precision>::program<Net>
    : public simd_graph::chunked_program<program<Net>, simd_graph::lowered<Net>,
                                         simd_graph::banded_execs<simd_graph::lowered<Net>, Arch>::template at> {
  using low = simd_graph::lowered<Net>;
  template <std::size_t I>
  using exec_at = typename simd_graph::banded_exec_for<low, I, Arch>::type;
  using base = simd_graph::chunked_program<program<Net>, low, simd_graph::banded_execs<low, Arch>::template at>;
  friend base;
  template <std::size_t... I>
  static auto exec_types(std::index_sequence<I...>) -> boost::hana::basic_tuple<exec_at<I>...>;
  using execs_tuple = decltype(exec_types(std::make_index_sequence<low::op_count>{}));
  template <class T>
  struct info;
  template <class... E>
  struct info<boost::hana::basic_tuple<E...>> {
    static constexpr std::size_t zeros = std::max({std::size_t{0}, E::zero_floats...});
    static constexpr std::size_t workspace = std::max({std::size_t{0}, E::workspace_floats...});
    static constexpr bool fallback = (false || ... || E::fallback);
  };
  using tuple_info = info<execs_tuple>;
  static constexpr std::int64_t scratch_floats =
      tuple_info::fallback ? *std::max_element(low::plan::size.begin(), low::plan::size.end()) : 0;
  static constexpr value_dims in_dims = low::plan::dims[0];
  static constexpr std::int64_t in_size = Net::input_shape::size;

 public:
  /// Whether some layer runs exec::reference's kernel (fallback_layers() names them).
  static constexpr bool reference_fallback = tuple_info::fallback;

  program(const params<Net>& p, int max_batch, const simd& policy)
      : base(simd_detail::checked<Arch>(max_batch, policy.threads)),
        execs_(make_execs(p.data(), std::make_index_sequence<low::op_count>{})),
        arena_(detail::make_aligned_floats(this->arena_floats())),
        zeros_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::zeros) + 64)),
        workspace_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::workspace) * policy.threads)),
        scratch_(detail::make_aligned_floats(2 * scratch_floats * this->fallback_images())),
        pool_(policy.threads),
        at_(low::plan::size.size()) {}

  int threads() const noexcept { return pool_.size(); }

  /// The keys of the layers that run exec::reference's kernel (converted to NCHW and back).
  static std::vector<std::string> fallback_layers() { return simd_graph::fallback_layers<low, exec_at>(); }

  /// run(), calling observe(v, values, count) after each fused op with the value v it wrote (NHWC, or flat)
  /// and its `count` floats for the images the op ran on (a chunk's) (exec::calibrate).
  template <class Observe>
  void run_observed(const float* in, float* out, int batch, Observe&& observe) {
    simd_detail::check_batch(batch, this->max_batch_);
    this->run_pass(
        in, out, batch, [] {},
        [&](std::size_t op) {
          const std::size_t v = static_cast<std::size_t>(low::ops[op].output);
          observe(v, arena_.get() + at_[v], low::plan::size[v] * images_);
        });
  }

 private:
  /// Stage s over images [first, first + images): stage 0 loads them from in, the last stage stores its
  /// output to out.
  template <class AfterOp>
  void run_stage(int s, const float* in, float* out, int first, int images, AfterOp&& after_op) {
    this->value_offsets(s, first, 1, low::plan::size.data(), at_.data());
    images_ = images;
    const simd_graph::frame fr{
        arena_.get(), at_.data(),       images,         &pool_,
        zeros_.get(), workspace_.get(), scratch_.get(), scratch_floats * this->fallback_images()};
    if (s == 0) {
      in += std::int64_t{first} * in_size;
      float* x = fr.at(0);
      simd_graph::split_run(pool_, images, [&](std::int64_t b, std::int64_t e) {
        if constexpr (in_dims.c > 0)
          kernels::simd::nchw_to_nhwc<in_dims.c, in_dims.h, in_dims.w>(in, x, b, e);
        else
          std::memcpy(x + b * in_size, in + b * in_size, sizeof(float) * std::size_t(e - b) * in_size);
      });
    }
    simd_graph::run_ops(execs_, fr, this->stage_begin(s), this->stage_begin(s + 1), after_op);
    if (this->last_stage(s))
      simd_graph::store_output<low>(pool_, fr.at(low::output), out + std::int64_t{first} * Net::output_shape::size,
                                    images);
  }

  template <std::size_t... I>
  execs_tuple make_execs(const float* p, std::index_sequence<I...>) const {
    return boost::hana::make_basic_tuple(make_exec<I>(p)...);
  }
  /// An op's executor; one that packs its weights by the images per run (conv_exec) is told its stage's chunk.
  template <std::size_t I>
  exec_at<I> make_exec(const float* p) const {
    if constexpr (std::is_constructible_v<exec_at<I>, const float*, int>)
      return exec_at<I>(p, this->op_images(I));
    else
      return exec_at<I>(p);
  }
  execs_tuple execs_;
  detail::aligned_floats arena_, zeros_, workspace_, scratch_;
  detail::thread_pool pool_;
  std::vector<std::int64_t> at_;  ///< where the running stage's values are (value_offsets)
  int images_ = 0;                ///< images of the running stage's chunk
};

}  // namespace typenet::exec

#include "reduced.hpp"  // and, at its end, the bf16 and int8 programs that build on it
