// typenet/kernels/winograd_transforms.hpp: the transform matrices of Winograd's minimal filtering
// algorithm F(M x M, R x R), generated at compile time, and the tile transforms built from them.
// Host and device code (no CUDA header): exec::cuda's Winograd kernels use them, and so do the host tests
// that check them against exec::reference.
//
// For M outputs of a 1-D correlation with an R-tap filter, y = A^T [ (G g) (.) (B^T d) ], over
// alpha = M + R - 1 input values d; in 2-D, Y = A^T [ (G g G^T) (.) (B^T d B) ] A.
// The matrices come from Lagrange interpolation at the points 0, 1, -1, 2, -2, 1/2, -1/2 (the first
// alpha - 1 of them: F(4,3) and F(2,5) use 0, +-1, +-2; F(4,5) adds +-1/2) and the point at infinity:
//   A^T[i][j] = a_j^i,              and A^T[i][alpha-1] = 1 when i = M - 1 (else 0);
//   G[j][k]   = a_j^k / f_j,        f_j = prod_{l != j} (a_j - a_l); the last row is e_{R-1};
//   B^T[j]    = coefficients of prod_{l != j} (x - a_l) (lowest power first); the last row holds those of
//               prod_l (x - a_l).
// identity_error<M, R>() checks the 1-D identity exactly; a static_assert below holds it to 1e-12 for
// every tile the CUDA policy uses.
#pragma once

#include "../config.hpp"
#include "nchw_ops.hpp"

#if defined(__CUDA_ARCH__)  // device pass of nvcc
#define TYPENET_WINOGRAD_UNROLL _Pragma("unroll")
#else
#define TYPENET_WINOGRAD_UNROLL
#endif

namespace typenet::kernels::winograd {

template <int M, int R>
struct matrices {
  static constexpr int m = M, r = R, alpha = M + R - 1;
  double at[M][alpha]{};      // output transform A^T
  double g[alpha][R]{};       // filter transform G
  double bt[alpha][alpha]{};  // input transform B^T
};

/// The interpolation points, in the order they are taken.
TYPENET_HOST_DEVICE constexpr double point(int i) {
  constexpr double p[] = {0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5};
  return p[i];
}

template <int M, int R>
TYPENET_HOST_DEVICE constexpr matrices<M, R> make_matrices() {
  static_assert(M >= 1 && R >= 2 && M + R - 2 <= 7, "typenet: Winograd tile needs more interpolation points");
  constexpr int n = M + R - 1, finite = n - 1;
  matrices<M, R> w{};
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < finite; ++j) {
      double p = 1.0;
      for (int e = 0; e < i; ++e) p *= point(j);
      w.at[i][j] = p;
    }
    w.at[i][finite] = i == M - 1 ? 1.0 : 0.0;
  }
  for (int j = 0; j < finite; ++j) {
    double f = 1.0;
    for (int l = 0; l < finite; ++l)
      if (l != j) f *= point(j) - point(l);
    double p = 1.0;
    for (int k = 0; k < R; ++k, p *= point(j)) w.g[j][k] = p / f;
  }
  for (int k = 0; k < R; ++k) w.g[finite][k] = k == R - 1 ? 1.0 : 0.0;
  // Row j of B^T: the coefficients of prod_{l != j, l < finite} (x - a_l); the last row: prod over all.
  for (int j = 0; j <= finite; ++j) {
    double c[n]{};
    c[0] = 1.0;
    int degree = 0;
    for (int l = 0; l < finite; ++l) {
      if (l == j) continue;
      for (int d = degree + 1; d >= 1; --d) c[d] = c[d - 1] - point(l) * c[d];
      c[0] = -point(l) * c[0];
      ++degree;
    }
    for (int s = 0; s < n; ++s) w.bt[j][s] = c[s];
  }
  return w;
}

/// Largest deviation of A^T diag(G e_k) B^T from the correlation operator (0 for exact matrices).
template <int M, int R>
TYPENET_HOST_DEVICE constexpr double identity_error() {
  constexpr auto w = make_matrices<M, R>();
  constexpr int n = M + R - 1;
  double worst = 0.0;
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < R; ++k)
      for (int s = 0; s < n; ++s) {
        double v = 0.0;
        for (int j = 0; j < n; ++j) v += w.at[i][j] * w.g[j][k] * w.bt[j][s];
        const double want = s == i + k ? 1.0 : 0.0;
        const double d = v > want ? v - want : want - v;
        worst = d > worst ? d : worst;
      }
  return worst;
}

static_assert(identity_error<2, 3>() < 1e-12 && identity_error<4, 3>() < 1e-12 && identity_error<2, 5>() < 1e-12 &&
              identity_error<4, 5>() < 1e-12);

