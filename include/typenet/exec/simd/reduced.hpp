// typenet/exec/simd/reduced.hpp: what the reduced-precision chain programs of exec::simd (bf16:
// exec/simd/bf16.hpp, int8: exec/simd/int8.hpp) share: the program (buffers, the input and output edges, the
// stage loop), the control flow of a conv stage and of a dense stage, and the fp32 island stage. A precision
// plugs in as a Format and its own kernels:
//
//   struct Format {
//     using T = ...;                   // a stored value (bf16_t, std::uint8_t)
//     static constexpr int Q = ...;    // channels (or flat elements) are stored rounded up to a multiple of Q
//     struct tensor {                  // one stored tensor's conversion (bf16: nothing; int8: scale, zero)
//       template <class L, std::int64_t Size> void to_f32(const T*, float*, std::int64_t b, std::int64_t e) const;
//       template <class L, std::int64_t Size> void from_f32(const float*, T*, std::int64_t b, std::int64_t e) const;
//       template <int C> void pixels_from_f32(const float*, T*, std::int64_t pixels) const;
//       template <int C, int H, int W> void from_nchw(const float*, T*, std::int64_t b, std::int64_t e) const;
//     };
//   };
//
// (to_f32 / from_f32: images [b, e) of a tensor of Size floats per image in layout L; from_nchw: the
// network's NCHW input.) Included by those two headers; use them through exec/simd.hpp.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "policy.hpp"  // exec::simd and its fp32 stages (which include this file at their end)

namespace typenet::exec::simd_reduced {

namespace ks = ::typenet::kernels::simd;
using simd_detail::find_bound;
using simd_detail::layout_of_shape;
using simd_detail::on_threads;
using simd_detail::plain_layout;
using ::typenet::type_list;
using ::typenet::detail::split;
using ::typenet::detail::thread_pool;

/// Stored values of one image of a tensor with layout L and Size floats, in Format F.
template <class F, class L, std::int64_t Size>
using stored = simd_detail::stored_tensor<L, Size, F::Q>;

/// The conversions of a stage's input and output tensors.
template <class F>
struct stage_io {
  typename F::tensor in, out;
};

/// What a stage needs besides its input and output.
template <class T>
struct frame {
  float* scratch_a;
  float* scratch_b;
  const T* zeros;
  std::uint32_t* panel;
  float* f32_scratch;      // for the fp32 executors of island stages
  const float* f32_zeros;  // idem
  float* workspace;        // per thread
  int batch;
  thread_pool* pool;
};

// ---- stage executors -------------------------------------------------------------------------------
// Each has: out_layout; scratch_a_floats, scratch_b_floats (per image); zero_elems; panel_words(max_batch);
// a constructor from the canonical parameter buffer and its stage_io; run(const T* in, void* out,
// const frame<T>&), where out holds stored values, or floats when Last.

/// A conv stage (conv2d [+ relu] [+ LRN] [+ pool]): its types, and the control flow. With whole images per
/// thread when the batch allows, an image's fp32 intermediates stay in one slot of the scratch (in cache);
/// otherwise the batch's conv work is split over the threads, then (barriers between) LRN, pool and storing
/// the result. Derived provides conv_image(x, y, frame, thread) (one image's convolution),
/// conv_batch(in, out, frame) (the whole batch's, over the pool's threads) and the member io (stage_io<F>).
template <class Derived, class F, class Stage, class InLayout, class Arch, bool Last, class Bs = typename Stage::layers>
struct conv_stage_base;
template <class Derived, class F, class Stage, class InLayout, class Arch, bool Last, class... Bs>
struct conv_stage_base<Derived, F, Stage, InLayout, Arch, Last, type_list<Bs...>> {
  using T = typename F::T;
  using conv_b = typename Stage::first;
  using lrn_b = typename find_bound<layer_kind::lrn, Bs...>::type;
  using pool_b = typename find_bound<layer_kind::pool, Bs...>::type;
  static constexpr bool relu_ = !std::is_void_v<typename find_bound<layer_kind::relu, Bs...>::type>;
  static constexpr bool has_lrn = !std::is_void_v<lrn_b>, has_pool = !std::is_void_v<pool_b>;
  static constexpr bool post = has_lrn || has_pool;  // fp32 work on the conv output inside the stage
  using geo = ks::conv_geometry_of<conv_b>;
  using out_t = std::conditional_t<Last, float, T>;
  using conv_out_t = std::conditional_t<post, float, out_t>;
  using out_shape = typename Stage::output;
  using out_layout = typename layout_of_shape<out_shape>::type;
  using epilogue = std::conditional_t<relu_, ks::epilogue_relu, ks::epilogue_none>;
  using lrn_kernel = typename simd_detail::lrn_of<lrn_b, geo, Arch>::type;
  using pool_kernel = typename simd_detail::pool_of<pool_b, Arch>::type;
  static constexpr std::int64_t conv_floats = conv_b::output::size;
  static constexpr std::int64_t out_floats = out_shape::size;
  using out_stored = stored<F, out_layout, out_floats>;
  static constexpr std::int64_t in_elems = stored<F, InLayout, conv_b::input::size>::elems;
  static constexpr std::int64_t out_elems = Last ? out_floats : out_stored::elems;  // per image, of out_t
  static constexpr std::int64_t scratch_a_floats = post ? conv_floats : 0;
  static constexpr std::int64_t scratch_b_floats = has_pool && !Last ? out_floats : 0;
  static constexpr std::size_t panel_words(int) { return 0; }

