// typenet/train/elementwise.hpp: a training program in which every layer, forward and backward, and every
// other operation of the step (joins, dropout, batch norm) is a loop over output elements, each element one
// call of kernels/train_ops.hpp, run by an executor:
//   - exec::cuda's training program (train/cuda.hpp) runs each loop as a CUDA kernel, one thread per
//     element, with the values, parameters and gradients in device memory;
//   - host_executor runs the same loops on the CPU, one element after another, with its own copies of the
//     parameters and input as if they were on a device. The tests hold that run to exec::reference's
//     trainer on networks of every layer kind and block (tests/reference/train_elementwise_test.cpp), so
//     the program the GPU runs is checked, but for the launches themselves, on any machine.
// A layer without element functions (layer_kind::other: a layer written outside typenet, with its reference
// kernel and backward pass) runs those on the host, as exec::cuda's inference runs it: its input (and, going
// back, its output, output gradient and parameter gradients) copied to host memory, the results copied back;
// fallback_layers() names such layers.
// The step is exec::reference's walk (train/reference.hpp: same memory plan, loss, dropout masks). A step
// uploads the parameters and the input, and downloads the gradients, batch norm's running statistics and
// the logits (the loss and its gradient are computed on the host, in double, like the other policies'):
// the caller's params stay the one copy that the optimiser (train/sgd.hpp) updates.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/graph.hpp"
#include "../kernels/train_ops.hpp"
#include "reference.hpp"

