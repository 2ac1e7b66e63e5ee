// Runs the reference loop nests on geometries read from stdin, for layer_parity.py to compare with
// PyTorch. Each input line: kind C H W k s p round F G  (kind 0 max_pool, 1 avg_pool, 2 adaptive_avg_pool
// with output k x s, 3 conv2d with F filters and G groups, 4 lrn of size k, 5 lrn of size k whose line
// ends with alpha beta k_lrn as decimals; round 0 floor, 1 ceil).
// Inputs are x[i] = sin(0.7 i + 0.3); conv weights w[i] = cos(0.37 i), biases 0.1 f. Each output line:
// OH OW then the values.
//
// With --backward the harness runs the backward loop nests (kernels/reference/backward.hpp) instead, for
// the output gradient dy[i] = cos(0.53 i + 0.1), and prints OH OW, then dx, then (conv2d) dweight and
// dbias. Kind 6 is batch norm in training mode on k images of C x H x W with weight[c] = 1 + 0.1 c and
// bias[c] = 0.05 c: it prints 1 1, then y, dx, dweight, dbias, and the running mean and variance after one
// step from 0 and 1. Kind 7 is max_pool on x rounded to halves (many ties: the gradient goes to the first
// maximum of a window, as in PyTorch).
#include <typenet/kernels/reference/backward.hpp>
#include <typenet/typenet.hpp>

#include <cstring>

#include <cmath>
#include <cstdio>
#include <vector>

namespace ref = typenet::kernels::reference;

namespace {
void print(const std::vector<float>& v) {
  for (float x : v) std::printf(" %.9g", x);
}
std::vector<float> wave(std::size_t n, double a, double b, bool sine) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(sine ? std::sin(a * double(i) + b) : std::cos(a * double(i) + b));
  return v;
}

void batch_norm_case(int images, int c, int h, int w) {
  const std::size_t count = static_cast<std::size_t>(images * c * h * w);
  const auto x = wave(count, 0.7, 0.3, true), dy = wave(count, 0.53, 0.1, false);
  std::vector<float> tensors(static_cast<std::size_t>(4 * c)), stats(static_cast<std::size_t>(2 * c)), y(count),
      dx(count), dtensors(static_cast<std::size_t>(2 * c));
  for (int i = 0; i < c; ++i) {
    tensors[static_cast<std::size_t>(i)] = 1.f + 0.1f * static_cast<float>(i);
    tensors[static_cast<std::size_t>(c + i)] = 0.05f * static_cast<float>(i);
    tensors[static_cast<std::size_t>(3 * c + i)] = 1.f;
  }
  ref::batch_norm_train_forward(c, std::int64_t{h} * w, x.data(), y.data(), images, tensors.data(), 0.1, stats.data());
  ref::batch_norm_train_backward(c, std::int64_t{h} * w, stats.data(), tensors.data(),
                                 {x.data(), y.data(), dy.data(), dx.data(), images, nullptr, nullptr, nullptr},
                                 dtensors.data());
  std::printf("1 1");
  print(y);
  print(dx);
  print(dtensors);
  print(std::vector<float>(tensors.begin() + 2 * c, tensors.end()));
  std::printf("\n");
}
}  // namespace

int main(int argc, char** argv) {
  const bool backward = argc > 1 && std::strcmp(argv[1], "--backward") == 0;
  int kind, c, h, w, k, s, p, r, f, g;
  while (std::scanf("%d %d %d %d %d %d %d %d %d %d", &kind, &c, &h, &w, &k, &s, &p, &r, &f, &g) == 10) {
    if (kind == 6) {
      batch_norm_case(k, c, h, w);
      continue;
    }
    const bool ties = kind == 7;
    if (ties) kind = 0;
    const auto round = r == 0 ? typenet::rounding::floor : typenet::rounding::ceil;
    int oh = typenet::detail::window_extent(h, k, s, p, round);
    int ow = typenet::detail::window_extent(w, k, s, p, round);
    int oc = c;
    if (kind == 2) oh = k, ow = s;
    if (kind == 3) oc = f;
    double alpha = 0.5, beta = 0.75, k_lrn = 2.0;
    if (kind == 5 && std::scanf("%lf %lf %lf", &alpha, &beta, &k_lrn) != 3) {
      std::printf("invalid\n");
      continue;
    }
    if (kind == 4 || kind == 5) oh = h, ow = w;
    if (oh < 1 || ow < 1) {
      std::printf("invalid\n");
      continue;
    }
    std::vector<float> in(static_cast<std::size_t>(c * h * w)), out(static_cast<std::size_t>(oc * oh * ow));
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(std::sin(0.7 * double(i) + 0.3));
    if (ties)
      for (float& v : in) v = std::round(2 * v) / 2;
    const ref::window_geometry geo{c, h, w, oc, oh, ow, k, k, s, s, p, p, g};
    if (backward) {
      const auto dy = wave(out.size(), 0.53, 0.1, false);
      std::vector<float> dx(in.size()), weight, dweight, dbias;
      if (kind == 3) {
        weight = wave(static_cast<std::size_t>(f * (c / g) * k * k), 0.37, 0.0, false);
        dweight.assign(weight.size(), 0.f);
        dbias.assign(static_cast<std::size_t>(f), 0.f);
      }
      // The forward output only matters to relu; the windowed kernels read x.
      const ref::backward_args a{in.data(), out.data(),    dy.data(),      dx.data(),
                                 1,         weight.data(), dweight.data(), dbias.data()};
      if (kind == 0) ref::max_pool_backward_plain(geo, a);
      if (kind == 1) ref::avg_pool_backward_plain(geo, a);
      if (kind == 2) ref::adaptive_avg_pool_backward_plain(c, h, w, oh, ow, a);
      if (kind == 3) ref::conv2d_backward_plain(geo, a);
      if (kind == 4 || kind == 5) ref::lrn_backward_plain(k, alpha, beta, k_lrn, c, std::int64_t{h} * w, a);
      std::printf("%d %d", oh, ow);
      print(dx);
      print(dweight);
      print(dbias);
      std::printf("\n");
      continue;
    }
    if (kind == 0) ref::max_pool_plain(geo, in.data(), out.data(), 1);
    if (kind == 1) ref::avg_pool_plain(geo, in.data(), out.data(), 1);
    if (kind == 2) ref::adaptive_avg_pool_plain(c, h, w, oh, ow, in.data(), out.data(), 1);
    if (kind == 3) {
      std::vector<float> weight(static_cast<std::size_t>(f * (c / g) * k * k)), bias(static_cast<std::size_t>(f));
      for (std::size_t i = 0; i < weight.size(); ++i) weight[i] = static_cast<float>(std::cos(0.37 * double(i)));
      for (std::size_t i = 0; i < bias.size(); ++i) bias[i] = 0.1f * static_cast<float>(i);
      ref::conv2d_plain(geo, in.data(), out.data(), 1, weight.data(), bias.data());
    }
    if (kind == 4 || kind == 5) ref::lrn_plain(k, alpha, beta, k_lrn, c, h, w, in.data(), out.data(), 1);
    std::printf("%d %d", oh, ow);
    for (float v : out) std::printf(" %.9g", v);
    std::printf("\n");
  }
}
