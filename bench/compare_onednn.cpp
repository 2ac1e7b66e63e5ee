// bench_compare_onednn: the seed AlexNet in typenet (exec::simd) and in oneDNN 2.6 (bench/peers), side by
// side, with the same weights and inputs, against oneDNN in its fastest configuration.
//
// For each configuration (batch 1 and 64; 1 and 2 threads):
//   1. oneDNN's convolution algorithm is chosen per layer by measurement in this process
//      (onednn_alexnet::select_fastest: direct, Winograd where oneDNN implements it, auto; each candidate's
//      logits checked against all-direct first); the report, with oneDNN's implementation names, is printed.
//   2. The logits (the network without its final softmax) of typenet and of that oneDNN network are
//      compared: max |typenet - oneDNN| <= 1e-4 * max |oneDNN logit| (see logit_bound below). A mismatch
//      stops the program with exit status 1, before any timing (the JSON, if asked for, is written with
//      the failed check).
//   3. For R rounds, typenet and oneDNN (and oneDNN all-direct, when the fastest plan is another) each run
//      K timed forward passes of the whole network, softmax included, back to back; the order rotates
//      between rounds; each round keeps each one's median. Printed: the median over rounds of the per-round
//      medians [min - max], per image, and the speed ratio oneDNN time / typenet time (> 1: typenet is
//      faster).
//
//   bench_compare_onednn [--rounds R] [--iters1 K] [--iters64 K] [--select-rounds R] [--json FILE]
//                        [--only BATCHxTHREADS[,BATCHxTHREADS...]] [--plan PLAN]
//   bench_compare_onednn --dump DIR
//
// --plan skips step 1 and uses the given oneDNN plan: "direct", "auto", "winograd" (every convolution) or
// one algorithm per convolution, "conv1=auto,conv2=direct,conv3=winograd,conv4=winograd,conv5=direct"
// (as printed after "oneDNN plan"); bench/peers/onnx_peers.py selects once per configuration and then
// passes the plan. --dump writes what the other peers are checked against and exits: DIR/weights.safetensors
// (the weights, PyTorch names), and for batch 1 and 64 DIR/input_b<N>.npy, typenet's logits
// DIR/logits_b<N>.npy and softmax probabilities DIR/probs_b<N>.npy (exec::simd, 1 thread).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <onednn_alexnet.hpp>
#include <typenet/exec/simd.hpp>
#include <typenet/zoo/alexnet.hpp>
#if __has_include(<nlohmann/json.hpp>)
#include <typenet/io.hpp>
#include <typenet/io/weights.hpp>
#define TYPENET_BENCH_HAVE_IO 1
#endif

namespace tn = typenet;
using net = tn::zoo::seed_alexnet;
using clock_type = std::chrono::steady_clock;

namespace {

// The network without its last entry: for seed_alexnet, the same layers up to fc8, i.e. the logits. The
// parameters are the same (softmax has none), so one weight buffer serves both.
template <class Done, class... Rest>
struct without_last;
template <class... Done, class Last>
struct without_last<tn::type_list<Done...>, Last> {
  using type = tn::network<Done...>;
};
template <class... Done, class A, class B, class... Rest>
struct without_last<tn::type_list<Done...>, A, B, Rest...> : without_last<tn::type_list<Done..., A>, B, Rest...> {};
template <class Entries>
struct logits_network;
template <class... E>
struct logits_network<tn::type_list<E...>> : without_last<tn::type_list<>, E...> {};
struct logits_net : logits_network<net::entries>::type {};

static_assert(std::is_same_v<typename tn::layer_at<net, tn::layer_count<net> - 1>::layer, tn::softmax>,
              "seed_alexnet ends in softmax");
static_assert(tn::layer_count<logits_net> == tn::layer_count<net> - 1);
static_assert(tn::param_count<logits_net> == tn::param_count<net>);
static_assert(tn::output_shape<logits_net> == tn::shape<1000>{});

// The logit check's bound, relative to the largest |logit|. typenet and oneDNN compute the same fp32
// products and differ only in rounding: the order of the sums, and Winograd F(2x2,3x3) on conv3-5 in typenet
// (oneDNN's Winograd too, where chosen), whose transforms add a few roundings per output. A layer summing K
// products rounds with a relative error of about sqrt(K) * 2^-24 of its largest sums (K = 9216 in fc6:
// 6e-6); Winograd's transforms scale that by a small factor, and eight layers add up, which predicts errors
// around 1e-5 of the largest logit (measured: 2e-6 to 3e-6). 1e-4 leaves ten times that, while a real error
// (a wrong tap, a missing bias or ReLU, a layout mix-up) moves logits by a good part of their own size. The
// bound is relative to the largest logit, not per element, because the small logits carry the absolute
// error of the large sums they came from.
constexpr double logit_bound = 1e-4;

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

std::string read_first_line(const char* path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

// "cpu family : 25, model : 1, model name : AMD EPYC" from /proc/cpuinfo (first CPU).
std::string cpu_description() {
  std::ifstream f("/proc/cpuinfo");
  std::string line, family, model, name;
  while (std::getline(f, line)) {
    auto value = [&] { return line.substr(line.find(':') + 2); };
    if (line.rfind("cpu family", 0) == 0 && family.empty()) family = value();
    if (line.rfind("model\t", 0) == 0 && model.empty()) model = value();
    if (line.rfind("model name", 0) == 0 && name.empty()) name = value();
    if (!family.empty() && !model.empty() && !name.empty()) break;
  }
  return name + ", family " + family + " model " + model;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += std::string("\\") + c;
    else if (c == '\n')
      out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20)
      out += ' ';
    else
      out += c;
  }
  return out + "\"";
}

