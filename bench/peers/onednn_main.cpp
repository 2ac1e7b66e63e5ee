// bench_onednn_alexnet: times the oneDNN AlexNet peer (bench/peers/onednn_alexnet.hpp) and checks it
// against a scalar reference written here.
//
//   bench_onednn_alexnet                 time every config: alg {direct, auto} x threads {1, 2} x batch {1, 64}
//   bench_onednn_alexnet --check         correctness only (batch 2: direct, auto, and Winograd wherever oneDNN
//                                        implements it); exit status 1 on failure
//   options: --alg direct|auto|both|best  --threads 1,2  --batch 1,64  --iters N  --warmup N  --rounds R  --info
//   --alg best: per (threads, batch), oneDNN's convolution algorithm is chosen per layer by measurement
//   (onednn_alexnet::select_fastest; its report is printed), and that plan is timed as alg=best.
//
// One line per config and round, e.g.
//   onednn_alexnet alg=direct batch=1 threads=1 ms_per_batch_median=32.5 images_per_s=30.8
// followed by a comment line ("# ...") with the spread of the iterations and the nominal GFLOP/s. With
// --rounds R > 1, a summary at the end gives the median of the per-round medians and their min-max.

#include "onednn_alexnet.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------------------
// Deterministic data
// ---------------------------------------------------------------------------------------------------------

