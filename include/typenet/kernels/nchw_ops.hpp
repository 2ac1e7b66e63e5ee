// typenet/kernels/nchw_ops.hpp: one output element of the element-wise and small-window operations of
// graph networks on NCHW values, as host-and-device functions (no CUDA header). exec::cuda's kernels
// (kernels/cuda/graph.hpp) call them once per thread and element; the host tests (tests/unit/nchw_ops.cpp)
// call them for every element and compare with exec::reference, so the index arithmetic the GPU runs is
// checked on any machine.
//
// Every function takes the element's flat index o in the batch's output ([image][channel][pixel]) and
// writes y[o]. Act selects the epilogue: 0 none, 1 ReLU, 2 ReLU6 (fusion/graph.hpp's fused_op::act).
#pragma once
#include <cstdint>

#include "../config.hpp"

namespace typenet::kernels {

/// The epilogue activation; a NaN stays NaN (both comparisons are false for it).
template <int Act>
TYPENET_HOST_DEVICE inline float activate(float v) {
  static_assert(Act >= 0 && Act <= 2, "typenet: activation code 0 (none), 1 (relu) or 2 (relu6)");
  if constexpr (Act == 1) {
    return v < 0.f ? 0.f : v;
  } else if constexpr (Act == 2) {
    return v < 0.f ? 0.f : (v > 6.f ? 6.f : v);
  } else {
    return v;
  }
}

namespace nchw {

/// A depthwise convolution (one filter per channel) C x H x W -> C x OH x OW.
template <int C, int H, int W, int KH, int KW, int SH, int SW, int PH, int PW, int OH, int OW>
struct depthwise_geometry {
  static constexpr int c = C, h = H, w = W, kh = KH, kw = KW, sh = SH, sw = SW, ph = PH, pw = PW, oh = OH, ow = OW;
  static constexpr std::int64_t out_image = std::int64_t{C} * OH * OW;
};

/// y[o] = act(bias[c] + sum over the window of x * w (+ res[o] when res is not null)); w is [C][KH][KW]
/// (PyTorch's [C][1][KH][KW]), bias [C].
template <class G, int Act>
TYPENET_HOST_DEVICE inline void depthwise_at(std::int64_t o, const float* __restrict__ x, const float* __restrict__ w,
                                             const float* __restrict__ bias, float* __restrict__ y,
                                             const float* __restrict__ res) {
  const int ow = static_cast<int>(o % G::ow);
  std::int64_t t = o / G::ow;
  const int oh = static_cast<int>(t % G::oh);
  t /= G::oh;  // image * C + channel
  const int c = static_cast<int>(t % G::c);
  const float* src = x + t * (std::int64_t{G::h} * G::w);
  const float* f = w + c * (G::kh * G::kw);
  float acc = 0.f;
  for (int i = 0; i < G::kh; ++i) {
    const int ih = oh * G::sh - G::ph + i;
    if (ih < 0 || ih >= G::h) continue;
    for (int j = 0; j < G::kw; ++j) {
      const int iw = ow * G::sw - G::pw + j;
      if (iw >= 0 && iw < G::w) acc += src[ih * G::w + iw] * f[i * G::kw + j];
    }
  }
  acc += bias[c];
  if (res != nullptr) acc += res[o];
  y[o] = activate<Act>(acc);
}

/// y[o] = act(x[o] * scale[c] + shift[c]) for a value of Channels x Pixels per image (a batch norm no
/// convolution absorbed; a flat value is Channels x 1).
template <int Channels, int Pixels, int Act>
TYPENET_HOST_DEVICE inline void affine_at(std::int64_t o, const float* __restrict__ x, const float* __restrict__ scale,
                                          const float* __restrict__ shift, float* __restrict__ y) {
  const int c = static_cast<int>((o / Pixels) % Channels);
  y[o] = activate<Act>(x[o] * scale[c] + shift[c]);
}

/// y[o] = act(a[o] + b[o]) (a residual join no convolution absorbed).
template <int Act>
TYPENET_HOST_DEVICE inline void add_at(std::int64_t o, const float* __restrict__ a, const float* __restrict__ b,
                                       float* __restrict__ y) {
  y[o] = activate<Act>(a[o] + b[o]);
}

/// y[o] = act(x[o]).
template <int Act>
TYPENET_HOST_DEVICE inline void activation_at(std::int64_t o, const float* __restrict__ x, float* __restrict__ y) {
  y[o] = activate<Act>(x[o]);
}

/// One branch of a concat along channels: input element o of a Channels x Pixels branch goes to channel
/// Offset + its channel of the Total-channel output. One call per branch element, so a concat of any
/// number of branches is that many copies.
template <int Total, int Channels, int Offset, int Pixels>
TYPENET_HOST_DEVICE inline void concat_slice_at(std::int64_t o, const float* __restrict__ x, float* __restrict__ y) {
  constexpr std::int64_t image = std::int64_t{Channels} * Pixels;
  const std::int64_t img = o / image;
  y[img * (std::int64_t{Total} * Pixels) + std::int64_t{Offset} * Pixels + (o - img * image)] = x[o];
}

}  // namespace nchw
}  // namespace typenet::kernels