struct logit_check {
  double max_abs_diff = 0, max_abs_logit = 0, bound = 0, softmax_max_abs_diff = 0;
  bool pass = false;
};

struct result {
  int batch = 0, threads = 0;
  std::string plan, impls, selection_report, loadavg_before, loadavg_after, started;
  logit_check check;
  bool direct_timed = false;
  std::vector<double> typenet_ms, onednn_ms, onednn_direct_ms;  // per round, per batch
};

void write_json(const std::string& path, int rounds, const std::vector<result>& results) {
  std::ofstream f(path);
  f << "{\n  \"program\": \"bench_compare_onednn\",\n  \"cpu\": " << json_string(cpu_description())
    << ",\n  \"rounds\": " << rounds << ",\n  \"logit_bound_relative\": " << logit_bound << ",\n  \"results\": [\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const result& r = results[i];
    auto list = [&](const std::vector<double>& v) {
      std::string s = "[";
      for (std::size_t j = 0; j < v.size(); ++j) s += (j ? ", " : "") + std::to_string(v[j] / r.batch);
      return s + "]";
    };
    f << "    {\"batch\": " << r.batch << ", \"threads\": " << r.threads
      << ", \"started_utc\": " << json_string(r.started) << ", \"loadavg_before\": " << json_string(r.loadavg_before)
      << ", \"loadavg_after\": " << json_string(r.loadavg_after) << ",\n     \"onednn_plan\": " << json_string(r.plan)
      << ", \"onednn_conv_impls\": " << json_string(r.impls)
      << ",\n     \"onednn_selection\": " << json_string(r.selection_report)
      << ",\n     \"check\": {\"compared\": \"logits (network without its final softmax)\", \"max_abs_diff\": "
      << r.check.max_abs_diff << ", \"max_abs_logit\": " << r.check.max_abs_logit << ", \"bound\": " << r.check.bound
      << ", \"pass\": " << (r.check.pass ? "true" : "false")
      << ", \"softmax_max_abs_diff\": " << r.check.softmax_max_abs_diff
      << "},\n     \"typenet_ms_per_img\": " << list(r.typenet_ms) << ", \"onednn_ms_per_img\": " << list(r.onednn_ms);
    if (r.direct_timed) f << ", \"onednn_direct_ms_per_img\": " << list(r.onednn_direct_ms);
    f << "}" << (i + 1 < results.size() ? "," : "") << "\n";
  }
  f << "  ]\n}\n";
}