namespace typenet::train {

namespace detail {

namespace ops = kernels::train_ops;

/// Runs the loops on the CPU (see the file comment). Acc: the type of a convolution's or dense layer's
/// window sums (train_ops.hpp). Parts: batch norm's reduction slices per channel; 1 sums in the reference's
/// order, the tests also run the CUDA executor's 64 and an odd count (empty slices where a channel has fewer
/// values than slices).
template <class Acc = float, int Parts = 1>
struct host_executor {
  static constexpr const char* name = "elementwise (host)";
  static constexpr int reduction_parts = Parts;
  using accumulator = Acc;
  template <class T>
  using buffer = std::unique_ptr<T[]>;
  template <class T>
  static buffer<T> allocate(std::int64_t n) {
    return std::make_unique<T[]>(static_cast<std::size_t>(std::max<std::int64_t>(n, 1)));
  }
  template <class F>
  static void for_each(std::int64_t n, const F& f) {
    for (std::int64_t i = 0; i < n; ++i) f(i);
  }
  static void to_device(float* device, const float* host, std::int64_t n) { std::copy(host, host + n, device); }
  static void to_host(float* host, const float* device, std::int64_t n) { std::copy(device, device + n, host); }
  static void to_host_later(float* host, const float* device, std::int64_t n) { to_host(host, device, n); }
  static void wait() {}
};

// ---- one element of each loop (functors, so that nvcc needs no extended lambdas) --------------------------

template <class Acc>
struct conv_forward_op {
  window_geometry g;
  const float *x, *w, *bias;
  float* y;
  TYPENET_HOST_DEVICE void operator()(std::int64_t o) const { y[o] = ops::conv_at<Acc>(g, o, x, w, bias); }
};
template <class Acc>
struct conv_dx_op {
  window_geometry g;
  const float *dy, *w;
  float* dx;
  TYPENET_HOST_DEVICE void operator()(std::int64_t i) const { dx[i] = ops::conv_dx_at<Acc>(g, i, dy, w); }
};
/// Elements 0 .. weights-1: the weight gradient; from `weights` on: the bias gradient.
struct conv_dw_op {
  window_geometry g;
  const float *x, *dy;
  int batch;
  std::int64_t weights;
  float *dw, *db;
  TYPENET_HOST_DEVICE void operator()(std::int64_t j) const {
    if (j < weights)
      dw[j] += static_cast<float>(ops::conv_dw_at(g, j, x, dy, batch));
    else
      db[j - weights] += static_cast<float>(
          ops::channel_sum(static_cast<int>(j - weights), g.out_c, std::int64_t{g.out_h} * g.out_w, dy, batch));
  }
};
template <class Acc>
struct dense_forward_op {
  int in, units;
  const float *x, *w, *bias;
  float* y;
  TYPENET_HOST_DEVICE void operator()(std::int64_t o) const { y[o] = ops::dense_at<Acc>(in, units, o, x, w, bias); }
};
template <class Acc>
struct dense_dx_op {
  int in, units;
  const float *dy, *w;
  float* dx;
  TYPENET_HOST_DEVICE void operator()(std::int64_t i) const { dx[i] = ops::dense_dx_at<Acc>(in, units, i, dy, w); }
};
struct dense_dw_op {
  int in, units;
  const float *x, *dy;
  int batch;
  float *dw, *db;
  TYPENET_HOST_DEVICE void operator()(std::int64_t j) const {
    const std::int64_t weights = std::int64_t{in} * units;
    if (j < weights)
      dw[j] += static_cast<float>(ops::dense_dw_at(in, units, j, x, dy, batch));
    else
      db[j - weights] += static_cast<float>(ops::dense_db_at(units, static_cast<int>(j - weights), dy, batch));
  }
};
struct max_pool_op {
  window_geometry g;
  const float* x;
  float* y;
  TYPENET_HOST_DEVICE void operator()(std::int64_t o) const { y[o] = ops::max_pool_at(g, o, x); }
};
struct max_pool_dx_op {
  window_geometry g;
  const float *x, *dy;
  float* dx;
  TYPENET_HOST_DEVICE void operator()(std::int64_t i) const { dx[i] = ops::max_pool_dx_at(g, i, x, dy); }
};
struct avg_pool_op {
  window_geometry g;
  const float* x;
  float* y;
  TYPENET_HOST_DEVICE void operator()(std::int64_t o) const { y[o] = ops::avg_pool_at(g, o, x); }
};
struct avg_pool_dx_op {
  window_geometry g;
  const float* dy;
  float* dx;
  TYPENET_HOST_DEVICE void operator()(std::int64_t i) const { dx[i] = ops::avg_pool_dx_at(g, i, dy); }
};
struct adaptive_pool_op {
  int in_h, in_w, out_h, out_w;
  const float* x;
  float* y;
  TYPENET_HOST_DEVICE void operator()(std::int64_t o) const {
    y[o] = ops::adaptive_pool_at(in_h, in_w, out_h, out_w, o, x);
  }
};
struct adaptive_pool_dx_op {
  int in_h, in_w, out_h, out_w;
  const float* dy;
  float* dx;
  TYPENET_HOST_DEVICE void operator()(std::int64_t i) const {
    dx[i] = ops::adaptive_pool_dx_at(in_h, in_w, out_h, out_w, i, dy);
  }
};
struct lrn_op {
  ops::lrn_constants l;
  const float* x;
  float* y;
  TYPENET_HOST_DEVICE void operator()(std::int64_t o) const { y[o] = ops::lrn_at(l, o, x); }
};
struct lrn_dx_op {
  ops::lrn_constants l;
  const float *x, *dy;
  float* dx;
  TYPENET_HOST_DEVICE void operator()(std::int64_t i) const { dx[i] = ops::lrn_dx_at(l, i, x, dy); }
};
template <bool Six>
struct activation_op {
  const float* x;
  float* y;
  TYPENET_HOST_DEVICE void operator()(std::int64_t i) const { y[i] = Six ? ops::relu6_at(x[i]) : ops::relu_at(x[i]); }
};
/// ReLU's gradient gates on the output, ReLU6's on the input (kernels/reference/backward.hpp).
template <bool Six>
struct activation_dx_op {
  const float *gate, *dy;
  float* dx;
  TYPENET_HOST_DEVICE void operator()(std::int64_t i) const {
    dx[i] = Six ? ops::relu6_dx(gate[i], dy[i]) : ops::relu_dx(gate[i], dy[i]);
  }
};
struct softmax_op {  // one element per image
  int units;
  const float* x;
  float* y;
  TYPENET_HOST_DEVICE void operator()(std::int64_t n) const { ops::softmax_row(units, n, x, y); }
};
struct softmax_dx_op {
  int units;
  const float *y, *dy;
  float* dx;
  TYPENET_HOST_DEVICE void operator()(std::int64_t n) const { ops::softmax_dx_row(units, n, y, dy, dx); }
};
struct fill_op {
  float* y;
  float v;
  TYPENET_HOST_DEVICE void operator()(std::int64_t i) const { y[i] = v; }
};
struct copy_op {
  const float* x;
  float* y;
  TYPENET_HOST_DEVICE void operator()(std::int64_t i) const { y[i] = x[i]; }
};
struct add_op {
  const float *a, *b;
  float* y;
  TYPENET_HOST_DEVICE void operator()(std::int64_t i) const { y[i] = a[i] + b[i]; }
};
/// Element o of the part (image o / floats): into (Into) or out of a joined value of `joined` floats per image.
template <bool Into>
struct concat_op {
  const float* from;
  float* to;
  std::int64_t floats, at, joined;
  TYPENET_HOST_DEVICE void operator()(std::int64_t o) const {
    const std::int64_t j = o / floats * joined + at + o % floats;
    if (Into)
      to[j] = from[o];
    else
      to[o] = from[j];
  }
};
struct dropout_op {
  const float* x;
  float *y, *mask;
  std::uint64_t stream;
  double p;
  float keep;
  bool active;
  TYPENET_HOST_DEVICE void operator()(std::int64_t i) const {
    mask[i] = active ? ops::dropout_mask_at(stream, i, p, keep) : 1.f;
    y[i] = active ? x[i] * mask[i] : x[i];
  }
};
struct scale_op {  // dropout's backward: dx = dy * mask
  const float *dy, *mask;
  float* dx;
  TYPENET_HOST_DEVICE void operator()(std::int64_t i) const { dx[i] = dy[i] * mask[i]; }
};

// Batch norm in training mode: kernels/reference/backward.hpp's formulas, the per-channel sums in slices
// (train_ops.hpp). `scratch` holds parts partial sums per channel (two sets) and the channel's mean and
// 1/std (or dbias and dweight) in double.
struct bn_sum_op {  // one element per (channel, slice): the sum of x, or of (x - mean)^2 once mean is known
  int parts, channels;
  std::int64_t plane;
  int batch;
  const float* x;
  const double* mean;
  double* partials;
  TYPENET_HOST_DEVICE void operator()(std::int64_t q) const {
    partials[q] = ops::bn_partial(q, parts, channels, plane, batch, x, mean);
  }
};
struct bn_mean_op {
  int parts;
  double m;
  const double* partials;
  double* mean;
  TYPENET_HOST_DEVICE void operator()(std::int64_t c) const {
    mean[c] = ops::sum_parts(partials, static_cast<int>(c), parts) / m;
  }
};
struct bn_statistics_op {  // 1/std, the running statistics (PyTorch's rule: the unbiased variance), stats
  int parts, channels;
  double m, momentum;
  const double* partials;
  double* moments;  // mean [channels], then 1/std [channels]
  float *tensors, *stats;
  TYPENET_HOST_DEVICE void operator()(std::int64_t c) const {
    const double squares = ops::sum_parts(partials, static_cast<int>(c), parts), mean = moments[c];
    const double invstd = 1.0 / std::sqrt(squares / m + batch_norm::eps);
    moments[channels + c] = invstd;
    float *running_mean = tensors + 2 * channels, *running_var = tensors + 3 * channels;
    running_mean[c] = static_cast<float>((1 - momentum) * running_mean[c] + momentum * mean);
    running_var[c] = static_cast<float>((1 - momentum) * running_var[c] + momentum * squares / (m - 1));
    stats[c] = static_cast<float>(mean);
    stats[channels + c] = static_cast<float>(invstd);
  }
};
struct bn_apply_op {
  int channels;
  std::int64_t plane;
  const float* x;
  const double* moments;
  const float* tensors;
  float* y;
  TYPENET_HOST_DEVICE void operator()(std::int64_t i) const {
    const int c = static_cast<int>(i / plane % channels);
    y[i] = static_cast<float>((x[i] - moments[c]) * moments[channels + c] * tensors[c] + tensors[channels + c]);
  }
};
struct bn_backward_sum_op {
  int parts, channels;
  std::int64_t plane;
  int batch;
  const float *x, *dy, *stats;
  double *dbias, *dweight;
  TYPENET_HOST_DEVICE void operator()(std::int64_t q) const {
    ops::bn_backward_partial(q, parts, channels, plane, batch, x, dy, stats, dbias, dweight);
  }
};
struct bn_gradient_op {  // the channel's dbias and dweight: into the gradients and `totals`
  int parts, channels;
  const double *dbias, *dweight;
  double* totals;  // dbias [channels], then dweight [channels]
  float* dtensors;
  TYPENET_HOST_DEVICE void operator()(std::int64_t c) const {
    const double b = ops::sum_parts(dbias, static_cast<int>(c), parts);
    const double w = ops::sum_parts(dweight, static_cast<int>(c), parts);
    totals[c] = b;
    totals[channels + c] = w;
    dtensors[c] += static_cast<float>(w);
    dtensors[channels + c] += static_cast<float>(b);
  }
};
struct bn_dx_op {
  int channels;
  std::int64_t plane;
  double m;
  const float *x, *dy, *stats, *tensors;
  const double* totals;
  float* dx;
  TYPENET_HOST_DEVICE void operator()(std::int64_t i) const {
    const int c = static_cast<int>(i / plane % channels);
    const double mean = stats[c], invstd = stats[channels + c];
    const double xhat = (x[i] - mean) * invstd;
    dx[i] = static_cast<float>(double{tensors[c]} * invstd / m * (m * dy[i] - totals[c] - xhat * totals[channels + c]));
  }
};

/// The largest batch norm's channel count among the trained layers (0 without batch norm).
template <Network Net>
inline constexpr int widest_batch_norm = [] {
  int c = 0;
  for_each_leaf(trained_nodes<Net>{}, [&]<class L>() {
    if constexpr (layer_kind_of<typename L::layer> == layer_kind::batch_norm)
      c = std::max(c, static_cast<int>(L::output::dims[0]));
  });
  return c;
}();

/// Whether the element-wise program runs trained leaf L on the host: a layer without element functions
/// (layer_kind::other, e.g. a layer written outside typenet) runs its exec::reference kernel and backward pass
/// there, its values copied from the executor's memory and back.
template <class L>
inline constexpr bool runs_on_host = layer_kind_of<typename L::layer> == layer_kind::other;

/// The host floats such layers need: per image, a backward pass's x, y, dy and dx (the forward pass uses
/// the first two), and the largest one's parameter gradients.
struct host_staging {
  std::int64_t per_image = 0, gradients = 0;
};
template <Network Net>
inline constexpr host_staging host_staging_of = [] {
  host_staging s;
  for_each_leaf(trained_nodes<Net>{}, [&]<class L>() {
    if constexpr (runs_on_host<L>) {
      s.per_image = std::max<std::int64_t>(s.per_image, 2 * (L::input::size + L::output::size));
      s.gradients = std::max<std::int64_t>(s.gradients, L::weights + L::biases);
    }
  });
  return s;
}();

/// The Kernels of training_program (train/reference.hpp) for an executor: see the file comment.
template <Network Net, class Exec>
class elementwise_kernels {
 public:
  static constexpr const char* name = Exec::name;
  using buffer = typename Exec::template buffer<float>;
  static constexpr int classes = static_cast<int>(trained_logits<Net>::size);
  static constexpr int parts = Exec::reduction_parts;
  using acc = typename Exec::accumulator;

