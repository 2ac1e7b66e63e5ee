// typenet/train/simd.hpp: training steps with exec::simd: the convolutions and dense layers, forward and
// backward, as vectorised matrix products on a thread pool.
//
//   tn::exec::simd<> policy;  policy.threads = 2;
//   tn::train::trainer<lenet5, tn::exec::simd<>> t(p, /*max_batch=*/128, {}, policy);
//
// The training step is exec::reference's (train/reference.hpp: the same tree walk, memory plan, loss,
// dropout masks and batch norm), with other kernels for the layers that hold nearly all the work:
//   conv2d  per image, im2col then Y = W x col per group (a 1x1 stride-1 convolution reads x itself);
//           backward dcol = W^T x dY then col2im into dx, and dW += dY x col^T. Threads take whole
//           images; each adds its images' weight gradient into a partial of its own, summed at the end.
//   dense   Y = X x W^T for the batch, the threads splitting the units; backward dX = dY x W (threads
//           split the inputs) and dW += dY^T x X (threads split the units).
// Both run kernels/simd/gemm.hpp. Every other layer kind (pools, activations, LRN, softmax) runs the
// reference loop nests, single-threaded: they are a few percent of a step's arithmetic. Sums are float
// (the reference's are double), so gradients agree with the reference to float rounding, not bit for bit.
// All buffers (packing, im2col columns, partial weight gradients) are allocated when the trainer is built.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "../core/graph.hpp"
#include "../detail/thread_pool.hpp"
#include "../exec/simd.hpp"
#include "../kernels/simd/gemm.hpp"
#include "reference.hpp"

namespace typenet::train {

namespace detail {

template <class L>
inline constexpr bool is_conv_leaf = layer_kind_of<typename L::layer> == layer_kind::conv;
template <class L>
inline constexpr bool is_dense_leaf = layer_kind_of<typename L::layer> == layer_kind::dense;

// The largest im2col buffer and conv weight gradient over the trained layers of a network.
template <Network Net>
struct simd_training_sizes {
  static constexpr std::int64_t columns = [] {
    std::int64_t n = 0;
    for_each_leaf(trained_nodes<Net>{}, [&]<class L>() {
      if constexpr (is_conv_leaf<L>) {
        constexpr window_geometry g = window_of_shapes<typename L::layer, typename L::input, typename L::output>();
        n = std::max<std::int64_t>(n, std::int64_t{g.in_c / g.groups} * g.kernel_h * g.kernel_w * g.out_h * g.out_w);
      }
    });
    return n;
  }();
  static constexpr std::int64_t conv_params = [] {
    std::int64_t n = 0;
    for_each_leaf(trained_nodes<Net>{}, [&]<class L>() {
      if constexpr (is_conv_leaf<L>) n = std::max(n, L::weights + L::biases);
    });
    return n;
  }();
};

template <Network Net, class Arch>
class simd_kernels : public host_step_ops {
  using sizes = simd_training_sizes<Net>;
  using view = kernels::simd::matrix_view;

 public:
  static constexpr const char* name = "simd";

  explicit simd_kernels(int threads) : pool_(std::make_unique<typenet::detail::thread_pool>(threads)) {
    for (int t = 0; t < threads; ++t) {
      work_.push_back(std::make_unique<per_thread>());
      work_.back()->columns = typenet::detail::make_aligned_floats(std::max<std::int64_t>(sizes::columns, 1));
      work_.back()->partial = typenet::detail::make_aligned_floats(std::max<std::int64_t>(sizes::conv_params, 1));
    }
  }
  int threads() const noexcept { return pool_->size(); }

  template <class L>
  void forward(const float* x, float* y, int batch, const float* params) {
    if constexpr (is_conv_leaf<L>)
      conv_forward<L>(x, y, batch, params + L::weight_offset, L::biases > 0 ? params + L::bias_offset : nullptr);
    else if constexpr (is_dense_leaf<L>)
      dense_forward<L>(x, y, batch, params + L::weight_offset, L::biases > 0 ? params + L::bias_offset : nullptr);
    else
      reference_kernels{}.template forward<L>(x, y, batch, params);
  }

  template <class L>
  void backward(const kernels::reference::backward_args& a) {
    if constexpr (is_conv_leaf<L>)
      conv_backward<L>(a);
    else if constexpr (is_dense_leaf<L>)
      dense_backward<L>(a);
    else
      reference_kernels{}.template backward<L>(a);
  }

 private:
  struct per_thread {
    kernels::simd::gemm_workspace<Arch> gemm;
    typenet::detail::aligned_floats columns, partial;
  };

  template <class F>
  void parallel(F&& f) {
    pool_->run(f);
  }

  // ---- convolution ----

  template <class L>
  static constexpr window_geometry geometry() {
    return window_of_shapes<typename L::layer, typename L::input, typename L::output>();
  }
  template <class L>
  static constexpr bool direct_1x1() {  // the input is its own column matrix
    constexpr window_geometry g = geometry<L>();
    return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0;
  }

