// typenet/kernels/reference/backward.hpp: the backward pass of every layer kind, as plain loops with double
// accumulators: the gradient oracle that every training policy is tested against.
//
// For a layer y = f(x; w), backward(Layer, In, Out, args) receives x, y and dy = d(loss)/dy for `batch`
// images and
//   - overwrites dx = d(loss)/dx (batch x In floats);
//   - adds d(loss)/dw to the layer's parameter gradients (same layout as its tensors in params<Net>).
// Every sum that a gradient element is made of is formed in double and rounded once, except where at most a
// handful of float terms meet (pooling windows that overlap), which are added in float.
//
// What PyTorch does at the kinks, and what these loops do too:
//   relu:  dx = dy where y > 0, else 0 (also at x == 0);
//   relu6: dx = dy where 0 < x < 6, else 0 (hardtanh's rule);
//   max_pool: the whole of dy goes to the first maximum of the window in row-major order (a NaN, if any).
// Dropout and batch norm keep state between forward and backward (a mask; the batch statistics) and are
// handled by the training program (train/reference.hpp) with the helpers at the end of this file.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "../../core/shape.hpp"
#include "../../detail/type_list.hpp"
#include "../../diag/rules.hpp"
#include "../../layers/activation.hpp"
#include "../../layers/batch_norm.hpp"
#include "../../layers/conv2d.hpp"
#include "../../layers/dense.hpp"
#include "../../layers/flatten.hpp"
#include "../../layers/norm.hpp"
#include "../../layers/pool.hpp"
#include "geometry.hpp"

