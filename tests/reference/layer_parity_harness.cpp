// Runs the reference loop nests on geometries read from stdin, for layer_parity.py to compare with
// PyTorch. Each input line: kind C H W k s p round F G  (kind 0 max_pool, 1 avg_pool, 2 adaptive_avg_pool
// with output k x s, 3 conv2d with F filters and G groups, 4 lrn of size k, 5 lrn of size k whose line
// ends with alpha beta k_lrn as decimals; round 0 floor, 1 ceil).
// Inputs are x[i] = sin(0.7 i + 0.3); conv weights w[i] = cos(0.37 i), biases 0.1 f. Each output line:
// OH OW then the values.
#include <typenet/typenet.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

namespace ref = typenet::kernels::reference;

int main() {
  int kind, c, h, w, k, s, p, r, f, g;
  while (std::scanf("%d %d %d %d %d %d %d %d %d %d", &kind, &c, &h, &w, &k, &s, &p, &r, &f, &g) == 10) {
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
    const ref::window_geometry geo{c, h, w, oc, oh, ow, k, k, s, s, p, p, g};
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