  // col[(c * kh + ky) * kw + kx][oy * ow + ox] = x[first + c][oy * sh - ph + ky][ox * sw - pw + kx], or 0.
  static void im2col(const window_geometry& g, const float* x, int first, float* col) {
    const int channels = g.in_c / g.groups;
    const std::int64_t plane = std::int64_t{g.out_h} * g.out_w;
    for (int c = 0; c < channels; ++c)
      for (int ky = 0; ky < g.kernel_h; ++ky)
        for (int kx = 0; kx < g.kernel_w; ++kx) {
          float* row = col + ((std::int64_t{c} * g.kernel_h + ky) * g.kernel_w + kx) * plane;
          const float* in = x + std::int64_t{first + c} * g.in_h * g.in_w;
          for (int oy = 0; oy < g.out_h; ++oy) {
            const int iy = oy * g.stride_h - g.pad_h + ky;
            float* out = row + std::int64_t{oy} * g.out_w;
            if (iy < 0 || iy >= g.in_h) {
              std::fill(out, out + g.out_w, 0.f);
              continue;
            }
            const float* line = in + std::int64_t{iy} * g.in_w;
            for (int ox = 0; ox < g.out_w; ++ox) {
              const int ix = ox * g.stride_w - g.pad_w + kx;
              out[ox] = ix < 0 || ix >= g.in_w ? 0.f : line[ix];
            }
          }
        }
  }

  // The adjoint of im2col: dx[first + c][iy][ix] += dcol[row][p] over every (row, p) that read it.
  static void col2im(const window_geometry& g, const float* dcol, int first, float* dx) {
    const int channels = g.in_c / g.groups;
    const std::int64_t plane = std::int64_t{g.out_h} * g.out_w;
    for (int c = 0; c < channels; ++c)
      for (int ky = 0; ky < g.kernel_h; ++ky)
        for (int kx = 0; kx < g.kernel_w; ++kx) {
          const float* row = dcol + ((std::int64_t{c} * g.kernel_h + ky) * g.kernel_w + kx) * plane;
          float* out = dx + std::int64_t{first + c} * g.in_h * g.in_w;
          for (int oy = 0; oy < g.out_h; ++oy) {
            const int iy = oy * g.stride_h - g.pad_h + ky;
            if (iy < 0 || iy >= g.in_h) continue;
            float* line = out + std::int64_t{iy} * g.in_w;
            const float* from = row + std::int64_t{oy} * g.out_w;
            for (int ox = 0; ox < g.out_w; ++ox) {
              const int ix = ox * g.stride_w - g.pad_w + kx;
              if (ix >= 0 && ix < g.in_w) line[ix] += from[ox];
            }
          }
        }
  }

  template <class L>
  void conv_forward(const float* x, float* y, int batch, const float* weight, const float* bias) {
    static constexpr window_geometry g = geometry<L>();
    constexpr int cg = g.in_c / g.groups, fg = g.out_c / g.groups;
    constexpr std::int64_t taps = std::int64_t{cg} * g.kernel_h * g.kernel_w, plane = std::int64_t{g.out_h} * g.out_w;
    constexpr std::int64_t in_image = L::input::size, out_image = L::output::size;
    auto job = [&](int t, int n_threads) {
      per_thread& w = *work_[static_cast<std::size_t>(t)];
      for (int n = batch * t / n_threads; n < batch * (t + 1) / n_threads; ++n) {
        const float* image = x + n * in_image;
        float* out = y + n * out_image;
        for (int group = 0; group < g.groups; ++group) {
          const float* columns = image + std::int64_t{group} * cg * plane;
          if constexpr (!direct_1x1<L>()) {
            im2col(g, image, group * cg, w.columns.get());
            columns = w.columns.get();
          }
          kernels::simd::gemm<Arch>(fg, plane, taps, view{weight + group * fg * taps, taps, 1}, view{columns, plane, 1},
                                    out + group * fg * plane, plane, false, w.gemm);
        }
        if (bias != nullptr)
          for (int f = 0; f < g.out_c; ++f)
            for (std::int64_t p = 0; p < plane; ++p) out[f * plane + p] += bias[f];
      }
    };
    parallel(job);
  }