namespace typenet::kernels::reference {

/// What one backward call reads and writes (see the file comment). dweight/dbias are null for a layer
/// without them; weight is the layer's first tensor.
struct backward_args {
  const float* x;
  const float* y;
  const float* dy;
  float* dx;
  int batch;
  const float* weight;
  float* dweight;
  float* dbias;
};

// ---- convolution -----------------------------------------------------------------------------------------

inline void conv2d_backward_plain(const window_geometry& g, const backward_args& a) {
  const int in_per_group = g.in_c / g.groups;
  const int out_per_group = g.out_c / g.groups;
  const std::int64_t in_plane = std::int64_t{g.in_h} * g.in_w, out_plane = std::int64_t{g.out_h} * g.out_w;
  const std::int64_t in_image = g.in_c * in_plane, out_image = g.out_c * out_plane;
  const std::int64_t taps = std::int64_t{g.kernel_h} * g.kernel_w;
  // dx[n, c, iy, ix] = sum over the filters f of c's group and the taps (ky, kx) that put (iy, ix) under
  // output (oy, ox) of weight[f, c', ky, kx] * dy[n, f, oy, ox].
  for (int n = 0; n < a.batch; ++n)
    for (int c = 0; c < g.in_c; ++c) {
      const int group = c / in_per_group, local = c - group * in_per_group;
      for (int iy = 0; iy < g.in_h; ++iy)
        for (int ix = 0; ix < g.in_w; ++ix) {
          double sum = 0;
          for (int ky = 0; ky < g.kernel_h; ++ky) {
            const int ty = iy + g.pad_h - ky;
            if (ty < 0 || ty % g.stride_h != 0 || ty / g.stride_h >= g.out_h) continue;
            for (int kx = 0; kx < g.kernel_w; ++kx) {
              const int tx = ix + g.pad_w - kx;
              if (tx < 0 || tx % g.stride_w != 0 || tx / g.stride_w >= g.out_w) continue;
              const std::int64_t o = std::int64_t{ty / g.stride_h} * g.out_w + tx / g.stride_w;
              for (int f = group * out_per_group; f < (group + 1) * out_per_group; ++f)
                sum += double{a.weight[(std::int64_t{f} * in_per_group + local) * taps + ky * g.kernel_w + kx]} *
                       double{a.dy[n * out_image + f * out_plane + o]};
            }
          }
          a.dx[n * in_image + c * in_plane + std::int64_t{iy} * g.in_w + ix] = static_cast<float>(sum);
        }
    }
  // dweight[f, c', ky, kx] = sum over images and output pixels of dy[n, f, oy, ox] * x[n, c, iy, ix].
  for (int f = 0; f < g.out_c; ++f) {
    const int first_channel = (f / out_per_group) * in_per_group;
    for (int local = 0; local < in_per_group; ++local)
      for (int ky = 0; ky < g.kernel_h; ++ky)
        for (int kx = 0; kx < g.kernel_w; ++kx) {
          double sum = 0;
          for (int n = 0; n < a.batch; ++n) {
            const float* plane = a.x + n * in_image + (first_channel + local) * in_plane;
            const float* grad = a.dy + n * out_image + f * out_plane;
            for (int oy = 0; oy < g.out_h; ++oy) {
              const int iy = oy * g.stride_h - g.pad_h + ky;
              if (iy < 0 || iy >= g.in_h) continue;
              for (int ox = 0; ox < g.out_w; ++ox) {
                const int ix = ox * g.stride_w - g.pad_w + kx;
                if (ix < 0 || ix >= g.in_w) continue;
                sum += double{grad[std::int64_t{oy} * g.out_w + ox]} * double{plane[std::int64_t{iy} * g.in_w + ix]};
              }
            }
          }
          a.dweight[(std::int64_t{f} * in_per_group + local) * taps + ky * g.kernel_w + kx] += static_cast<float>(sum);
        }
    if (a.dbias != nullptr) {
      double sum = 0;
      for (int n = 0; n < a.batch; ++n)
        for (std::int64_t o = 0; o < out_plane; ++o) sum += a.dy[n * out_image + f * out_plane + o];
      a.dbias[f] += static_cast<float>(sum);
    }
  }
}

template <int F, class... Tags, int C, int H, int W, int OH, int OW>
void backward(conv2d<F, Tags...>, shape<C, H, W>, shape<F, OH, OW>, const backward_args& a) {
  static constexpr window_geometry g = make_window_geometry<conv2d<F, Tags...>, C, H, W, F, OH, OW>();
  conv2d_backward_plain(g, a);
}

// ---- dense -----------------------------------------------------------------------------------------------

inline void dense_backward_plain(int inputs, int units, const backward_args& a) {
  for (int n = 0; n < a.batch; ++n)
    for (int i = 0; i < inputs; ++i) {
      double sum = 0;
      for (int u = 0; u < units; ++u)
        sum += double{a.weight[std::int64_t{u} * inputs + i]} * double{a.dy[std::int64_t{n} * units + u]};
      a.dx[std::int64_t{n} * inputs + i] = static_cast<float>(sum);
    }
  for (int u = 0; u < units; ++u) {
    for (int i = 0; i < inputs; ++i) {
      double sum = 0;
      for (int n = 0; n < a.batch; ++n)
        sum += double{a.dy[std::int64_t{n} * units + u]} * double{a.x[std::int64_t{n} * inputs + i]};
      a.dweight[std::int64_t{u} * inputs + i] += static_cast<float>(sum);
    }
    if (a.dbias != nullptr) {
      double sum = 0;
      for (int n = 0; n < a.batch; ++n) sum += a.dy[std::int64_t{n} * units + u];
      a.dbias[u] += static_cast<float>(sum);
    }
  }
}

template <int Units, class... Tags, int N>
void backward(dense<Units, Tags...>, shape<N>, shape<Units>, const backward_args& a) {
  dense_backward_plain(N, Units, a);
}

// ---- element-wise ----------------------------------------------------------------------------------------

template <int... D>
void backward(relu, shape<D...>, shape<D...>, const backward_args& a) {
  const std::int64_t count = std::int64_t{a.batch} * shape<D...>::size;
  for (std::int64_t i = 0; i < count; ++i) a.dx[i] = a.y[i] > 0.f ? a.dy[i] : 0.f;
}

template <int... D>
void backward(relu6, shape<D...>, shape<D...>, const backward_args& a) {
  const std::int64_t count = std::int64_t{a.batch} * shape<D...>::size;
  for (std::int64_t i = 0; i < count; ++i) a.dx[i] = a.x[i] > 0.f && a.x[i] < 6.f ? a.dy[i] : 0.f;
}

inline void copy_gradient(std::int64_t count, const float* dy, float* dx) {
  for (std::int64_t i = 0; i < count; ++i) dx[i] = dy[i];
}

template <int... D>
void backward(identity, shape<D...>, shape<D...>, const backward_args& a) {
  copy_gradient(std::int64_t{a.batch} * shape<D...>::size, a.dy, a.dx);
}

template <class In, int N>
void backward(flatten, In, shape<N>, const backward_args& a) {
  copy_gradient(std::int64_t{a.batch} * N, a.dy, a.dx);
}

/// A softmax inside the network (a trailing one is folded into the loss): dx = y * (dy - sum(dy * y)).
template <int N>
void backward(softmax, shape<N>, shape<N>, const backward_args& a) {
  for (int n = 0; n < a.batch; ++n) {
    const float *y = a.y + std::int64_t{n} * N, *dy = a.dy + std::int64_t{n} * N;
    double dot = 0;
    for (int i = 0; i < N; ++i) dot += double{dy[i]} * double{y[i]};
    for (int i = 0; i < N; ++i) a.dx[std::int64_t{n} * N + i] = static_cast<float>(double{y[i]} * (dy[i] - dot));
  }
}

// ---- local response normalisation ------------------------------------------------------------------------
// y_c = x_c * s_c^-beta with s_c = k + alpha / size * sum_{c' in window(c)} x_c'^2, so
// dx_j = dy_j * s_j^-beta - 2 alpha beta / size * x_j * sum_{c : j in window(c)} dy_c * x_c * s_c^(-beta-1),
// where j is in window(c) = [c - size/2, c + (size-1)/2] exactly when c is in [j - (size-1)/2, j + size/2].

inline void lrn_backward_plain(int size, double alpha, double beta, double k, int channels, std::int64_t plane,
                               const backward_args& a) {
  for (int n = 0; n < a.batch; ++n) {
    const std::int64_t base = std::int64_t{n} * channels * plane;
    for (std::int64_t p = 0; p < plane; ++p) {
      auto x = [&](int c) { return double{a.x[base + c * plane + p]}; };
      auto s = [&](int c) {
        double squares = 0;
        for (int j = std::max(c - size / 2, 0); j <= std::min(c + (size - 1) / 2, channels - 1); ++j)
          squares += x(j) * x(j);
        return k + alpha / size * squares;
      };
      for (int j = 0; j < channels; ++j) {
        double across = 0;
        for (int c = std::max(j - (size - 1) / 2, 0); c <= std::min(j + size / 2, channels - 1); ++c)
          across += double{a.dy[base + c * plane + p]} * x(c) * std::pow(s(c), -beta - 1);
        const double direct = double{a.dy[base + j * plane + p]} * std::pow(s(j), -beta);
        a.dx[base + j * plane + p] = static_cast<float>(direct - 2 * alpha * beta / size * x(j) * across);
      }
    }
  }
}

template <int Size, class Alpha, class Beta, class K, int C, int H, int W>
void backward(lrn<Size, Alpha, Beta, K>, shape<C, H, W>, shape<C, H, W>, const backward_args& a) {
  using L = lrn<Size, Alpha, Beta, K>;
  lrn_backward_plain(Size, L::alpha, L::beta, L::k, C, std::int64_t{H} * W, a);
}

// ---- pooling ---------------------------------------------------------------------------------------------

inline void zero(std::int64_t count, float* out) { std::fill(out, out + count, 0.f); }

inline void max_pool_backward_plain(const window_geometry& g, const backward_args& a) {
  const std::int64_t planes = std::int64_t{a.batch} * g.in_c;
  zero(planes * g.in_h * g.in_w, a.dx);
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* plane = a.x + p * g.in_h * g.in_w;
    float* grad = a.dx + p * g.in_h * g.in_w;
    for (int y = 0; y < g.out_h; ++y) {
      const int y0 = std::max(y * g.stride_h - g.pad_h, 0);
      const int y1 = std::min(y * g.stride_h - g.pad_h + g.kernel_h, g.in_h);
      for (int x = 0; x < g.out_w; ++x) {
        const int x0 = std::max(x * g.stride_w - g.pad_w, 0);
        const int x1 = std::min(x * g.stride_w - g.pad_w + g.kernel_w, g.in_w);
        std::int64_t at = std::int64_t{y0} * g.in_w + x0;
        float best = -std::numeric_limits<float>::infinity();
        for (int iy = y0; iy < y1 && !std::isnan(best); ++iy)
          for (int ix = x0; ix < x1; ++ix) {
            const float v = plane[iy * g.in_w + ix];
            if (v > best || std::isnan(v)) {
              best = v;
              at = std::int64_t{iy} * g.in_w + ix;
              if (std::isnan(v)) break;
            }
          }
        grad[at] += a.dy[(p * g.out_h + y) * g.out_w + x];
      }
    }
  }
}

