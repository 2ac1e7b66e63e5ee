// onednn_alexnet: the seed AlexNet of DESIGN.md §1, built from oneDNN 2.6 primitives, as the CPU peer that
// typenet's benchmarks compare against. Target: typenet_onednn_peer (static library, built only when
// oneDNN's CMake config is found). This header includes no oneDNN header; the primitives live behind a pimpl.
//
// Network (input 3x227x227, NCHW float32):
//   conv 96 11x11/4 + relu, maxpool 3/2, conv 256 5x5 p2 + relu, maxpool 3/2,
//   conv 384 3x3 p1 + relu, conv 384 3x3 p1 + relu, conv 256 3x3 p1 + relu, maxpool 3/2,
//   flatten, dense 4096 + relu, dense 4096 + relu, dense 1000, softmax.   (dropout = identity)
//
// How it is built: prop_kind::forward_inference everywhere; convolutions and inner products take
// format_tag::any for src, weights and dst, so oneDNN picks its layouts; ReLU is an eltwise post-op;
// max pooling is pooling_forward, softmax is softmax_forward on axis 1. Reorders are added only where a
// primitive wants a layout its producer did not write (including the NCHW user input). Scratchpads are
// user-managed (one shared buffer), so forward() allocates nothing.
//
// Usage (stable interface; typenet's side-by-side benchmark relies on it):
//
//   onednn_alexnet::set_threads(2);                 // OpenMP threads; call BEFORE constructing
//   onednn_alexnet net(64, onednn_alexnet::direct); // primitives for batch 64
//   net.set_weights(params);                        // PyTorch order and layout, param_count floats
//   net.forward(input, probs);                      // input batch x 3x227x227, probs batch x 1000
//
// Per-layer convolution algorithms (direct, Winograd, auto), the fastest chosen by measurement:
//
//   auto sel = onednn_alexnet::select_fastest(64, params, input);  // prints nothing; sel.report says all
//   onednn_alexnet best(64, sel.plan);
//
// Threads: oneDNN (OpenMP runtime) sizes its work partition when a primitive is created, so set the
// thread count first and build a new object after changing it.

#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace dnnl {
enum class algorithm;  // the real enum lives in <oneapi/dnnl/dnnl.hpp>; the underlying type is int
}

class onednn_alexnet {
 public:
  // Parameters of the network, in PyTorch's order and layout (nn.Sequential of the same layers):
  // for each conv, weight [F][C][KH][KW] then bias [F]; for each dense, weight [N][In] then bias [N];
  // layers in network order. fc6's In = 9216 is pool5's output flattened as C, H, W.
  static constexpr std::size_t param_count = 62'378'344;
  static constexpr int input_channels = 3, input_height = 227, input_width = 227;
  static constexpr std::size_t input_size = std::size_t{3} * 227 * 227;  // floats per image
  static constexpr int classes = 1000;

  // Convenience values of dnnl::algorithm for the conv_alg parameter, so callers need not include oneDNN:
  // direct = dnnl::algorithm::convolution_direct, automatic = dnnl::algorithm::convolution_auto.
  static const dnnl::algorithm direct;
  static const dnnl::algorithm automatic;

  // Creates the primitives for `batch` images (batch >= 1) with the given convolution algorithm for every
  // convolution (dnnl::algorithm::convolution_direct, convolution_auto, or convolution_winograd, which
  // fails for conv1 and conv2), and allocates every buffer. Weights are zero until set_weights is called.
  // Throws std::invalid_argument or dnnl::error on failure.
  onednn_alexnet(int batch, dnnl::algorithm conv_alg);

  // One convolution algorithm of oneDNN, named without oneDNN's headers. winograd exists in oneDNN 2.6
  // only for 3x3 stride-1 convolutions and only with AVX-512 (jit_avx512_core_fp32_wino_conv_2x3 /
  // _4x3, jit_avx512_common_convolution_winograd); elsewhere creating it fails with "unimplemented".
  enum class algo { direct, winograd, automatic };
  static constexpr int conv_layers = 5;                // conv1 .. conv5
  using conv_plan = std::array<algo, conv_layers>;     // one algorithm per convolution
  static const char* name(algo a);                     // "direct", "winograd", "auto"
  static std::string describe(const conv_plan& plan);  // "conv1=direct conv2=direct conv3=winograd ..."