  elementwise_kernels(int max_batch, Exec exec)
      : exec_(std::move(exec)),
        params_(exec_.template allocate<float>(params<Net>::count)),
        grads_(exec_.template allocate<float>(params<Net>::count)),
        input_(exec_.template allocate<float>(std::int64_t{max_batch} * Net::input_shape::size)),
        moments_(exec_.template allocate<double>(std::int64_t{2} * widest_batch_norm<Net> * (parts + 1))),
        logits_(static_cast<std::size_t>(max_batch) * classes),
        dlogits_(logits_.size()),
        mirrors_{std::vector<float>(logits_.size()),
                 std::vector<float>(static_cast<std::size_t>(max_batch) * Net::input_shape::size)},
        host_(static_cast<std::size_t>(max_batch * host_staging_of<Net>.per_image + host_staging_of<Net>.gradients)) {}

  /// The keys of the layers this program runs on the host (runs_on_host), e.g. "1 (halve)", spelled as an
  /// inference program's fallback_layers().
  static std::vector<std::string> fallback_layers() {
    std::vector<std::string> names;
    for_each_leaf(trained_nodes<Net>{}, [&]<class L>() {
      if constexpr (runs_on_host<L>)
        names.push_back(std::string(typenet::detail::key_text<typename L::key>::view()) + " (" + L::layer::name() +
                        ")");
    });
    return names;
  }