  void run(const T* in, void* out_v, const frame<T>& f) const {
    out_t* out = static_cast<out_t*>(out_v);
    const int batch = f.batch, threads = f.pool->size();
    if (batch % threads == 0 || batch >= 4 * threads) {
      std::atomic<std::int64_t> next{0};
      on_threads(*f.pool, [&](int t, int) {
        for (std::int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < batch;
             i = next.fetch_add(1, std::memory_order_relaxed)) {
          const T* x = in + i * in_elems;
          out_t* y = out + i * out_elems;
          if constexpr (post) {
            float* a = f.scratch_a + std::int64_t{t} * scratch_a_floats;
            float* b = f.scratch_b + std::int64_t{t} * scratch_b_floats;
            self().conv_image(x, a, f, t);
            if constexpr (has_lrn) run_lrn(a, 0, lrn_kernel::items(1));
            finish(a, has_pool ? b : a, y);
          } else {
            self().conv_image(x, y, f, t);
          }
        }
      });
      return;
    }
    conv_out_t* conv_out;
    if constexpr (post)
      conv_out = f.scratch_a;
    else
      conv_out = out;
    self().conv_batch(in, conv_out, f);
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
          // Storing (or copying) by pixel ranges: with batch 1 both threads share the image.
          const auto r = split(std::int64_t{batch} * out_stored::pixels, t, n);
          store_pixels(pooled, out, r.begin, r.end);
        });
    }
  }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
  static void run_lrn(float* data, std::int64_t begin, std::int64_t end) {
    if constexpr (has_lrn) {
      using L = typename lrn_b::layer;
      lrn_kernel::run(data, data, begin, end, L::alpha, L::beta, L::k);
    }
  }
  // pixels [b, e) of fp32 out_shape (channels last) -> out.
  void store_pixels(const float* src, out_t* dst, std::int64_t b, std::int64_t e) const {
    constexpr int C = out_stored::channels;
    if constexpr (Last)
      std::memcpy(dst + b * C, src + b * C, sizeof(float) * std::size_t(e - b) * C);
    else
      self().io.out.template pixels_from_f32<C>(src + b * C, dst + b * simd_detail::round_up(C, F::Q), e - b);
  }
  // One image's fp32 conv output a (after its LRN) -> pooled into b (when pooling) -> y.
  void finish(float* a, float* b, out_t* y) const {
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

/// A dense stage (dense [+ relu] [+ softmax]): its types and control flow. Derived provides the kernel type
/// (`kernel`, with make_panel and tile_rows), run_part(in, panel, out, batch, part, parts) and io.
template <class Derived, class F, class Stage, class InLayout, bool Last, class Bs = typename Stage::layers>
struct dense_stage_base;
template <class Derived, class F, class Stage, class InLayout, bool Last, class... Bs>
struct dense_stage_base<Derived, F, Stage, InLayout, Last, type_list<Bs...>> {
  using T = typename F::T;
  using dense_b = typename Stage::first;
  static constexpr int in_size = static_cast<int>(dense_b::input::size);
  static constexpr int out_size = static_cast<int>(dense_b::output::size);
  static constexpr bool relu_ = !std::is_void_v<typename find_bound<layer_kind::relu, Bs...>::type>;
  static constexpr bool softmax_ = !std::is_void_v<typename find_bound<layer_kind::softmax, Bs...>::type>;
  using order = simd_detail::dense_stored_order<InLayout, in_size, F::Q>;
  static constexpr bool f32_out = Last || softmax_;  // the kernel writes floats
  using k_out_t = std::conditional_t<f32_out, float, T>;
  using epilogue = std::conditional_t<relu_, ks::epilogue_relu, ks::epilogue_none>;
  using out_layout = plain_layout;
  static constexpr std::int64_t scratch_a_floats = softmax_ && !Last ? out_size : 0;
  static constexpr std::int64_t scratch_b_floats = 0;
  static constexpr std::size_t zero_elems = 0;

  /// PyTorch's weights of the layer in the stored input order (channels last, padding columns zero).
  static std::vector<float> stored_order_weights(const float* params) {
    std::vector<float> w(std::size_t(order::elems) * out_size);
    order::permute(params + dense_b::weight_offset, w.data(), out_size);
    return w;
  }

  void run(const T* in, void* out_v, const frame<T>& f) const {
    using kernel = typename Derived::kernel;
    const int batch = f.batch;
    thread_pool& pool = *f.pool;
    if (batch > 1 && Derived::panel_words(batch) > 0)
      on_threads(pool, [&](int t, int n) {
        const auto r = split(ks::ceil_div(batch, kernel::tile_rows) * kernel::tile_rows, t, n);
        kernel::make_panel(in, f.panel, batch, int(r.begin), int(r.end));
      });
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
        self().run_part(in, f.panel, kout, batch, part, parts);
    });
    if constexpr (softmax_) {
      on_threads(pool, [&](int t, int n) {
        const auto r = split(batch, t, n);
        for (std::int64_t b = r.begin; b < r.end; ++b) {
          float* row = kout + b * out_size;
          ks::softmax_row(row, row, out_size);
          if constexpr (!Last)
            self().io.out.template pixels_from_f32<out_size>(
                row, static_cast<T*>(out_v) + b * simd_detail::round_up(out_size, F::Q), 1);
        }
      });
    }
  }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
};