/// Adds c * x to s with the constant c folded: 0 skips, +-1 add or subtract (the matrices' entries are
/// constants once the loops around this are unrolled).
template <class Value>
TYPENET_HOST_DEVICE constexpr Value axpy(double c, Value x, Value s) {
  if (c == 0.0) return s;
  if (c == 1.0) return s + x;
  if (c == -1.0) return s - x;
  return s + static_cast<Value>(c) * x;
}

/// y = T x T^T for one of the transform matrices T (Rows x Cols) and a Cols x Cols tile x; the three tile
/// transforms below are this with T = B^T, A^T and G.
template <int Rows, int Cols, class Value>
TYPENET_HOST_DEVICE constexpr void sandwich(const double (&t)[Rows][Cols], const Value (&x)[Cols][Cols],
                                            Value (&y)[Rows][Rows]) {
  Value u[Rows][Cols]{};
  TYPENET_WINOGRAD_UNROLL
  for (int i = 0; i < Rows; ++i) TYPENET_WINOGRAD_UNROLL
  for (int j = 0; j < Cols; ++j) {
    Value s{};
    TYPENET_WINOGRAD_UNROLL
    for (int k = 0; k < Cols; ++k) s = axpy(t[i][k], x[k][j], s);
    u[i][j] = s;
  }
  TYPENET_WINOGRAD_UNROLL
  for (int i = 0; i < Rows; ++i) TYPENET_WINOGRAD_UNROLL
  for (int j = 0; j < Rows; ++j) {
    Value s{};
    TYPENET_WINOGRAD_UNROLL
    for (int k = 0; k < Cols; ++k) s = axpy(t[j][k], u[i][k], s);
    y[i][j] = s;
  }
}

/// v = B^T d B for one alpha x alpha input tile.
template <int M, int R>
TYPENET_HOST_DEVICE inline void input_tile(const float (&d)[M + R - 1][M + R - 1], float (&v)[M + R - 1][M + R - 1]) {
  constexpr auto w = make_matrices<M, R>();
  sandwich(w.bt, d, v);
}

/// y = A^T m A for one alpha x alpha product tile: M x M outputs.
template <int M, int R>
TYPENET_HOST_DEVICE inline void output_tile(const float (&m)[M + R - 1][M + R - 1], float (&y)[M][M]) {
  constexpr auto w = make_matrices<M, R>();
  sandwich(w.at, m, y);
}

/// u = G g G^T for one R x R filter, in double (done once, on the host, when weights are packed).
template <int M, int R>
constexpr void filter_tile(const double (&g)[R][R], double (&u)[M + R - 1][M + R - 1]) {
  constexpr auto w = make_matrices<M, R>();
  sandwich(w.g, g, u);
}

/// The output tile size for an R x R stride-1 convolution with an OH x OW output: the M (2 or 4) with the
/// fewest transformed values, alpha^2 x tiles (fewest multiplies and bytes moved); ties go to the smaller
/// tile, whose transforms are cheaper and more accurate.
template <int R, int OH, int OW>
constexpr int pick_tile() {
  constexpr auto values = [](int m) {
    const long long a = m + R - 1;
    return a * a * ((OH + m - 1) / m) * ((OW + m - 1) / m);
  };
  return values(4) < values(2) ? 4 : 2;
}

/// The tiling of a stride-1 R x R convolution C x H x W -> F x OH x OW (padding PH, PW) for F(M, R), M =
/// Tile or, for Tile = 0, pick_tile's choice, and the layouts the CUDA kernels exchange, per image:
///   V[position][channel][tile] (transformed input), M[position][filter][tile] (products),
///   U[position][filter][channel] (transformed weights, one matrix per position).
template <int C, int H, int W, int F, int R, int PH, int PW, int OH, int OW, int Tile = 0>
struct tiling {
  static constexpr int m = Tile != 0 ? Tile : pick_tile<R, OH, OW>();
  static constexpr int r = R, alpha = m + R - 1, positions = alpha * alpha;
  static constexpr int tiles_h = (OH + m - 1) / m, tiles_w = (OW + m - 1) / m, tiles = tiles_h * tiles_w;
  static constexpr int c = C, h = H, w = W, f = F, ph = PH, pw = PW, oh = OH, ow = OW;
  static constexpr long long v_image = static_cast<long long>(positions) * C * tiles;
  static constexpr long long m_image = static_cast<long long>(positions) * F * tiles;
};