  Exec& executor() noexcept { return exec_; }
  buffer allocate(std::int64_t floats) { return exec_.template allocate<float>(floats); }

  // ---- the step's entry and exit ----
  const float* begin_step(const float* in, int batch) {
    exec_.to_device(input_.get(), in, std::int64_t{batch} * Net::input_shape::size);
    return input_.get();
  }
  float* weights(params<Net>& p) {
    host_params_ = p.data();  // what the layers run on the host read: the values just uploaded
    exec_.to_device(params_.get(), p.data(), params<Net>::count);
    return params_.get();
  }
  float* gradients(params<Net>&) { return grads_.get(); }
  void end_step(params<Net>& p, params<Net>& g) {
    exec_.to_host_later(g.data(), grads_.get(), params<Net>::count);
    for_each_leaf(trained_nodes<Net>{}, [&]<class L>() {
      if constexpr (layer_kind_of<typename L::layer> == layer_kind::batch_norm) {
        constexpr std::int64_t c = L::output::dims[0], running = L::weight_offset + 2 * c;
        exec_.to_host_later(p.data() + running, params_.get() + running, 2 * c);
      }
    });
    exec_.wait();  // one wait for all the copies
  }
  const float* host_view(const float* p, std::int64_t n, int slot) const {
    std::vector<float>& mirror = mirrors_[slot];
    exec_.to_host(mirror.data(), p, n);
    return mirror.data();
  }