/// Any other stage (standalone relu, softmax, LRN, pools, adaptive average pool; convolutions the format's
/// kernels cannot serve): its fp32 executor between a conversion to fp32 and one back.
template <class F, class Stage, class InLayout, class Arch, bool Last>
struct island_stage {
  using T = typename F::T;
  using f32_exec = typename simd_detail::stage_exec_select<Stage, InLayout, Arch>::type;
  using out_layout = typename f32_exec::out_layout;
  static constexpr std::int64_t in_floats = Stage::first::input::size, out_floats = Stage::output::size;
  static constexpr std::int64_t scratch_a_floats = in_floats;
  static constexpr std::int64_t scratch_b_floats = Last ? 0 : out_floats;
  static constexpr std::int64_t f32_scratch_floats = f32_exec::scratch_floats;
  static constexpr std::size_t f32_zero_floats = f32_exec::zero_floats;
  static constexpr std::size_t workspace_floats = f32_exec::workspace_floats;
  static constexpr std::size_t zero_elems = 0;
  static constexpr std::size_t panel_words(int) { return 0; }

  f32_exec exec;
  stage_io<F> io;
  island_stage(const float* params, const stage_io<F>& s) : exec(params), io(s) {}

  void run(const T* in, void* out_v, const frame<T>& f) const {
    const int batch = f.batch;
    on_threads(*f.pool, [&](int t, int n) {
      const auto r = split(batch, t, n);
      io.in.template to_f32<InLayout, in_floats>(in, f.scratch_a, r.begin, r.end);
    });
    float* dst = Last ? static_cast<float*>(out_v) : f.scratch_b;
    exec.run(f.scratch_a, dst, f.f32_scratch, f.f32_zeros, f.workspace, batch, *f.pool);
    if constexpr (!Last)
      on_threads(*f.pool, [&](int t, int n) {
        const auto r = split(batch, t, n);
        io.out.template from_f32<out_layout, out_floats>(f.scratch_b, static_cast<T*>(out_v), r.begin, r.end);
      });
  }
};

/// The program: the fp32 program's fused stages (fusion::stages_t<Net>), each run by the executor
/// Select<Stage, InLayout, Arch, Last> picks, on stored tensors in ping-pong buffers; the input converted
/// (and made NHWC) with tensors[0], stage i's output with tensors[i + 1]; the last stage writes floats.
/// Everything is allocated by the constructor.
template <class F, class Net, class Arch, template <class, class, class, bool> class Select>
class chain_program {
  using T = typename F::T;
  using stages = fusion::stages_t<Net>;
  using in_layout = typename layout_of_shape<typename Net::input_shape>::type;
  using built = simd_detail::reduced_build<Select, in_layout, stages, Arch>;
  using execs_list = typename built::execs;
  using tuple_info = simd_detail::reduced_tuple<execs_list>;
  using execs_tuple = typename tuple_info::type;
  static constexpr std::int64_t in_size = Net::input_shape::size;
  static constexpr std::int64_t out_size = Net::output_shape::size;
  static constexpr std::int64_t in_elems = stored<F, in_layout, in_size>::elems;
  // Floats per image of a ping-pong buffer: a stored tensor takes at most as many bytes as its fp32 one.
  static constexpr std::int64_t buffer_floats = std::max(in_size, simd_detail::largest_output<stages>::value);

