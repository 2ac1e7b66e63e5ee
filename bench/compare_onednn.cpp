// bench_compare_onednn: the seed AlexNet in typenet (exec::simd) and in oneDNN 2.6 (bench/peers), side by
// side, with the same weights and inputs.
//
// For each configuration (batch 1 and 64; 1 and 2 threads) both are built once; then, for R rounds, each
// runs K timed forward passes back to back (the order alternates between rounds), and the round keeps each
// one's median. Printed: the median over rounds of the per-round medians [min - max], per image, and the
// typenet / oneDNN speed ratio (> 1: typenet is faster). Before timing, the outputs (softmax probabilities)
// are checked to agree within 1e-4 + 1e-3 * |oneDNN| per element; a mismatch fails the program (exit 1).
//
//   bench_compare_onednn [--rounds R] [--iters1 K] [--iters64 K] [--json FILE] [--only BATCHxTHREADS]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <onednn_alexnet.hpp>
#include <typenet/exec/simd.hpp>
#include <typenet/zoo/networks.hpp>

namespace tn = typenet;
using net = tn::zoo::seed_alexnet;
using clock_type = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

template <class F>
double time_median_ms(F&& f, int iters) {
  std::vector<double> t;
  t.reserve(static_cast<std::size_t>(iters));
  for (int i = 0; i < iters; ++i) {
    const auto a = clock_type::now();
    f();
    const auto b = clock_type::now();
    t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
  }
  return median(t);
}

struct result {
  int batch, threads;
  std::vector<double> typenet_ms, onednn_ms;  // per round, per batch
};

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5, iters1 = 20, iters64 = 3;
  std::string json, only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_compare_onednn: %s needs a value\n", a.c_str());
        std::exit(1);
      }
      return argv[++i];
    };
    if (a == "--rounds")
      rounds = std::stoi(next());
    else if (a == "--iters1")
      iters1 = std::stoi(next());
    else if (a == "--iters64")
      iters64 = std::stoi(next());
    else if (a == "--json")
      json = next();
    else if (a == "--only")
      only = next();
    else {
      std::fprintf(stderr, "bench_compare_onednn: unknown argument %s\n", a.c_str());
      return 1;
    }
  }

  tn::params<net> p;
  tn::init_he(p, 1);
  static_assert(tn::param_count<net> == onednn_alexnet::param_count);

  std::vector<result> results;
  bool ok = true;
  for (int batch : {1, 64}) {
    for (int threads : {1, 2}) {
      if (!only.empty() && only != std::to_string(batch) + "x" + std::to_string(threads)) continue;
      std::vector<float> in(static_cast<std::size_t>(batch) * net::input_shape::size);
      tn::fill_uniform(in, 100 + batch, 0.f, 1.f);
      std::vector<float> out_tn(static_cast<std::size_t>(batch) * 1000), out_dnnl(out_tn.size());

      tn::exec::simd<> policy;
      policy.threads = threads;
      tn::model<net, tn::exec::simd<>> m(p, batch, policy);
      onednn_alexnet::set_threads(threads);
      onednn_alexnet d(batch, onednn_alexnet::direct);
      d.set_weights(p.data());

      m.forward(in.data(), out_tn.data(), batch);
      d.forward(in.data(), out_dnnl.data());
      std::size_t bad = 0;
      double worst = 0;
      for (std::size_t i = 0; i < out_tn.size(); ++i) {
        const double diff = std::abs(double(out_tn[i]) - double(out_dnnl[i]));
        worst = std::max(worst, diff);
        if (!(diff <= 1e-4 + 1e-3 * std::abs(double(out_dnnl[i])))) ++bad;
      }
      std::printf("batch %2d threads %d: outputs %s (max |diff| %.3g over %zu values)\n", batch, threads,
                  bad ? "DIFFER" : "agree", worst, out_tn.size());
      if (bad) ok = false;

      const int iters = batch == 1 ? iters1 : iters64;
      result r{batch, threads, {}, {}};
      auto run_tn = [&] { return time_median_ms([&] { m.forward(in.data(), out_tn.data(), batch); }, iters); };
      auto run_dnnl = [&] { return time_median_ms([&] { d.forward(in.data(), out_dnnl.data()); }, iters); };
      for (int k = 0; k < rounds; ++k) {
        double t_tn, t_dnnl;
        // Alternate which goes first; pause between them so spinning worker threads settle.
        if (k % 2 == 0) {
          t_tn = run_tn();
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          t_dnnl = run_dnnl();
        } else {
          t_dnnl = run_dnnl();
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          t_tn = run_tn();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        r.typenet_ms.push_back(t_tn);
        r.onednn_ms.push_back(t_dnnl);
      }
      const double mt = median(r.typenet_ms) / batch, md = median(r.onednn_ms) / batch;
      auto lo = [&](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()) / batch; };
      auto hi = [&](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()) / batch; };
      std::printf(
          "batch %2d threads %d: typenet %8.3f ms/img [%.3f-%.3f] %7.1f img/s | oneDNN %8.3f ms/img [%.3f-%.3f] "
          "%7.1f img/s | typenet/oneDNN speed %.3fx\n",
          batch, threads, mt, lo(r.typenet_ms), hi(r.typenet_ms), 1000.0 / mt, md, lo(r.onednn_ms), hi(r.onednn_ms),
          1000.0 / md, md / mt);
      std::fflush(stdout);
      results.push_back(r);
    }
  }

  if (!json.empty()) {
    std::ofstream f(json);
    f << "{\n  \"rounds\": " << rounds << ",\n  \"results\": [\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const result& r = results[i];
      auto list = [&](const std::vector<double>& v) {
        std::string s = "[";
        for (std::size_t j = 0; j < v.size(); ++j) s += (j ? ", " : "") + std::to_string(v[j] / r.batch);
        return s + "]";
      };
      f << "    {\"batch\": " << r.batch << ", \"threads\": " << r.threads
        << ", \"typenet_ms_per_img\": " << list(r.typenet_ms) << ", \"onednn_ms_per_img\": " << list(r.onednn_ms) << "}"
        << (i + 1 < results.size() ? "," : "") << "\n";
    }
    f << "  ]\n}\n";
  }
  return ok ? 0 : 1;
}