  // ---- the program's own operations ----
  void zero(float* p, std::int64_t n) { exec_.for_each(n, fill_op{p, 0.f}); }
  void copy(const float* x, float* y, std::int64_t n) { exec_.for_each(n, copy_op{x, y}); }
  void add(std::int64_t n, const float* a, const float* b, float* out) { exec_.for_each(n, add_op{a, b, out}); }
  void concat_part(const float* in, std::int64_t floats, float* joined_out, std::int64_t at, std::int64_t joined,
                   int batch) {
    exec_.for_each(batch * floats, concat_op<true>{in, joined_out, floats, at, joined});
  }
  void concat_slice(const float* joined_in, std::int64_t joined, std::int64_t at, std::int64_t floats, float* out,
                    int batch) {
    exec_.for_each(batch * floats, concat_op<false>{joined_in, out, floats, at, joined});
  }
  void dropout_forward(const float* x, float* y, float* mask, std::int64_t count, int percent, std::uint64_t stream,
                       bool active) {
    const double p = percent / 100.0;
    exec_.for_each(count, dropout_op{x, y, mask, stream, p, static_cast<float>(1.0 / (1.0 - p)), active});
  }
  void dropout_backward(const float* dy, const float* mask, float* dx, std::int64_t count) {
    exec_.for_each(count, scale_op{dy, mask, dx});
  }
  void batch_norm_forward(int channels, std::int64_t plane, const float* x, float* y, int batch, float* tensors,
                          double momentum, float* stats) {
    const double m = static_cast<double>(batch * plane);
    double *partials = moments_.get(), *moments = partials + std::int64_t{channels} * parts;
    exec_.for_each(std::int64_t{channels} * parts, bn_sum_op{parts, channels, plane, batch, x, nullptr, partials});
    exec_.for_each(channels, bn_mean_op{parts, m, partials, moments});
    exec_.for_each(std::int64_t{channels} * parts, bn_sum_op{parts, channels, plane, batch, x, moments, partials});
    exec_.for_each(channels, bn_statistics_op{parts, channels, m, momentum, partials, moments, tensors, stats});
    exec_.for_each(batch * channels * plane, bn_apply_op{channels, plane, x, moments, tensors, y});
  }
  void batch_norm_backward(int channels, std::int64_t plane, const float* stats, const float* tensors,
                           const kernels::reference::backward_args& a, float* dtensors) {
    const double m = static_cast<double>(a.batch * plane);
    double *dbias = moments_.get(), *dweight = dbias + std::int64_t{channels} * parts,
           *totals = dweight + std::int64_t{channels} * parts;
    exec_.for_each(std::int64_t{channels} * parts,
                   bn_backward_sum_op{parts, channels, plane, a.batch, a.x, a.dy, stats, dbias, dweight});
    exec_.for_each(channels, bn_gradient_op{parts, channels, dbias, dweight, totals, dtensors});
    exec_.for_each(a.batch * channels * plane, bn_dx_op{channels, plane, m, a.x, a.dy, stats, tensors, totals, a.dx});
  }
  /// The loss and its gradient on the host, in double (train/loss.hpp), from the downloaded logits.
  double loss(const float* z, const std::int64_t* labels, int batch, int n_classes, float* dz) {
    const std::int64_t n = std::int64_t{batch} * n_classes;
    exec_.to_host(logits_.data(), z, n);
    const double value = softmax_cross_entropy(logits_.data(), labels, batch, n_classes, dlogits_.data());
    exec_.to_device(dz, dlogits_.data(), n);
    return value;
  }