  template <class L>
  void conv_backward(const kernels::reference::backward_args& a) {
    static constexpr window_geometry g = geometry<L>();
    constexpr int cg = g.in_c / g.groups, fg = g.out_c / g.groups;
    constexpr std::int64_t taps = std::int64_t{cg} * g.kernel_h * g.kernel_w, plane = std::int64_t{g.out_h} * g.out_w;
    constexpr std::int64_t in_image = L::input::size, out_image = L::output::size;
    constexpr std::int64_t weights = L::weights;
    auto job = [&](int t, int n_threads) {
      per_thread& w = *work_[static_cast<std::size_t>(t)];
      float* partial = w.partial.get();
      std::fill(partial, partial + weights + L::biases, 0.f);
      for (int n = a.batch * t / n_threads; n < a.batch * (t + 1) / n_threads; ++n) {
        const float* image = a.x + n * in_image;
        const float* dy = a.dy + n * out_image;
        float* dx = a.dx + n * in_image;
        if constexpr (!direct_1x1<L>()) std::fill(dx, dx + in_image, 0.f);
        for (int group = 0; group < g.groups; ++group) {
          const float* dyg = dy + std::int64_t{group} * fg * plane;
          const float* wg = a.weight + group * fg * taps;
          // dW_g += dY_g (fg x plane) x col^T (plane x taps)
          const float* columns = image + std::int64_t{group} * cg * plane;
          if constexpr (!direct_1x1<L>()) {
            im2col(g, image, group * cg, w.columns.get());
            columns = w.columns.get();
          }
          kernels::simd::gemm<Arch>(fg, taps, plane, view{dyg, plane, 1}, view{columns, 1, plane},
                                    partial + group * fg * taps, taps, true, w.gemm);
          // dcol = W_g^T (taps x fg) x dY_g (fg x plane), then into dx
          if constexpr (direct_1x1<L>()) {
            kernels::simd::gemm<Arch>(taps, plane, fg, view{wg, 1, taps}, view{dyg, plane, 1},
                                      dx + std::int64_t{group} * cg * plane, plane, false, w.gemm);
          } else {
            kernels::simd::gemm<Arch>(taps, plane, fg, view{wg, 1, taps}, view{dyg, plane, 1}, w.columns.get(), plane,
                                      false, w.gemm);
            col2im(g, w.columns.get(), group * cg, dx);
          }
        }
        if constexpr (L::biases > 0)
          for (int f = 0; f < g.out_c; ++f) {
            float sum = 0;
            for (std::int64_t p = 0; p < plane; ++p) sum += dy[f * plane + p];
            partial[weights + f] += sum;
          }
      }
    };
    parallel(job);
    for (const auto& w : work_) {
      const float* partial = w->partial.get();
      for (std::int64_t i = 0; i < weights; ++i) a.dweight[i] += partial[i];
      if (a.dbias != nullptr)
        for (std::int64_t i = 0; i < L::biases; ++i) a.dbias[i] += partial[weights + i];
    }
  }

  // ---- dense ----

  template <class L>
  void dense_forward(const float* x, float* y, int batch, const float* weight, const float* bias) {
    constexpr std::int64_t in = L::input::size, units = L::output::size;
    auto job = [&](int t, int n_threads) {
      const std::int64_t u0 = units * t / n_threads, u1 = units * (t + 1) / n_threads;
      per_thread& w = *work_[static_cast<std::size_t>(t)];
      kernels::simd::gemm<Arch>(batch, u1 - u0, in, view{x, in, 1}, view{weight + u0 * in, 1, in}, y + u0, units, false,
                                w.gemm);
      if (bias != nullptr)
        for (int n = 0; n < batch; ++n)
          for (std::int64_t u = u0; u < u1; ++u) y[n * units + u] += bias[u];
    };
    parallel(job);
  }

  template <class L>
  void dense_backward(const kernels::reference::backward_args& a) {
    constexpr std::int64_t in = L::input::size, units = L::output::size;
    auto job = [&](int t, int n_threads) {
      per_thread& w = *work_[static_cast<std::size_t>(t)];
      const std::int64_t i0 = in * t / n_threads, i1 = in * (t + 1) / n_threads;
      kernels::simd::gemm<Arch>(a.batch, i1 - i0, units, view{a.dy, units, 1}, view{a.weight + i0, in, 1}, a.dx + i0,
                                in, false, w.gemm);
      const std::int64_t u0 = units * t / n_threads, u1 = units * (t + 1) / n_threads;
      kernels::simd::gemm<Arch>(u1 - u0, in, a.batch, view{a.dy + u0, 1, units}, view{a.x, in, 1}, a.dweight + u0 * in,
                                in, true, w.gemm);
      if (a.dbias != nullptr)
        for (std::int64_t u = u0; u < u1; ++u) {
          float sum = 0;
          for (int n = 0; n < a.batch; ++n) sum += a.dy[n * units + u];
          a.dbias[u] += sum;
        }
    };
    parallel(job);
  }

  std::unique_ptr<typenet::detail::thread_pool> pool_;
  std::vector<std::unique_ptr<per_thread>> work_;
};

}  // namespace detail

/// exec::simd's training program: see the file comment. policy.threads threads, the caller included.
template <Network Net, class Arch>
class trainer<Net, exec::simd<Arch>> : public detail::training_program<Net, detail::simd_kernels<Net, Arch>> {
 public:
  trainer(params<Net>& p, int max_batch, options o = {}, const exec::simd<Arch>& policy = {})
      : detail::training_program<Net, detail::simd_kernels<Net, Arch>>(
            p, max_batch, o, detail::simd_kernels<Net, Arch>(policy.threads)) {}
};

}  // namespace typenet::train