/// Input transform number o of a batch (o < batch x C x tiles; tiles fastest): reads one alpha x alpha
/// patch of x (NCHW, zeros outside), writes its alpha^2 transformed values to v.
template <class WT>
TYPENET_HOST_DEVICE inline void input_transform_at(long long o, const float* __restrict__ x, float* __restrict__ v) {
  constexpr int A = WT::alpha, T = WT::tiles;
  const int t = static_cast<int>(o % T);
  const long long ic = o / T;  // image * C + channel
  const int ch = static_cast<int>(ic % WT::c);
  const long long img = ic / WT::c;
  const int th = t / WT::tiles_w, tw = t - th * WT::tiles_w;
  const int h0 = th * WT::m - WT::ph, w0 = tw * WT::m - WT::pw;
  const float* src = x + ic * (WT::h * WT::w);
  float d[A][A], tv[A][A];
  TYPENET_WINOGRAD_UNROLL
  for (int i = 0; i < A; ++i) TYPENET_WINOGRAD_UNROLL
  for (int j = 0; j < A; ++j) {
    const int ih = h0 + i, iw = w0 + j;
    d[i][j] = (ih >= 0 && ih < WT::h && iw >= 0 && iw < WT::w) ? src[ih * WT::w + iw] : 0.f;
  }
  input_tile<WT::m, WT::r>(d, tv);
  float* dst = v + img * WT::v_image + static_cast<long long>(ch) * T + t;
  TYPENET_WINOGRAD_UNROLL
  for (int i = 0; i < A; ++i) TYPENET_WINOGRAD_UNROLL
  for (int j = 0; j < A; ++j) dst[static_cast<long long>(i * A + j) * WT::c * T] = tv[i][j];
}

/// Output transform number o of a batch (o < batch x F x tiles; tiles fastest): reads the alpha^2 products
/// of one tile from mm, writes its M x M outputs (plus bias, plus res at the same place when res is not
/// null, then the activation Act: nchw_ops.hpp's activate) to y (NCHW), clipped at the edges.
template <class WT, int Act>
TYPENET_HOST_DEVICE inline void output_transform_at(long long o, const float* __restrict__ mm,
                                                    const float* __restrict__ bias, float* __restrict__ y,
                                                    const float* __restrict__ res = nullptr) {
  constexpr int A = WT::alpha, T = WT::tiles, M = WT::m;
  const int t = static_cast<int>(o % T);
  const long long fi = o / T;  // image * F + filter
  const int f = static_cast<int>(fi % WT::f);
  const long long img = fi / WT::f;
  const float* src = mm + img * WT::m_image + static_cast<long long>(f) * T + t;
  float p[A][A], out[M][M];
  TYPENET_WINOGRAD_UNROLL
  for (int i = 0; i < A; ++i) TYPENET_WINOGRAD_UNROLL
  for (int j = 0; j < A; ++j) p[i][j] = src[static_cast<long long>(i * A + j) * WT::f * T];
  output_tile<M, WT::r>(p, out);
  const float b = bias[f];
  const int th = t / WT::tiles_w, tw = t - th * WT::tiles_w;
  float* dst = y + fi * (WT::oh * WT::ow);
  const float* add = res != nullptr ? res + fi * (WT::oh * WT::ow) : nullptr;
  TYPENET_WINOGRAD_UNROLL
  for (int i = 0; i < M; ++i) TYPENET_WINOGRAD_UNROLL
  for (int j = 0; j < M; ++j) {
    const int oh = th * M + i, ow = tw * M + j;
    if ((WT::oh % M == 0 || oh < WT::oh) && (WT::ow % M == 0 || ow < WT::ow)) {
      float val = out[i][j] + b;
      if (add != nullptr) val += add[oh * WT::ow + ow];
      dst[oh * WT::ow + ow] = activate<Act>(val);
    }
  }
}

/// PyTorch weights [F][C][R][R] to U[position][F][C] (transformed in double, stored as float).
template <class WT>
inline void transform_weights(const float* w, float* u) {
  constexpr int A = WT::alpha, R = WT::r;
  for (int f = 0; f < WT::f; ++f)
    for (int ch = 0; ch < WT::c; ++ch) {
      double g[R][R], t[A][A];
      for (int i = 0; i < R; ++i)
        for (int j = 0; j < R; ++j) g[i][j] = w[((static_cast<long long>(f) * WT::c + ch) * R + i) * R + j];
      filter_tile<WT::m, R>(g, t);
      for (int i = 0; i < A; ++i)
        for (int j = 0; j < A; ++j)
          u[(static_cast<long long>(i * A + j) * WT::f + f) * WT::c + ch] = static_cast<float>(t[i][j]);
    }
}

}  // namespace typenet::kernels::winograd