  // ---- the layers ----
  template <class L>
  void forward(const float* x, float* y, int batch, const float* p) {
    using layer = typename L::layer;
    constexpr layer_kind kind = layer_kind_of<layer>;
    const std::int64_t count = std::int64_t{batch} * L::output::size;
    const float* w = p + L::weight_offset;
    const float* bias = L::biases > 0 ? p + L::bias_offset : nullptr;
    if constexpr (kind == layer_kind::conv) {
      exec_.for_each(count, conv_forward_op<acc>{geometry<L>(), x, w, bias, y});
    } else if constexpr (kind == layer_kind::dense) {
      exec_.for_each(count, dense_forward_op<acc>{L::input::size, L::output::size, x, w, bias, y});
    } else if constexpr (kind == layer_kind::relu || kind == layer_kind::relu6) {
      exec_.for_each(count, activation_op<kind == layer_kind::relu6>{x, y});
    } else if constexpr (kind == layer_kind::pool) {
      if constexpr (layer::kind == pool_kind::max)
        exec_.for_each(count, max_pool_op{geometry<L>(), x, y});
      else
        exec_.for_each(count, avg_pool_op{geometry<L>(), x, y});
    } else if constexpr (kind == layer_kind::adaptive_pool) {
      exec_.for_each(
          count, adaptive_pool_op{L::input::dims[1], L::input::dims[2], L::output::dims[1], L::output::dims[2], x, y});
    } else if constexpr (kind == layer_kind::lrn) {
      exec_.for_each(count, lrn_op{lrn_of<L>(), x, y});
    } else if constexpr (kind == layer_kind::softmax) {
      exec_.for_each(batch, softmax_op{L::output::size, x, y});
    } else {
      static_assert(runs_on_host<L>);
      const std::int64_t inputs = std::int64_t{batch} * L::input::size;
      float *hx = host_.data(), *hy = hx + inputs;
      exec_.to_host(hx, x, inputs);
      kernels::reference::forward_layer<L>(hx, hy, batch, host_params_);
      exec_.to_device(y, hy, count);
    }
  }

  template <class L>
  void backward(const kernels::reference::backward_args& a) {
    using layer = typename L::layer;
    constexpr layer_kind kind = layer_kind_of<layer>;
    const std::int64_t inputs = std::int64_t{a.batch} * L::input::size;
    if constexpr (kind == layer_kind::conv) {
      exec_.for_each(inputs, conv_dx_op<acc>{geometry<L>(), a.dy, a.weight, a.dx});
      exec_.for_each(L::weights + L::biases,
                     conv_dw_op{geometry<L>(), a.x, a.dy, a.batch, L::weights, a.dweight, a.dbias});
    } else if constexpr (kind == layer_kind::dense) {
      exec_.for_each(inputs, dense_dx_op<acc>{L::input::size, L::output::size, a.dy, a.weight, a.dx});
      exec_.for_each(L::weights + L::biases,
                     dense_dw_op{L::input::size, L::output::size, a.x, a.dy, a.batch, a.dweight, a.dbias});
    } else if constexpr (kind == layer_kind::relu) {
      exec_.for_each(inputs, activation_dx_op<false>{a.y, a.dy, a.dx});
    } else if constexpr (kind == layer_kind::relu6) {
      exec_.for_each(inputs, activation_dx_op<true>{a.x, a.dy, a.dx});
    } else if constexpr (kind == layer_kind::identity || kind == layer_kind::flatten) {
      copy(a.dy, a.dx, inputs);
    } else if constexpr (kind == layer_kind::pool) {
      if constexpr (layer::kind == pool_kind::max)
        exec_.for_each(inputs, max_pool_dx_op{geometry<L>(), a.x, a.dy, a.dx});
      else
        exec_.for_each(inputs, avg_pool_dx_op{geometry<L>(), a.dy, a.dx});
    } else if constexpr (kind == layer_kind::adaptive_pool) {
      exec_.for_each(inputs, adaptive_pool_dx_op{L::input::dims[1], L::input::dims[2], L::output::dims[1],
                                                 L::output::dims[2], a.dy, a.dx});
    } else if constexpr (kind == layer_kind::lrn) {
      exec_.for_each(inputs, lrn_dx_op{lrn_of<L>(), a.x, a.dy, a.dx});
    } else if constexpr (kind == layer_kind::softmax) {
      exec_.for_each(a.batch, softmax_dx_op{L::output::size, a.y, a.dy, a.dx});
    } else {
      static_assert(runs_on_host<L>);
      backward_on_host<L>(a);
    }
  }