inline void avg_pool_backward_plain(const window_geometry& g, const backward_args& a) {
  const std::int64_t planes = std::int64_t{a.batch} * g.in_c;
  zero(planes * g.in_h * g.in_w, a.dx);
  for (std::int64_t p = 0; p < planes; ++p) {
    float* grad = a.dx + p * g.in_h * g.in_w;
    for (int y = 0; y < g.out_h; ++y) {
      const int ys = y * g.stride_h - g.pad_h;
      const int ye = std::min(ys + g.kernel_h, g.in_h + g.pad_h);
      for (int x = 0; x < g.out_w; ++x) {
        const int xs = x * g.stride_w - g.pad_w;
        const int xe = std::min(xs + g.kernel_w, g.in_w + g.pad_w);
        const float share = a.dy[(p * g.out_h + y) * g.out_w + x] / static_cast<float>((ye - ys) * (xe - xs));
        for (int iy = std::max(ys, 0); iy < std::min(ye, g.in_h); ++iy)
          for (int ix = std::max(xs, 0); ix < std::min(xe, g.in_w); ++ix) grad[iy * g.in_w + ix] += share;
      }
    }
  }
}

inline void adaptive_avg_pool_backward_plain(int channels, int in_h, int in_w, int out_h, int out_w,
                                             const backward_args& a) {
  const std::int64_t planes = std::int64_t{a.batch} * channels;
  zero(planes * in_h * in_w, a.dx);
  for (std::int64_t p = 0; p < planes; ++p) {
    float* grad = a.dx + p * in_h * in_w;
    for (int y = 0; y < out_h; ++y) {
      const int y0 = (y * in_h) / out_h, y1 = ((y + 1) * in_h + out_h - 1) / out_h;
      for (int x = 0; x < out_w; ++x) {
        const int x0 = (x * in_w) / out_w, x1 = ((x + 1) * in_w + out_w - 1) / out_w;
        const float share = a.dy[(p * out_h + y) * out_w + x] / static_cast<float>((y1 - y0) * (x1 - x0));
        for (int iy = y0; iy < y1; ++iy)
          for (int ix = x0; ix < x1; ++ix) grad[iy * in_w + ix] += share;
      }
    }
  }
}