struct rng {
  std::uint64_t s;
  explicit rng(std::uint64_t seed) : s(seed) {}
  std::uint64_t next() {  // splitmix64
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  float uniform() { return float(double(next() >> 40) * (2.0 / double(1ULL << 24)) - 1.0); }  // [-1, 1)
};

struct layer_desc {
  enum kind_t { conv, pool, dense } kind;
  int out;  // filters / outputs (conv, dense)
  int kernel, stride, pad;
  bool relu;
};

// The network of DESIGN.md §1 (dropout omitted: identity at inference; softmax applied at the end).
const std::vector<layer_desc>& alexnet_layers() {
  static const std::vector<layer_desc> l = {
      {layer_desc::conv, 96, 11, 4, 0, true},    {layer_desc::pool, 0, 3, 2, 0, false},
      {layer_desc::conv, 256, 5, 1, 2, true},    {layer_desc::pool, 0, 3, 2, 0, false},
      {layer_desc::conv, 384, 3, 1, 1, true},    {layer_desc::conv, 384, 3, 1, 1, true},
      {layer_desc::conv, 256, 3, 1, 1, true},    {layer_desc::pool, 0, 3, 2, 0, false},
      {layer_desc::dense, 4096, 0, 0, 0, true},  {layer_desc::dense, 4096, 0, 0, 0, true},
      {layer_desc::dense, 1000, 0, 0, 0, false},
  };
  return l;
}

// Random parameters in PyTorch order and layout, scaled like a ReLU-network initialisation
// (uniform in +-sqrt(6 / fan_in)) so activations keep a sensible size through the 8 layers.
std::vector<float> random_params(std::uint64_t seed) {
  std::vector<float> p;
  p.reserve(onednn_alexnet::param_count);
  rng r(seed);
  int c = 3, h = 227, w = 227;
  for (const layer_desc& l : alexnet_layers()) {
    if (l.kind == layer_desc::pool) {
      h = (h - l.kernel) / l.stride + 1;
      w = (w - l.kernel) / l.stride + 1;
      continue;
    }
    const std::size_t fan_in =
        l.kind == layer_desc::conv ? std::size_t(c) * l.kernel * l.kernel : std::size_t(c) * h * w;
    const float a = float(std::sqrt(6.0 / double(fan_in)));
    for (std::size_t i = 0; i < fan_in * std::size_t(l.out); ++i) p.push_back(a * r.uniform());
    for (int i = 0; i < l.out; ++i) p.push_back(0.1f * r.uniform());
    if (l.kind == layer_desc::conv) {
      h = (h + 2 * l.pad - l.kernel) / l.stride + 1;
      w = (w + 2 * l.pad - l.kernel) / l.stride + 1;
      c = l.out;
    } else {
      c = l.out;
      h = w = 1;
    }
  }
  return p;
}

std::vector<float> random_input(int batch, std::uint64_t seed) {
  std::vector<float> x(std::size_t(batch) * onednn_alexnet::input_size);
  rng r(seed);
  for (float& v : x) v = r.uniform();
  return x;
}

// ---------------------------------------------------------------------------------------------------------
// Scalar reference: plain loops over NCHW, accumulation in double
// ---------------------------------------------------------------------------------------------------------

struct tensor {
  int n, c, h, w;
  std::vector<float> v;
  tensor(int n_, int c_, int h_, int w_) : n(n_), c(c_), h(h_), w(w_), v(std::size_t(n_) * c_ * h_ * w_) {}
  float& at(int i, int j, int y, int x) { return v[((std::size_t(i) * c + j) * h + y) * w + x]; }
  float at(int i, int j, int y, int x) const { return v[((std::size_t(i) * c + j) * h + y) * w + x]; }
};

tensor ref_conv(const tensor& in, const layer_desc& l, const float* wt, const float* bias) {
  const int oh = (in.h + 2 * l.pad - l.kernel) / l.stride + 1;
  const int ow = (in.w + 2 * l.pad - l.kernel) / l.stride + 1;
  tensor out(in.n, l.out, oh, ow);
  for (int i = 0; i < in.n; ++i)
    for (int f = 0; f < l.out; ++f)
      for (int y = 0; y < oh; ++y)
        for (int x = 0; x < ow; ++x) {
          double acc = bias[f];
          for (int c = 0; c < in.c; ++c)
            for (int ky = 0; ky < l.kernel; ++ky) {
              const int iy = y * l.stride - l.pad + ky;
              if (iy < 0 || iy >= in.h) continue;
              const float* wrow = wt + ((std::size_t(f) * in.c + c) * l.kernel + ky) * l.kernel;
              for (int kx = 0; kx < l.kernel; ++kx) {
                const int ix = x * l.stride - l.pad + kx;
                if (ix < 0 || ix >= in.w) continue;
                acc += double(wrow[kx]) * double(in.at(i, c, iy, ix));
              }
            }
          out.at(i, f, y, x) = float(l.relu ? std::max(acc, 0.0) : acc);
        }
  return out;
}

tensor ref_pool(const tensor& in, const layer_desc& l) {
  const int oh = (in.h - l.kernel) / l.stride + 1, ow = (in.w - l.kernel) / l.stride + 1;
  tensor out(in.n, in.c, oh, ow);
  for (int i = 0; i < in.n; ++i)
    for (int c = 0; c < in.c; ++c)
      for (int y = 0; y < oh; ++y)
        for (int x = 0; x < ow; ++x) {
          float m = -INFINITY;
          for (int ky = 0; ky < l.kernel; ++ky)
            for (int kx = 0; kx < l.kernel; ++kx) m = std::max(m, in.at(i, c, y * l.stride + ky, x * l.stride + kx));
          out.at(i, c, y, x) = m;
        }
  return out;
}

// Input viewed as {n, c*h*w} (PyTorch's flatten order); output {n, outputs, 1, 1}.
tensor ref_dense(const tensor& in, const layer_desc& l, const float* wt, const float* bias) {
  const std::size_t k = std::size_t(in.c) * in.h * in.w;
  tensor out(in.n, l.out, 1, 1);
  for (int i = 0; i < in.n; ++i) {
    const float* x = in.v.data() + std::size_t(i) * k;
    for (int o = 0; o < l.out; ++o) {
      const float* wrow = wt + std::size_t(o) * k;
      double acc = bias[o];
      for (std::size_t j = 0; j < k; ++j) acc += double(wrow[j]) * double(x[j]);
      out.v[std::size_t(i) * l.out + o] = float(l.relu ? std::max(acc, 0.0) : acc);
    }
  }
  return out;
}

// Returns logits and softmax probabilities, both batch x 1000.
std::pair<std::vector<float>, std::vector<float>> ref_forward(const std::vector<float>& params, const float* input,
                                                              int batch) {
  tensor x(batch, 3, 227, 227);
  std::copy_n(input, x.v.size(), x.v.begin());
  const float* p = params.data();
  for (const layer_desc& l : alexnet_layers()) {
    if (l.kind == layer_desc::pool) {
      x = ref_pool(x, l);
      continue;
    }
    const std::size_t fan_in =
        l.kind == layer_desc::conv ? std::size_t(x.c) * l.kernel * l.kernel : std::size_t(x.c) * x.h * x.w;
    const float* wt = p;
    const float* bias = p + fan_in * std::size_t(l.out);
    p = bias + l.out;
    x = l.kind == layer_desc::conv ? ref_conv(x, l, wt, bias) : ref_dense(x, l, wt, bias);
  }
  if (std::size_t(p - params.data()) != onednn_alexnet::param_count) {
    std::fprintf(stderr, "reference consumed %zu parameters\n", std::size_t(p - params.data()));
    std::exit(1);
  }
  std::vector<float> probs(x.v.size());
  const int k = x.c;
  for (int i = 0; i < batch; ++i) {
    const float* z = x.v.data() + std::size_t(i) * k;
    const double m = *std::max_element(z, z + k);
    double s = 0;
    for (int j = 0; j < k; ++j) s += std::exp(double(z[j]) - m);
    for (int j = 0; j < k; ++j) probs[std::size_t(i) * k + j] = float(std::exp(double(z[j]) - m) / s);
  }
  return {x.v, probs};
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(double(a[i]) - double(b[i])));
  return d;
}
double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float v : a) m = std::max(m, std::fabs(double(v)));
  return m;
}