 public:
  /// Tensors the program converts: the input, then each stage's output.
  static constexpr std::size_t tensor_count = stages::size + 1;
  static constexpr bool reference_fallback = false;
  static std::vector<std::string> fallback_layers() { return {}; }

  /// max_batch and threads checked by the caller; tensors: tensor_count conversions.
  chain_program(const params<Net>& p, int max_batch, int threads, std::vector<typename F::tensor> tensors)
      : max_batch_(max_batch),
        tensors_(std::move(tensors)),
        execs_(make_execs(p.data(), static_cast<execs_list*>(nullptr), std::make_index_sequence<stages::size>{})),
        a_(detail::make_aligned_floats(buffer_floats * max_batch_)),
        b_(detail::make_aligned_floats(buffer_floats * max_batch_)),
        scratch_a_(detail::make_aligned_floats(tuple_info::scratch_a * std::max(max_batch_, threads))),
        scratch_b_(detail::make_aligned_floats(tuple_info::scratch_b * std::max(max_batch_, threads))),
        zeros_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::zeros) + 64)),
        panel_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::panel(max_batch_)))),
        f32_scratch_(detail::make_aligned_floats(tuple_info::f32_scratch * max_batch_)),
        f32_zeros_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::f32_zeros) + 64)),
        workspace_(detail::make_aligned_floats(static_cast<std::int64_t>(tuple_info::workspace) * threads)),
        pool_(threads) {}

  int threads() const noexcept { return pool_.size(); }

  void run(const float* in, float* out, int batch) {
    simd_detail::check_batch(batch, max_batch_);
    void* cur = a_.get();
    void* next = b_.get();
    on_threads(pool_, [&](int t, int n) {
      const auto r = detail::split(batch, t, n);
      auto* dst = static_cast<T*>(cur);
      if constexpr (std::is_same_v<in_layout, plain_layout>) {
        tensors_.front().template from_f32<plain_layout, in_size>(in, dst, r.begin, r.end);
      } else {
        using S = typename Net::input_shape;
        tensors_.front().template from_nchw<S::dims[0], S::dims[1], S::dims[2]>(in, dst, r.begin, r.end);
      }
    });
    const frame<T> f{scratch_a_.get(),
                     scratch_b_.get(),
                     reinterpret_cast<const T*>(zeros_.get()),
                     reinterpret_cast<std::uint32_t*>(panel_.get()),
                     f32_scratch_.get(),
                     f32_zeros_.get(),
                     workspace_.get(),
                     batch,
                     &pool_};
    boost::hana::for_each(execs_, [&](auto& e) {
      e.run(static_cast<const T*>(cur), next, f);
      std::swap(cur, next);
    });
    const float* last = static_cast<const float*>(cur);
    using final_layout = typename built::final_layout;
    if constexpr (std::is_same_v<final_layout, plain_layout>) {
      std::memcpy(out, last, sizeof(float) * std::size_t(batch * out_size));
    } else {
      using S = final_layout;
      on_threads(pool_, [&](int t, int n) {
        const auto r = detail::split(batch, t, n);
        ks::nhwc_to_nchw<S::c, S::h, S::w>(last, out, r.begin, r.end);
      });
    }
  }

 private:
  template <class... E, std::size_t... I>
  execs_tuple make_execs(const float* p, type_list<E...>*, std::index_sequence<I...>) const {
    return boost::hana::make_basic_tuple(E(p, stage_io<F>{tensors_[I], tensors_[I + 1]})...);
  }

  int max_batch_;
  std::vector<typename F::tensor> tensors_;
  execs_tuple execs_;
  detail::aligned_floats a_, b_, scratch_a_, scratch_b_, zeros_, panel_, f32_scratch_, f32_zeros_, workspace_;
  detail::thread_pool pool_;
};

}  // namespace typenet::exec::simd_reduced

// The programs built on this file. (Here rather than at the end of policy.hpp, so that whichever of these
// headers is included first, each program's header comes after everything it uses.)
#include "bf16.hpp"
#include "int8.hpp"