// "direct" / "auto" / "winograd", or "conv1=auto,conv2=direct,..." (all five); exits on anything else.
onednn_alexnet::conv_plan parse_plan(const std::string& text) {
  auto algo_of = [&](const std::string& a) {
    for (auto x : {onednn_alexnet::algo::direct, onednn_alexnet::algo::winograd, onednn_alexnet::algo::automatic})
      if (a == onednn_alexnet::name(x)) return x;
    std::fprintf(stderr, "bench_compare_onednn: --plan: unknown algorithm '%s' in '%s'\n", a.c_str(), text.c_str());
    std::exit(1);
  };
  onednn_alexnet::conv_plan plan;
  if (text.find('=') == std::string::npos) {
    plan.fill(algo_of(text));
    return plan;
  }
  std::string norm = text;
  std::replace(norm.begin(), norm.end(), ' ', ',');
  std::stringstream ss(norm);
  int seen = 0;
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    const std::string layer = item.substr(0, eq);
    if (eq == std::string::npos || layer.size() != 5 || layer.rfind("conv", 0) != 0 || layer[4] < '1' ||
        layer[4] > '5') {
      std::fprintf(stderr, "bench_compare_onednn: --plan: bad item '%s'\n", item.c_str());
      std::exit(1);
    }
    plan[std::size_t(layer[4] - '1')] = algo_of(item.substr(eq + 1));
    seen |= 1 << (layer[4] - '1');
  }
  if (seen != 31) {
    std::fprintf(stderr, "bench_compare_onednn: --plan needs all of conv1 .. conv5: '%s'\n", text.c_str());
    std::exit(1);
  }
  return plan;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5, iters1 = 20, iters64 = 3, select_rounds = 3;
  std::string json, only, plan_text, dump;
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
    else if (a == "--select-rounds")
      select_rounds = std::stoi(next());
    else if (a == "--json")
      json = next();
    else if (a == "--only")
      only = "," + next() + ",";
    else if (a == "--plan")
      plan_text = next();
    else if (a == "--dump")
      dump = next();
    else {
      std::fprintf(stderr, "bench_compare_onednn: unknown argument %s\n", a.c_str());
      return 1;
    }
  }
  std::printf("bench_compare_onednn: %s, %s, load average %s\n", cpu_description().c_str(), utc_now().c_str(),
              read_first_line("/proc/loadavg").c_str());

  tn::params<net> p;
  tn::init_he(p, 1);
  tn::params<logits_net> p_logits;
  std::copy_n(p.data(), tn::param_count<net>, p_logits.data());
  static_assert(tn::param_count<net> == onednn_alexnet::param_count);

  if (!dump.empty()) {
#ifdef TYPENET_BENCH_HAVE_IO
    const std::filesystem::path dir(dump);
    std::filesystem::create_directories(dir);
    tn::io::save_weights(dir / "weights.safetensors", p);
    for (int batch : {1, 64}) {
      std::vector<float> in(static_cast<std::size_t>(batch) * net::input_shape::size);
      tn::fill_uniform(in, 100 + batch, 0.f, 1.f);  // the inputs of the comparison below
      std::vector<float> logits(static_cast<std::size_t>(batch) * 1000), probs(logits.size());
      tn::model<logits_net, tn::exec::simd<>> ml(p_logits, batch);
      tn::model<net, tn::exec::simd<>> m(p, batch);
      ml.forward(in.data(), logits.data(), batch);
      m.forward(in.data(), probs.data(), batch);
      const std::string b = std::to_string(batch);
      tn::io::write_npy(dir / ("input_b" + b + ".npy"), {batch, 3, 227, 227}, in);
      tn::io::write_output<logits_net>(dir / ("logits_b" + b + ".npy"), logits, batch);
      tn::io::write_output<net>(dir / ("probs_b" + b + ".npy"), probs, batch);
    }
    std::printf("bench_compare_onednn: wrote weights, inputs, logits and probabilities to %s\n", dump.c_str());
    return 0;
#else
    std::fprintf(stderr, "bench_compare_onednn: --dump needs typenet/io.hpp (nlohmann-json)\n");
    return 1;
#endif
  }

  std::vector<result> results;
  for (int batch : {1, 64}) {
    for (int threads : {1, 2}) {
      if (!only.empty() &&
          only.find("," + std::to_string(batch) + "x" + std::to_string(threads) + ",") == std::string::npos)
        continue;
      result r;
      r.batch = batch;
      r.threads = threads;
      r.started = utc_now();
      r.loadavg_before = read_first_line("/proc/loadavg");
      std::vector<float> in(static_cast<std::size_t>(batch) * net::input_shape::size);
      tn::fill_uniform(in, 100 + batch, 0.f, 1.f);
      const std::size_t out_size = static_cast<std::size_t>(batch) * 1000;
      std::vector<float> out_tn(out_size), out_dnnl(out_size);

      tn::exec::simd<> policy;
      policy.threads = threads;
      tn::model<net, tn::exec::simd<>> m(p, batch, policy);
      onednn_alexnet::set_threads(threads);

      // 1. oneDNN's fastest convolution algorithms, by measurement (or the plan given).
      onednn_alexnet::selection sel;
      if (plan_text.empty()) {
        sel = onednn_alexnet::select_fastest(batch, p.data(), in.data(), select_rounds, batch == 1 ? 10 : 2);
      } else {
        sel.plan = parse_plan(plan_text);
        sel.report = "oneDNN plan given by --plan: " + onednn_alexnet::describe(sel.plan) + "\n";
      }
      std::printf("%s", sel.report.c_str());
      onednn_alexnet d(batch, sel.plan);
      d.set_weights(p.data());
      r.plan = onednn_alexnet::describe(sel.plan);
      r.selection_report = sel.report;
      for (int l = 0; l < onednn_alexnet::conv_layers; ++l)
        r.impls += std::string(l ? " " : "") + "conv" + std::to_string(l + 1) + "=" + d.conv_impl(l);
      onednn_alexnet::conv_plan direct_plan;
      direct_plan.fill(onednn_alexnet::algo::direct);
      std::unique_ptr<onednn_alexnet> d_direct;
      if (sel.plan != direct_plan) {
        d_direct = std::make_unique<onednn_alexnet>(batch, direct_plan);
        d_direct->set_weights(p.data());
        r.direct_timed = true;
      }

      // 2. The logits of both, then the probabilities, before any timing.
      {
        tn::model<logits_net, tn::exec::simd<>> ml(p_logits, batch, policy);
        std::vector<float> logits_tn(out_size), logits_dnnl(out_size);
        ml.forward(in.data(), logits_tn.data(), batch);
        d.forward_logits(in.data(), logits_dnnl.data());
        logit_check& c = r.check;
        for (std::size_t i = 0; i < out_size; ++i) {
          const double diff = std::abs(double(logits_tn[i]) - double(logits_dnnl[i]));
          c.max_abs_diff = std::max(c.max_abs_diff, std::isnan(diff) ? INFINITY : diff);
          c.max_abs_logit = std::max(c.max_abs_logit, std::abs(double(logits_dnnl[i])));
        }
        c.bound = logit_bound * c.max_abs_logit;
        c.pass = c.max_abs_logit > 0 && std::isfinite(c.max_abs_logit) && c.max_abs_diff <= c.bound;
        m.forward(in.data(), out_tn.data(), batch);
        d.forward(in.data(), out_dnnl.data());
        for (std::size_t i = 0; i < out_size; ++i)
          c.softmax_max_abs_diff = std::max(c.softmax_max_abs_diff, std::abs(double(out_tn[i]) - double(out_dnnl[i])));
        std::printf(
            "batch %2d threads %d: logits %s: max |typenet - oneDNN| %.3g, max |logit| %.4g, bound %.3g (%.0e x max "
            "|logit|); softmax max |diff| %.3g\n",
            batch, threads, c.pass ? "agree" : "DIFFER", c.max_abs_diff, c.max_abs_logit, c.bound, logit_bound,
            c.softmax_max_abs_diff);
        std::fflush(stdout);
        if (!c.pass) {
          r.loadavg_after = read_first_line("/proc/loadavg");
          results.push_back(r);
          if (!json.empty()) write_json(json, rounds, results);
          std::fprintf(stderr,
                       "bench_compare_onednn: typenet's logits differ from oneDNN's at batch %d, %d thread(s): max "
                       "|diff| %.3g > %.3g; not timing\n",
                       batch, threads, c.max_abs_diff, c.bound);
          return 1;
        }
      }

      // 3. Timing, the order rotating between rounds.
      const int iters = batch == 1 ? iters1 : iters64;
      auto run_tn = [&] { return time_median_ms([&] { m.forward(in.data(), out_tn.data(), batch); }, iters); };
      auto run_dnnl = [&] { return time_median_ms([&] { d.forward(in.data(), out_dnnl.data()); }, iters); };
      auto run_direct = [&] { return time_median_ms([&] { d_direct->forward(in.data(), out_dnnl.data()); }, iters); };
      const int engines = r.direct_timed ? 3 : 2;
      for (int k = 0; k < rounds; ++k) {
        for (int j = 0; j < engines; ++j) {
          const int e = (j + k) % engines;
          if (e == 0)
            r.typenet_ms.push_back(run_tn());
          else if (e == 1)
            r.onednn_ms.push_back(run_dnnl());
          else
            r.onednn_direct_ms.push_back(run_direct());
          // A pause between engines, so that spinning worker threads settle.
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }
      r.loadavg_after = read_first_line("/proc/loadavg");
      const double mt = median(r.typenet_ms) / batch, md = median(r.onednn_ms) / batch;
      auto lo = [&](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()) / batch; };
      auto hi = [&](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()) / batch; };
      std::printf(
          "batch %2d threads %d: typenet %8.3f ms/img [%.3f-%.3f] %7.1f img/s | oneDNN best %8.3f ms/img [%.3f-%.3f] "
          "%7.1f img/s | typenet/oneDNN speed %.3fx\n",
          batch, threads, mt, lo(r.typenet_ms), hi(r.typenet_ms), 1000.0 / mt, md, lo(r.onednn_ms), hi(r.onednn_ms),
          1000.0 / md, md / mt);
      if (r.direct_timed) {
        const double mdd = median(r.onednn_direct_ms) / batch;
        std::printf("batch %2d threads %d: oneDNN all-direct %8.3f ms/img [%.3f-%.3f] | typenet/oneDNN-direct %.3fx\n",
                    batch, threads, mdd, lo(r.onednn_direct_ms), hi(r.onednn_direct_ms), mdd / mt);
      }
      std::printf("batch %2d threads %d: oneDNN plan %s; load average before %s, after %s\n", batch, threads,
                  r.plan.c_str(), r.loadavg_before.c_str(), r.loadavg_after.c_str());
      std::fflush(stdout);
      results.push_back(r);
    }
  }

  if (!json.empty()) write_json(json, rounds, results);
  return 0;
}