template <class... Tags, int C, int H, int W, int OH, int OW>
void backward(max_pool<Tags...>, shape<C, H, W>, shape<C, OH, OW>, const backward_args& a) {
  static constexpr window_geometry g = make_window_geometry<max_pool<Tags...>, C, H, W, C, OH, OW>();
  max_pool_backward_plain(g, a);
}

template <class... Tags, int C, int H, int W, int OH, int OW>
void backward(avg_pool<Tags...>, shape<C, H, W>, shape<C, OH, OW>, const backward_args& a) {
  static constexpr window_geometry g = make_window_geometry<avg_pool<Tags...>, C, H, W, C, OH, OW>();
  avg_pool_backward_plain(g, a);
}

template <int OH, int OW, int C, int H, int W>
void backward(adaptive_avg_pool<OH, OW>, shape<C, H, W>, shape<C, OH, OW>, const backward_args& a) {
  adaptive_avg_pool_backward_plain(C, H, W, OH, OW, a);
}

/// Chosen only when no layer-specific overload matches.
template <class Layer, class In, class Out>
void backward(Layer, In, Out, const backward_args&) {
  static_assert(sizeof(diag::no_backward_pass<Layer, In>) > 0);
}

/// Runs the backward pass of bound layer B. The call is unqualified, so the overload of a layer defined
/// outside typenet is found in the layer's own namespace, as its forward kernel is (forward_layer).
template <class B>
void backward_layer(const backward_args& a) {
  backward(typename B::layer{}, typename B::input{}, typename B::output{}, a);
}