 private:
  // Layer L's backward pass on the host (runs_on_host): x, y, dy and its parameter gradients so far copied
  // from the executor's memory, dx and the gradients (exec::reference's backward pass adds to them) back.
  template <class L>
  void backward_on_host(const kernels::reference::backward_args& a) {
    const std::int64_t inputs = std::int64_t{a.batch} * L::input::size,
                       outputs = std::int64_t{a.batch} * L::output::size;
    float *hx = host_.data(), *hy = hx + inputs, *hdy = hy + outputs, *hdx = hdy + outputs, *hdw = hdx + inputs,
          *hdb = hdw + L::weights;
    exec_.to_host_later(hx, a.x, inputs);
    exec_.to_host_later(hy, a.y, outputs);
    exec_.to_host_later(hdy, a.dy, outputs);
    if constexpr (L::weights > 0) exec_.to_host_later(hdw, a.dweight, L::weights);
    if constexpr (L::biases > 0) exec_.to_host_later(hdb, a.dbias, L::biases);
    exec_.wait();
    kernels::reference::backward_layer<L>({hx, hy, hdy, hdx, a.batch, host_params_ + L::weight_offset,
                                           L::weights > 0 ? hdw : nullptr, L::biases > 0 ? hdb : nullptr});
    exec_.to_device(a.dx, hdx, inputs);
    if constexpr (L::weights > 0) exec_.to_device(a.dweight, hdw, L::weights);
    if constexpr (L::biases > 0) exec_.to_device(a.dbias, hdb, L::biases);
  }

  template <class L>
  static consteval window_geometry geometry() {
    return window_of_shapes<typename L::layer, typename L::input, typename L::output>();
  }
  template <class L>
  static constexpr ops::lrn_constants lrn_of() {
    using layer = typename L::layer;
    return {layer::size, layer::alpha,      layer::beta,
            layer::k,    L::input::dims[0], std::int64_t{L::input::dims[1]} * L::input::dims[2]};
  }

  Exec exec_;
  typename Exec::template buffer<float> params_, grads_, input_;
  // Batch norm's partial sums and per-channel moments: 2 x channels x (parts + 1) doubles at most.
  typename Exec::template buffer<double> moments_;
  std::vector<float> logits_, dlogits_;
  mutable std::vector<float> mirrors_[2];  // host_view's copies: the logits, the input gradient
  std::vector<float> host_;                // the layers run on the host: their values (host_staging_of)
  const float* host_params_ = nullptr;     // the caller's params during a step
};

/// The element-wise training program on an executor (exec::cuda's trainer is this on the GPU's).
template <Network Net, class Exec>
class elementwise_program : public training_program<Net, elementwise_kernels<Net, Exec>> {
 public:
  elementwise_program(params<Net>& p, int max_batch, options o = {}, Exec exec = {})
      : training_program<Net, elementwise_kernels<Net, Exec>>(
            p, max_batch, o, elementwise_kernels<Net, Exec>(std::max(max_batch, 1), std::move(exec))) {}
};

}  // namespace detail

}  // namespace typenet::train