int run_check() {
  constexpr int batch = 2;
  const std::vector<float> params = random_params(1234);
  const std::vector<float> input = random_input(batch, 5678);
  const auto t0 = std::chrono::steady_clock::now();
  const auto [ref_logits, ref_probs] = ref_forward(params, input.data(), batch);
  const double ref_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("reference forward (batch %d): %.1f s; max |logit| = %.4g, max prob = %.4g\n", batch, ref_s,
              max_abs(ref_logits), max_abs(ref_probs));

  bool ok = true;
  onednn_alexnet::conv_plan wino;
  bool any_wino = false;
  for (int l = 0; l < onednn_alexnet::conv_layers; ++l) {
    const bool has = onednn_alexnet::supports(batch, l, onednn_alexnet::algo::winograd);
    wino[std::size_t(l)] = has ? onednn_alexnet::algo::winograd : onednn_alexnet::algo::direct;
    any_wino = any_wino || has;
  }
  std::vector<std::pair<onednn_alexnet::conv_plan, std::string>> plans;
  onednn_alexnet::conv_plan uniform;
  uniform.fill(onednn_alexnet::algo::direct);
  plans.emplace_back(uniform, "direct");
  uniform.fill(onednn_alexnet::algo::automatic);
  plans.emplace_back(uniform, "auto");
  if (any_wino)
    plans.emplace_back(wino, "winograd where implemented (" + onednn_alexnet::describe(wino) + ")");
  else
    std::printf("check: oneDNN implements Winograd for none of the convolutions on this CPU; not checked\n");
  for (const auto& [plan, name_str] : plans) {
    const char* name = name_str.c_str();
    onednn_alexnet net(batch, plan);
    net.set_weights(params.data());
    std::vector<float> probs(std::size_t(batch) * 1000), logits(std::size_t(batch) * 1000);
    net.forward(input.data(), probs.data());
    net.forward_logits(input.data(), logits.data());
    const double dp = max_abs_diff(probs, ref_probs);
    const double dl = max_abs_diff(logits, ref_logits);
    const double dl_rel = dl / std::max(1.0, max_abs(ref_logits));
    double row_err = 0;  // softmax rows must sum to 1
    for (int i = 0; i < batch; ++i) {
      double s = 0;
      for (int j = 0; j < 1000; ++j) s += probs[std::size_t(i) * 1000 + j];
      row_err = std::max(row_err, std::fabs(s - 1.0));
    }
    const bool pass = dp < 1e-5 && dl_rel < 1e-4 && row_err < 1e-4;
    ok = ok && pass;
    std::printf(
        "check alg=%s: softmax max_abs_diff=%.3g (limit 1e-5), logits max_abs_diff=%.3g "
        "(relative to max |logit|: %.3g, limit 1e-4), |row sum - 1| <= %.2g: %s\n",
        name, dp, dl, dl_rel, row_err, pass ? "PASS" : "FAIL");
  }
  std::printf("%s\n", ok ? "onednn_alexnet check: PASS" : "onednn_alexnet check: FAIL");
  return ok ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------------------

constexpr double kGflopPerImage = 2.0 * 1'135'256'096 * 1e-9;  // nominal multiply-adds of conv and dense layers

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<int> parse_list(const char* s) {
  std::vector<int> out;
  for (const char* p = s; *p;) {
    char* end = nullptr;
    const long v = std::strtol(p, &end, 10);
    if (end == p || v < 1) {
      std::fprintf(stderr, "bad number list: %s\n", s);
      std::exit(1);
    }
    out.push_back(int(v));
    p = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') {
      std::fprintf(stderr, "bad number list: %s\n", s);
      std::exit(1);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::pair<dnnl::algorithm, std::string>> algs = {{onednn_alexnet::direct, "direct"},
                                                               {onednn_alexnet::automatic, "auto"}};
  bool best = false;
  std::vector<int> threads = {1, 2}, batches = {1, 64};
  int iters = 0, warmup = -1, rounds = 1;
  bool info = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(1);
      }
      return argv[++i];
    };
    if (a == "--check") return run_check();
    if (a == "--info")
      info = true;
    else if (a == "--threads")
      threads = parse_list(value());
    else if (a == "--batch")
      batches = parse_list(value());
    else if (a == "--iters")
      iters = parse_list(value()).at(0);
    else if (a == "--warmup")
      warmup = std::atoi(value());
    else if (a == "--rounds")
      rounds = parse_list(value()).at(0);
    else if (a == "--alg") {
      const std::string v = value();
      if (v == "direct")
        algs.resize(1);
      else if (v == "auto")
        algs.erase(algs.begin());
      else if (v == "best")
        best = true;
      else if (v != "both") {
        std::fprintf(stderr, "--alg direct|auto|both|best\n");
        return 1;
      }
    } else {
      std::fprintf(stderr,
                   "usage: %s [--check] [--alg direct|auto|both|best] [--threads 1,2] [--batch 1,64] [--iters N] "
                   "[--warmup N] [--rounds R] [--info]\n",
                   argv[0]);
      return 1;
    }
  }

  if (best) algs = {{onednn_alexnet::direct, "best"}};  // the algorithm is ignored: the plan found is used
  const std::vector<float> params = random_params(42);
  int max_batch = *std::max_element(batches.begin(), batches.end());
  const std::vector<float> input = random_input(max_batch, 7);
  std::vector<float> out(std::size_t(max_batch) * 1000);

  // key: (alg, batch, threads) -> per-round medians in ms
  std::map<std::tuple<std::string, int, int>, std::vector<double>> results;
  std::map<std::pair<int, int>, onednn_alexnet::conv_plan> best_plans;  // (threads, batch) -> plan
  if (best) {
    for (int t : threads)
      for (int b : batches) {
        onednn_alexnet::set_threads(t);
        const auto sel = onednn_alexnet::select_fastest(b, params.data(), input.data());
        std::printf("%s", sel.report.c_str());
        best_plans[{t, b}] = sel.plan;
      }
  }
  for (int round = 0; round < rounds; ++round)
    for (int t : threads)
      for (int b : batches)
        for (const auto& [alg, name] : algs) {
          onednn_alexnet::set_threads(t);
          onednn_alexnet net = best ? onednn_alexnet(b, best_plans.at({t, b})) : onednn_alexnet(b, alg);
          net.set_weights(params.data());
          if (info && round == 0)
            std::printf("# alg=%s batch=%d threads=%d implementations:\n%s", name.c_str(), b, t,
                        net.impl_info().c_str());
          const int n_warm = warmup >= 0 ? warmup : (b == 1 ? 5 : 2);
          const int n_iter = iters > 0 ? iters : (b == 1 ? 40 : 8);
          for (int k = 0; k < n_warm; ++k) net.forward(input.data(), out.data());
          std::vector<double> ms;
          ms.reserve(std::size_t(n_iter));
          for (int k = 0; k < n_iter; ++k) {
            const auto t0 = std::chrono::steady_clock::now();
            net.forward(input.data(), out.data());
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
          }
          const double med = median(ms);
          results[{name, b, t}].push_back(med);
          if (best) std::printf("# plan %s\n", onednn_alexnet::describe(net.plan()).c_str());
          std::printf("onednn_alexnet alg=%s batch=%d threads=%d ms_per_batch_median=%.2f images_per_s=%.1f\n",
                      name.c_str(), b, t, med, 1000.0 * b / med);
          std::printf("#   iterations=%d min=%.2f max=%.2f ms; ms_per_image=%.2f; nominal GFLOP/s=%.1f\n", n_iter,
                      *std::min_element(ms.begin(), ms.end()), *std::max_element(ms.begin(), ms.end()), med / b,
                      kGflopPerImage * b / (med * 1e-3));
          std::fflush(stdout);
        }

  if (rounds > 1) {
    std::printf("# summary over %d rounds: median of per-round medians [min-max]\n", rounds);
    for (const auto& [key, meds] : results) {
      const auto& [name, b, t] = key;
      const double med = median(meds);
      std::printf("# alg=%s batch=%d threads=%d ms_per_batch=%.2f [%.2f-%.2f] images_per_s=%.1f [%.1f-%.1f]\n",
                  name.c_str(), b, t, med, *std::min_element(meds.begin(), meds.end()),
                  *std::max_element(meds.begin(), meds.end()), 1000.0 * b / med,
                  1000.0 * b / *std::max_element(meds.begin(), meds.end()),
                  1000.0 * b / *std::min_element(meds.begin(), meds.end()));
    }
  }
  return 0;
}