// ---- batch norm in training mode -------------------------------------------------------------------------
// Forward: per channel, mean and biased variance over the batch and the plane; y = (x - mean) * invstd *
// weight + bias with invstd = 1 / sqrt(var + eps); running_mean and running_var move a step `momentum`
// towards the batch's mean and *unbiased* variance (PyTorch's rule). Backward, with M = batch x plane and
// xhat = (x - mean) * invstd:
//   dbias = sum dy, dweight = sum dy * xhat,
//   dx = weight * invstd / M * (M dy - dbias - xhat * dweight).
// stats receives mean and invstd per channel (2 x channels floats) for the backward pass.

inline void batch_norm_train_forward(int channels, std::int64_t plane, const float* x, float* y, int batch,
                                     float* tensors, double momentum, float* stats) {
  float *weight = tensors, *bias = tensors + channels, *running_mean = tensors + 2 * channels,
        *running_var = tensors + 3 * channels;
  const std::int64_t m = std::int64_t{batch} * plane;
  for (int c = 0; c < channels; ++c) {
    double sum = 0;
    for (int n = 0; n < batch; ++n)
      for (std::int64_t p = 0; p < plane; ++p) sum += x[(std::int64_t{n} * channels + c) * plane + p];
    const double mean = sum / static_cast<double>(m);
    double squares = 0;
    for (int n = 0; n < batch; ++n)
      for (std::int64_t p = 0; p < plane; ++p) {
        const double d = x[(std::int64_t{n} * channels + c) * plane + p] - mean;
        squares += d * d;
      }
    const double var = squares / static_cast<double>(m);
    const double invstd = 1.0 / std::sqrt(var + batch_norm::eps);
    for (int n = 0; n < batch; ++n)
      for (std::int64_t p = 0; p < plane; ++p) {
        const std::int64_t i = (std::int64_t{n} * channels + c) * plane + p;
        y[i] = static_cast<float>((x[i] - mean) * invstd * weight[c] + bias[c]);
      }
    running_mean[c] = static_cast<float>((1 - momentum) * running_mean[c] + momentum * mean);
    running_var[c] =
        static_cast<float>((1 - momentum) * running_var[c] + momentum * squares / static_cast<double>(m - 1));
    stats[c] = static_cast<float>(mean);
    stats[channels + c] = static_cast<float>(invstd);
  }
}

/// dtensors: the layer's gradient slots (dweight, dbias; the running statistics get none).
inline void batch_norm_train_backward(int channels, std::int64_t plane, const float* stats, const float* tensors,
                                      const backward_args& a, float* dtensors) {
  const std::int64_t m = std::int64_t{a.batch} * plane;
  for (int c = 0; c < channels; ++c) {
    const double mean = stats[c], invstd = stats[channels + c];
    double dbias = 0, dweight = 0;
    for (int n = 0; n < a.batch; ++n)
      for (std::int64_t p = 0; p < plane; ++p) {
        const std::int64_t i = (std::int64_t{n} * channels + c) * plane + p;
        dbias += a.dy[i];
        dweight += double{a.dy[i]} * (a.x[i] - mean) * invstd;
      }
    const double scale = double{tensors[c]} * invstd / static_cast<double>(m);
    for (int n = 0; n < a.batch; ++n)
      for (std::int64_t p = 0; p < plane; ++p) {
        const std::int64_t i = (std::int64_t{n} * channels + c) * plane + p;
        const double xhat = (a.x[i] - mean) * invstd;
        a.dx[i] = static_cast<float>(scale * (static_cast<double>(m) * a.dy[i] - dbias - xhat * dweight));
      }
    dtensors[c] += static_cast<float>(dweight);
    dtensors[channels + c] += static_cast<float>(dbias);
  }
}

}  // namespace typenet::kernels::reference
