// typenet/kernels/train_ops.hpp: one element of every layer's training-mode forward and backward pass, as
// host-and-device functions (no CUDA header). exec::cuda's training program (train/cuda.hpp) runs each on
// one GPU thread per element; train/elementwise.hpp runs them in loops on the host, and the tests
// (tests/reference/train_elementwise_test.cpp) hold that host run to exec::reference's training program,
// so the index arithmetic the GPU runs is checked on any machine.
//
// Every gradient element is gathered, never scattered: each function computes one element of its output
// from what it reads, so no two threads write one element and no atomics are needed. The element orders of
// the float sums follow kernels/reference/backward.hpp where that file sums in float (pooling), so those
// gradients are bit-identical; sums the reference forms in double are double here where they are
// reductions over the batch (weight and bias gradients, batch-norm statistics), and of type Acc where they
// are a single output's window (a convolution's or dense layer's output and input gradient): float on the
// GPU, as exec::simd sums them, or double, which repeats the reference's arithmetic term for term.
#pragma once
#include <cmath>
#include <cstdint>

#include "../config.hpp"
#include "../core/geometry.hpp"

namespace typenet::kernels::train_ops {

using ::typenet::window_geometry;

/// Where element i of a batch of C x H x W planes lies: plane index (image * C + channel), row, column.
struct plane_point {
  std::int64_t plane;
  int y, x;
};
TYPENET_HOST_DEVICE inline plane_point locate(std::int64_t i, int h, int w) {
  const std::int64_t rows = i / w;
  return {rows / h, static_cast<int>(rows % h), static_cast<int>(i % w)};
}

/// The outputs (along one axis) whose windows of `kernel` taps, `stride` apart, starting at o * stride - pad,
/// cover input position i: first .. last (empty when last < first).
struct covering {
  int first, last;
};
TYPENET_HOST_DEVICE inline covering windows_over(int i, int kernel, int stride, int pad, int outputs) {
  const int low = i + pad - kernel + 1;  // the smallest o * stride that reaches i
  const int first = low <= 0 ? 0 : (low + stride - 1) / stride;
  const int last = (i + pad) / stride;
  return {first, last < outputs - 1 ? last : outputs - 1};
}

// ---- conv2d: weight [F][C / groups][KH][KW], bias [F] (or null) ----------------------------------------

/// Output element o ([image][filter][row][column]).
template <class Acc>
TYPENET_HOST_DEVICE inline float conv_at(const window_geometry& g, std::int64_t o, const float* x, const float* w,
                                         const float* bias) {
  const plane_point at = locate(o, g.out_h, g.out_w);
  const int f = static_cast<int>(at.plane % g.out_c);
  const std::int64_t n = at.plane / g.out_c;
  const int cg = g.in_c / g.groups, first = f / (g.out_c / g.groups) * cg;
  const float* filter = w + std::int64_t{f} * cg * g.kernel_h * g.kernel_w;
  Acc acc = bias != nullptr ? bias[f] : Acc{0};
  for (int c = 0; c < cg; ++c) {
    const float* plane = x + (n * g.in_c + first + c) * g.in_h * g.in_w;
    const float* taps = filter + c * g.kernel_h * g.kernel_w;
    for (int ky = 0; ky < g.kernel_h; ++ky) {
      const int iy = at.y * g.stride_h - g.pad_h + ky;
      if (iy < 0 || iy >= g.in_h) continue;
      for (int kx = 0; kx < g.kernel_w; ++kx) {
        const int ix = at.x * g.stride_w - g.pad_w + kx;
        if (ix >= 0 && ix < g.in_w) acc += Acc{taps[ky * g.kernel_w + kx]} * Acc{plane[iy * g.in_w + ix]};
      }
    }
  }
  return static_cast<float>(acc);
}

/// d(loss)/d(input) at element i ([image][channel][row][column]): the filters of i's group, over the taps
/// whose window puts i under an output.
template <class Acc>
TYPENET_HOST_DEVICE inline float conv_dx_at(const window_geometry& g, std::int64_t i, const float* dy, const float* w) {
  const plane_point at = locate(i, g.in_h, g.in_w);
  const int c = static_cast<int>(at.plane % g.in_c);
  const std::int64_t n = at.plane / g.in_c;
  const int cg = g.in_c / g.groups, fg = g.out_c / g.groups;
  const int group = c / cg, local = c - group * cg, taps = g.kernel_h * g.kernel_w;
  const std::int64_t out_plane = std::int64_t{g.out_h} * g.out_w;
  Acc acc{0};
  for (int ky = 0; ky < g.kernel_h; ++ky) {
    const int ty = at.y + g.pad_h - ky;
    if (ty < 0 || ty % g.stride_h != 0 || ty / g.stride_h >= g.out_h) continue;
    for (int kx = 0; kx < g.kernel_w; ++kx) {
      const int tx = at.x + g.pad_w - kx;
      if (tx < 0 || tx % g.stride_w != 0 || tx / g.stride_w >= g.out_w) continue;
      const std::int64_t o = std::int64_t{ty / g.stride_h} * g.out_w + tx / g.stride_w;
      for (int f = group * fg; f < (group + 1) * fg; ++f)
        acc += Acc{w[(std::int64_t{f} * cg + local) * taps + ky * g.kernel_w + kx]} *
               Acc{dy[(n * g.out_c + f) * out_plane + o]};
    }
  }
  return static_cast<float>(acc);
}

/// d(loss)/d(weight) at element j ([filter][channel in group][ky][kx]) over the batch, in double.
TYPENET_HOST_DEVICE inline double conv_dw_at(const window_geometry& g, std::int64_t j, const float* x, const float* dy,
                                             int batch) {
  const int kx = static_cast<int>(j % g.kernel_w);
  std::int64_t t = j / g.kernel_w;
  const int ky = static_cast<int>(t % g.kernel_h);
  t /= g.kernel_h;
  const int cg = g.in_c / g.groups;
  const int local = static_cast<int>(t % cg), f = static_cast<int>(t / cg);
  const int c = f / (g.out_c / g.groups) * cg + local;
  const std::int64_t in_plane = std::int64_t{g.in_h} * g.in_w, out_plane = std::int64_t{g.out_h} * g.out_w;
  double sum = 0;
  for (int n = 0; n < batch; ++n) {
    const float* plane = x + (std::int64_t{n} * g.in_c + c) * in_plane;
    const float* grad = dy + (std::int64_t{n} * g.out_c + f) * out_plane;
    for (int oy = 0; oy < g.out_h; ++oy) {
      const int iy = oy * g.stride_h - g.pad_h + ky;
      if (iy < 0 || iy >= g.in_h) continue;
      for (int ox = 0; ox < g.out_w; ++ox) {
        const int ix = ox * g.stride_w - g.pad_w + kx;
        if (ix >= 0 && ix < g.in_w) sum += double{grad[oy * g.out_w + ox]} * double{plane[iy * g.in_w + ix]};
      }
    }
  }
  return sum;
}

/// The sum of dy over the batch and the plane of channel c ([image][channel][pixel] values), in double:
/// a convolution's bias gradient and batch norm's dbias.
TYPENET_HOST_DEVICE inline double channel_sum(int c, int channels, std::int64_t plane, const float* dy, int batch) {
  double sum = 0;
  for (int n = 0; n < batch; ++n) {
    const float* p = dy + (std::int64_t{n} * channels + c) * plane;
    for (std::int64_t k = 0; k < plane; ++k) sum += p[k];
  }
  return sum;
}

// ---- dense: weight [Units][In], bias [Units] (or null) -----------------------------------------------------

template <class Acc>
TYPENET_HOST_DEVICE inline float dense_at(int in, int units, std::int64_t o, const float* x, const float* w,
                                          const float* bias) {
  const std::int64_t n = o / units;
  const int u = static_cast<int>(o % units);
  const float* row = w + std::int64_t{u} * in;
  const float* v = x + n * in;
  Acc acc = bias != nullptr ? bias[u] : Acc{0};
  for (int k = 0; k < in; ++k) acc += Acc{row[k]} * Acc{v[k]};
  return static_cast<float>(acc);
}

template <class Acc>
TYPENET_HOST_DEVICE inline float dense_dx_at(int in, int units, std::int64_t i, const float* dy, const float* w) {
  const std::int64_t n = i / in;
  const int k = static_cast<int>(i % in);
  Acc acc{0};
  for (int u = 0; u < units; ++u) acc += Acc{w[std::int64_t{u} * in + k]} * Acc{dy[n * units + u]};
  return static_cast<float>(acc);
}

TYPENET_HOST_DEVICE inline double dense_dw_at(int in, int units, std::int64_t j, const float* x, const float* dy,
                                              int batch) {
  const std::int64_t u = j / in, k = j % in;
  double sum = 0;
  for (std::int64_t n = 0; n < batch; ++n) sum += double{dy[n * units + u]} * double{x[n * in + k]};
  return sum;
}

TYPENET_HOST_DEVICE inline double dense_db_at(int units, int u, const float* dy, int batch) {
  double sum = 0;
  for (int n = 0; n < batch; ++n) sum += dy[std::int64_t{n} * units + u];
  return sum;
}

// ---- pooling ---------------------------------------------------------------------------------------------

/// The maximum of output (oy, ox)'s window, clipped to the plane, and where it is (row-major index in the
/// plane): the first maximum in row-major order, or the first NaN (max pooling's rule, forward and backward).
/// A window that holds nothing above -inf reports -inf at its first position, as the reference does.
struct window_max {
  float value;
  int at;
};
TYPENET_HOST_DEVICE inline window_max max_of_window(const window_geometry& g, const float* plane, int oy, int ox) {
  const int y0 = oy * g.stride_h - g.pad_h < 0 ? 0 : oy * g.stride_h - g.pad_h;
  const int y1 = oy * g.stride_h - g.pad_h + g.kernel_h < g.in_h ? oy * g.stride_h - g.pad_h + g.kernel_h : g.in_h;
  const int x0 = ox * g.stride_w - g.pad_w < 0 ? 0 : ox * g.stride_w - g.pad_w;
  const int x1 = ox * g.stride_w - g.pad_w + g.kernel_w < g.in_w ? ox * g.stride_w - g.pad_w + g.kernel_w : g.in_w;
  window_max best{-INFINITY, y0 * g.in_w + x0};
  for (int iy = y0; iy < y1; ++iy)
    for (int ix = x0; ix < x1; ++ix) {
      const float v = plane[iy * g.in_w + ix];
      if (v != v) return {v, iy * g.in_w + ix};
      if (v > best.value) best = {v, iy * g.in_w + ix};
    }
  return best;
}

TYPENET_HOST_DEVICE inline float max_pool_at(const window_geometry& g, std::int64_t o, const float* x) {
  const plane_point at = locate(o, g.out_h, g.out_w);
  return max_of_window(g, x + at.plane * g.in_h * g.in_w, at.y, at.x).value;
}

/// The gradient reaching input element i: dy of every window whose maximum it is, in output order.
TYPENET_HOST_DEVICE inline float max_pool_dx_at(const window_geometry& g, std::int64_t i, const float* x,
                                                const float* dy) {
  const plane_point at = locate(i, g.in_h, g.in_w);
  const float* plane = x + at.plane * g.in_h * g.in_w;
  const float* grad = dy + at.plane * g.out_h * g.out_w;
  const int self = at.y * g.in_w + at.x;
  const covering rows = windows_over(at.y, g.kernel_h, g.stride_h, g.pad_h, g.out_h);
  const covering cols = windows_over(at.x, g.kernel_w, g.stride_w, g.pad_w, g.out_w);
  float acc = 0.f;
  for (int oy = rows.first; oy <= rows.last; ++oy)
    for (int ox = cols.first; ox <= cols.last; ++ox)
      if (max_of_window(g, plane, oy, ox).at == self) acc += grad[oy * g.out_w + ox];
  return acc;
}

/// avg_pool's divisor for output (oy, ox): the window clipped to the padded input (count_include_pad).
TYPENET_HOST_DEVICE inline int avg_divisor(const window_geometry& g, int oy, int ox) {
  const int ys = oy * g.stride_h - g.pad_h, xs = ox * g.stride_w - g.pad_w;
  const int ye = ys + g.kernel_h < g.in_h + g.pad_h ? ys + g.kernel_h : g.in_h + g.pad_h;
  const int xe = xs + g.kernel_w < g.in_w + g.pad_w ? xs + g.kernel_w : g.in_w + g.pad_w;
  return (ye - ys) * (xe - xs);
}

TYPENET_HOST_DEVICE inline float avg_pool_at(const window_geometry& g, std::int64_t o, const float* x) {
  const plane_point at = locate(o, g.out_h, g.out_w);
  const float* plane = x + at.plane * g.in_h * g.in_w;
  const int ys = at.y * g.stride_h - g.pad_h, xs = at.x * g.stride_w - g.pad_w;
  double sum = 0;
  for (int iy = ys < 0 ? 0 : ys; iy < ys + g.kernel_h && iy < g.in_h; ++iy)
    for (int ix = xs < 0 ? 0 : xs; ix < xs + g.kernel_w && ix < g.in_w; ++ix) sum += plane[iy * g.in_w + ix];
  return static_cast<float>(sum / avg_divisor(g, at.y, at.x));
}

TYPENET_HOST_DEVICE inline float avg_pool_dx_at(const window_geometry& g, std::int64_t i, const float* dy) {
  const plane_point at = locate(i, g.in_h, g.in_w);
  const float* grad = dy + at.plane * g.out_h * g.out_w;
  const covering rows = windows_over(at.y, g.kernel_h, g.stride_h, g.pad_h, g.out_h);
  const covering cols = windows_over(at.x, g.kernel_w, g.stride_w, g.pad_w, g.out_w);
  float acc = 0.f;
  for (int oy = rows.first; oy <= rows.last; ++oy)
    for (int ox = cols.first; ox <= cols.last; ++ox)
      acc += grad[oy * g.out_w + ox] / static_cast<float>(avg_divisor(g, oy, ox));
  return acc;
}

/// adaptive_avg_pool's window along one axis: floor(o * in / out) .. ceil((o + 1) * in / out) - 1.
TYPENET_HOST_DEVICE inline int adaptive_begin(int o, int in, int out) { return o * in / out; }
TYPENET_HOST_DEVICE inline int adaptive_end(int o, int in, int out) { return ((o + 1) * in + out - 1) / out; }

TYPENET_HOST_DEVICE inline float adaptive_pool_at(int in_h, int in_w, int out_h, int out_w, std::int64_t o,
                                                  const float* x) {
  const plane_point at = locate(o, out_h, out_w);
  const float* plane = x + at.plane * in_h * in_w;
  const int y0 = adaptive_begin(at.y, in_h, out_h), y1 = adaptive_end(at.y, in_h, out_h);
  const int x0 = adaptive_begin(at.x, in_w, out_w), x1 = adaptive_end(at.x, in_w, out_w);
  double sum = 0;
  for (int iy = y0; iy < y1; ++iy)
    for (int ix = x0; ix < x1; ++ix) sum += plane[iy * in_w + ix];
  return static_cast<float>(sum / ((y1 - y0) * (x1 - x0)));
}

TYPENET_HOST_DEVICE inline float adaptive_pool_dx_at(int in_h, int in_w, int out_h, int out_w, std::int64_t i,
                                                     const float* dy) {
  const plane_point at = locate(i, in_h, in_w);
  const float* grad = dy + at.plane * out_h * out_w;
  float acc = 0.f;
  for (int oy = 0; oy < out_h; ++oy) {
    const int y0 = adaptive_begin(oy, in_h, out_h), y1 = adaptive_end(oy, in_h, out_h);
    if (at.y < y0 || at.y >= y1) continue;
    for (int ox = 0; ox < out_w; ++ox) {
      const int x0 = adaptive_begin(ox, in_w, out_w), x1 = adaptive_end(ox, in_w, out_w);
      if (at.x >= x0 && at.x < x1) acc += grad[oy * out_w + ox] / static_cast<float>((y1 - y0) * (x1 - x0));
    }
  }
  return acc;
}

// ---- local response normalisation (kernels/reference/norm.hpp's formula, in double) -----------------------

struct lrn_constants {
  int size;
  double alpha, beta, k;
  int channels;
  std::int64_t plane;
};

/// k + alpha / size * (sum of squares over channel c's window) at (image base, pixel p).
TYPENET_HOST_DEVICE inline double lrn_scale(const lrn_constants& l, const float* x, std::int64_t base, std::int64_t p,
                                            int c) {
  const int c0 = c - l.size / 2 < 0 ? 0 : c - l.size / 2;
  const int c1 = c + (l.size - 1) / 2 < l.channels - 1 ? c + (l.size - 1) / 2 : l.channels - 1;
  double squares = 0;
  for (int j = c0; j <= c1; ++j) {
    const double v = x[base + j * l.plane + p];
    squares += v * v;
  }
  return l.k + l.alpha / l.size * squares;
}

TYPENET_HOST_DEVICE inline float lrn_at(const lrn_constants& l, std::int64_t o, const float* x) {
  const std::int64_t p = o % l.plane, t = o / l.plane;
  const int c = static_cast<int>(t % l.channels);
  const std::int64_t base = (t / l.channels) * l.channels * l.plane;
  return static_cast<float>(x[o] / std::pow(lrn_scale(l, x, base, p, c), l.beta));
}

TYPENET_HOST_DEVICE inline float lrn_dx_at(const lrn_constants& l, std::int64_t i, const float* x, const float* dy) {
  const std::int64_t p = i % l.plane, t = i / l.plane;
  const int j = static_cast<int>(t % l.channels);
  const std::int64_t base = (t / l.channels) * l.channels * l.plane;
  const int c0 = j - (l.size - 1) / 2 < 0 ? 0 : j - (l.size - 1) / 2;
  const int c1 = j + l.size / 2 < l.channels - 1 ? j + l.size / 2 : l.channels - 1;
  double across = 0;
  for (int c = c0; c <= c1; ++c)
    across += double{dy[base + c * l.plane + p]} * double{x[base + c * l.plane + p]} *
              std::pow(lrn_scale(l, x, base, p, c), -l.beta - 1);
  const double direct = double{dy[i]} * std::pow(lrn_scale(l, x, base, p, j), -l.beta);
  return static_cast<float>(direct - 2 * l.alpha * l.beta / l.size * double{x[i]} * across);
}

// ---- activations and softmax -------------------------------------------------------------------------------

TYPENET_HOST_DEVICE inline float relu_at(float v) { return v < 0.f ? 0.f : v; }
TYPENET_HOST_DEVICE inline float relu6_at(float v) { return v < 0.f ? 0.f : (v > 6.f ? 6.f : v); }
TYPENET_HOST_DEVICE inline float relu_dx(float y, float dy) { return y > 0.f ? dy : 0.f; }
TYPENET_HOST_DEVICE inline float relu6_dx(float x, float dy) { return x > 0.f && x < 6.f ? dy : 0.f; }

/// A softmax inside the network (a trailing one is folded into the loss): row n of `units` values, in double,
/// a NaN anywhere making the row NaN (kernels/reference/activation.hpp).
TYPENET_HOST_DEVICE inline void softmax_row(int units, std::int64_t n, const float* x, float* y) {
  const float* row = x + n * units;
  float* out = y + n * units;
  double top = row[0];
  bool has_nan = false;
  for (int i = 0; i < units; ++i) {
    if (row[i] != row[i]) has_nan = true;
    if (row[i] > top) top = row[i];
  }
  double sum = 0;
  for (int i = 0; i < units; ++i) sum += std::exp(double{row[i]} - top);
  for (int i = 0; i < units; ++i) out[i] = has_nan ? NAN : static_cast<float>(std::exp(double{row[i]} - top) / sum);
}

TYPENET_HOST_DEVICE inline void softmax_dx_row(int units, std::int64_t n, const float* y, const float* dy, float* dx) {
  const float *out = y + n * units, *grad = dy + n * units;
  double dot = 0;
  for (int i = 0; i < units; ++i) dot += double{grad[i]} * double{out[i]};
  for (int i = 0; i < units; ++i) dx[n * units + i] = static_cast<float>(double{out[i]} * (grad[i] - dot));
}

// ---- dropout ---------------------------------------------------------------------------------------------

/// Element i of the dropout mask drawn from generator state `stream` (train::detail::mask_stream): the
/// (i + 1)-th output of splitmix64 from that state, as the host program draws them one after another; 0
/// with probability p, else `keep` = 1 / (1 - p).
TYPENET_HOST_DEVICE inline float dropout_mask_at(std::uint64_t stream, std::int64_t i, double p, float keep) {
  std::uint64_t z = stream + static_cast<std::uint64_t>(i + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  const double u = static_cast<double>(z >> 11) * 0x1.0p-53;
  return u < p ? 0.f : keep;
}

// ---- batch norm in training mode (kernels/reference/backward.hpp's formulas) --------------------------------
// The per-channel sums are split into `parts` slices of the channel's batch x plane values, each summed in
// double by one element (partials[c * parts + part]), then added per channel: one thread per slice on a GPU.

/// Value k (0 <= k < batch x plane) of channel c.
TYPENET_HOST_DEVICE inline std::int64_t channel_value(int c, int channels, std::int64_t plane, std::int64_t k) {
  return (k / plane * channels + c) * plane + k % plane;
}

/// Slice `part` of channel c: [begin, end) of its batch x plane values.
struct slice {
  std::int64_t begin, end;
};
TYPENET_HOST_DEVICE inline slice slice_of(int part, int parts, std::int64_t m) {
  return {m * part / parts, m * (part + 1) / parts};
}

/// The sum over a slice of x (mean == nullptr) or of (x - mean[c])^2.
TYPENET_HOST_DEVICE inline double bn_partial(std::int64_t q, int parts, int channels, std::int64_t plane, int batch,
                                             const float* x, const double* mean) {
  const int c = static_cast<int>(q / parts);
  const slice s = slice_of(static_cast<int>(q % parts), parts, std::int64_t{batch} * plane);
  double sum = 0;
  for (std::int64_t k = s.begin; k < s.end; ++k) {
    const double v = x[channel_value(c, channels, plane, k)];
    sum += mean == nullptr ? v : (v - mean[c]) * (v - mean[c]);
  }
  return sum;
}

/// The two sums of the backward pass over a slice: of dy (into dbias) and of dy * xhat (into dweight).
TYPENET_HOST_DEVICE inline void bn_backward_partial(std::int64_t q, int parts, int channels, std::int64_t plane,
                                                    int batch, const float* x, const float* dy, const float* stats,
                                                    double* dbias, double* dweight) {
  const int c = static_cast<int>(q / parts);
  const slice s = slice_of(static_cast<int>(q % parts), parts, std::int64_t{batch} * plane);
  const double mean = stats[c], invstd = stats[channels + c];
  double sb = 0, sw = 0;
  for (std::int64_t k = s.begin; k < s.end; ++k) {
    const std::int64_t i = channel_value(c, channels, plane, k);
    sb += dy[i];
    sw += double{dy[i]} * (x[i] - mean) * invstd;
  }
  dbias[q] = sb;
  dweight[q] = sw;
}

TYPENET_HOST_DEVICE inline double sum_parts(const double* partials, int c, int parts) {
  double sum = 0;
  for (int k = 0; k < parts; ++k) sum += partials[c * parts + k];
  return sum;
}

}  // namespace typenet::kernels::train_ops