  // Whether oneDNN 2.6 has an implementation of convolution `layer` (0 = conv1 .. 4 = conv5) with
  // algorithm `a` at this batch (and the current thread count): creates the primitive descriptor only.
  static bool supports(int batch, int layer, algo a);

  // Creates the network with one algorithm per convolution. Throws std::invalid_argument naming the layer
  // when oneDNN has no implementation of a requested algorithm (see supports()).
  onednn_alexnet(int batch, const conv_plan& plan);

  // The fastest per-layer plan for this batch and the current thread count, found by measurement in this
  // process (random-free: the caller's weights and input):
  //   1. per convolution and algorithm, whether oneDNN implements it (supports());
  //   2. candidate networks: each algorithm wherever it is implemented (direct elsewhere); a candidate
  //      whose primitives have the same implementations and layouts as an earlier one (auto resolving to
  //      direct) is the same network and is dropped; with one candidate left, it is chosen untimed;
  //   3. each candidate's logits are checked against the all-direct network's before any timing
  //      (max |diff| <= 1e-4 * max |logit|); a candidate that fails is rejected and reported;
  //   4. every primitive of every candidate is timed (`rounds` rounds, rotating the order of the
  //      candidates, `iters` passes per round, per-primitive medians); per convolution the algorithm whose
  //      primitive (plus the reorder of its source, if any) is fastest is chosen; that combination is
  //      built and checked too when it is new;
  //   5. the whole networks of all candidates and the combination are timed the same way (median over
  //      rounds of the per-round medians); the fastest whole network wins.
  // `report` is a human-readable account: support per layer and algorithm, per-layer times, the whole-net
  // times, the checks and the winner with oneDNN's implementation names.
  struct selection {
    conv_plan plan{};
    std::string report;
    double ms_per_batch = 0;  // the winner's median whole-network time in step 5 (0: one candidate)
  };
  static selection select_fastest(int batch, const float* params, const float* input, int rounds = 3,
                                  int iters = 0 /* 0: 10 at batch 1, 2 above */);
  ~onednn_alexnet();
  onednn_alexnet(onednn_alexnet&&) noexcept;
  onednn_alexnet& operator=(onednn_alexnet&&) noexcept;
  onednn_alexnet(const onednn_alexnet&) = delete;
  onednn_alexnet& operator=(const onednn_alexnet&) = delete;

  // Copies param_count floats (see above) into the primitives' weight layouts: the weight reorders run
  // here, once, never in forward().
  void set_weights(const float* params);

  // Runs the network: in_nchw holds batch x 3 x 227 x 227 floats (NCHW), out receives batch x 1000
  // softmax probabilities (row-major). Both stay owned by the caller; neither is kept after the call.
  void forward(const float* in_nchw, float* out);

  // Same as forward() but stops before the softmax: out receives the batch x 1000 logits of fc8.
  void forward_logits(const float* in_nchw, float* out);

  // The primitives in execution order (reorders included) with oneDNN's implementation name and the
  // layouts it chose, one per line, e.g.
  //   "conv1                brgconv:avx512_core  src=acdb wei=Acdb48a dst=acdb +relu"
  //   "reorder(fc6 src)     jit:uni  acdb -> abcd"
  // Layouts use oneDNN's letters: dimensions from outermost to innermost (a = N or O, b = C or I, ...),
  // upper case where the dimension is also blocked, then the inner blocks ("Acdb48a": O blocked by 48).
  std::string impl_info() const;

  // The convolution algorithms this object was built with (the constructor's plan, or the single
  // algorithm of the dnnl::algorithm constructor), and oneDNN's implementation name of convolution `layer`.
  const conv_plan& plan() const;
  std::string conv_impl(int layer) const;

  // Runs `iters` forward passes (logits, without softmax), timing every primitive on its own; returns
  // (primitive name, median ms) in execution order.
  std::vector<std::pair<std::string, double>> time_steps(const float* in_nchw, int iters);

  int batch() const;

  // Number of OpenMP threads oneDNN uses (omp_set_num_threads). Affects objects constructed afterwards.
  static void set_threads(int n);

 private:
  struct impl;
  std::unique_ptr<impl> p_;
};
