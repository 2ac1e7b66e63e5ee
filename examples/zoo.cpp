// typenet-zoo: the command line over the networks typenet ships (DESIGN.md §5).
//
//   typenet-zoo list
//   typenet-zoo summary NET
//   typenet-zoo run NET --weights W.safetensors --input X.npy --output Y.npy [--policy reference|simd] [--threads N]
//   typenet-zoo bench NET [--batch N] [--threads N] [--iters K] [--policy reference|simd]
//   typenet-zoo demo NET [--policy reference|simd] [--threads N]
//
// Errors (unknown network or flag, missing or malformed files, shapes that do not match the network) are
// one line on stderr and exit status 1; `run` writes its output file only when everything succeeded.
#include <typenet/io.hpp>
#include <typenet/io/weights.hpp>
#include <typenet/typenet.hpp>
#include <typenet/zoo/networks.hpp>

// The simd policy is used when its header is there (TYPENET_ZOO_NO_SIMD builds without it).
#if __has_include(<typenet/exec/simd.hpp>) && !defined(TYPENET_ZOO_NO_SIMD)
#include <typenet/exec/simd.hpp>
#define TYPENET_ZOO_HAS_SIMD 1
#else
#define TYPENET_ZOO_HAS_SIMD 0
#endif

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <map>
#include <numeric>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace tn = typenet;

namespace {

/// A usage or argument error: reported like every other error, as one line.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr const char* usage_text =
    "usage:\n"
    "  typenet-zoo list\n"
    "  typenet-zoo summary NET\n"
    "  typenet-zoo run NET --weights W.safetensors --input X.npy --output Y.npy [--policy reference|simd] "
    "[--threads N]\n"
    "  typenet-zoo bench NET [--batch N] [--threads N] [--iters K] [--policy reference|simd]\n"
    "  typenet-zoo demo NET [--policy reference|simd] [--threads N]\n";

// ---- the networks ------------------------------------------------------------------------------------

template <class Net>
struct entry {
  using type = Net;
  const char* name;
  const char* about;
};

constexpr auto networks = std::make_tuple(
    entry<tn::zoo::seed_alexnet>{"seed_alexnet", "AlexNet of DESIGN.md: 3x227x227 -> 1000 softmax, single tower"},
    entry<tn::zoo::torchvision_alexnet>{"torchvision_alexnet",
                                        "torchvision.models.alexnet(): 3x224x224 -> 1000 logits"},
    entry<tn::zoo::caffe_alexnet>{"caffe_alexnet",
                                  "bvlc_alexnet: LRN, ceil pools, grouped convs; 3x227x227 -> 1000 softmax"},
    entry<tn::zoo::lenet5>{"lenet5", "LeNet-5 with ReLU and max-pool: 1x32x32 -> 10 logits"});

/// Calls f(std::type_identity<Net>{}) for the network called `name`; throws for an unknown name.
template <class F>
void with_network(std::string_view name, F&& f) {
  bool found = false;
  std::apply(
      [&](const auto&... e) {
        ((!found && name == e.name
              ? (found = true, f(std::type_identity<typename std::decay_t<decltype(e)>::type>{}), 0)
              : 0),
         ...);
      },
      networks);
  if (!found) {
    std::string known;
    std::apply([&](const auto&... e) { ((known += (known.empty() ? "" : ", ") + std::string(e.name)), ...); },
               networks);
    throw usage_error("unknown network '" + std::string(name) + "' (known: " + known + ")");
  }
}

template <class Net>
constexpr bool ends_in_softmax() {
  using last = tn::layer_at<Net, tn::layer_count<Net> - 1>;
  return std::is_same_v<typename last::layer, tn::softmax>;
}

// ---- arguments ---------------------------------------------------------------------------------------

struct options {
  std::map<std::string, std::string> flags;  // "--weights" -> "w.safetensors"
  std::vector<std::string> positional;
};

options parse(int argc, char** argv, int first, std::initializer_list<std::string_view> allowed) {
  options o;
  for (int i = first; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a.starts_with("--")) {
      if (std::find(allowed.begin(), allowed.end(), a) == allowed.end())
        throw usage_error("unknown option '" + std::string(a) + "' for '" + argv[1] + "'");
      if (i + 1 >= argc) throw usage_error("option '" + std::string(a) + "' needs a value");
      if (!o.flags.emplace(std::string(a), argv[i + 1]).second)
        throw usage_error("option '" + std::string(a) + "' is given twice");
      ++i;
    } else {
      o.positional.emplace_back(a);
    }
  }
  return o;
}

std::string one_network(const options& o, const char* command) {
  if (o.positional.size() != 1)
    throw usage_error(std::string(command) + " takes exactly one network name (see 'typenet-zoo list')");
  return o.positional[0];
}

std::string required(const options& o, const std::string& flag) {
  auto it = o.flags.find(flag);
  if (it == o.flags.end()) throw usage_error("missing option " + flag);
  return it->second;
}

int positive_int(const options& o, const std::string& flag, int fallback) {
  auto it = o.flags.find(flag);
  if (it == o.flags.end()) return fallback;
  const std::string& s = it->second;
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 1)
    throw usage_error("option " + flag + " needs a positive integer, got '" + s + "'");
  return v;
}

enum class policy_kind { reference, simd };

struct run_options {
  policy_kind policy = policy_kind::reference;
  int threads = 1;
};

run_options policy_options(const options& o) {
  run_options r;
  auto it = o.flags.find("--policy");
  if (it != o.flags.end()) {
    if (it->second == "reference")
      r.policy = policy_kind::reference;
    else if (it->second == "simd")
      r.policy = policy_kind::simd;
    else
      throw usage_error("--policy must be 'reference' or 'simd', got '" + it->second + "'");
  }
  r.threads = positive_int(o, "--threads", 1);
  return r;
}

/// Calls f(policy_object, threads_used) with the policy chosen on the command line.
template <class F>
void with_policy(const run_options& r, F&& f) {
  if (r.policy == policy_kind::simd) {
#if TYPENET_ZOO_HAS_SIMD
    tn::exec::simd<> policy;
    policy.threads = r.threads;
    f(policy, r.threads, "simd");
    return;
#else
    std::fprintf(stderr, "typenet-zoo: the simd policy is not available in this build; using the reference policy\n");
#endif
  }
  if (r.threads != 1)
    std::fprintf(stderr, "typenet-zoo: note: the reference policy runs on one thread (--threads %d ignored)\n",
                 r.threads);
  f(tn::exec::reference, 1, "reference");
}

// ---- helpers -----------------------------------------------------------------------------------------

/// Warns on stderr when `values` holds NaN or infinities (they are data, not errors).
void warn_non_finite(std::span<const float> values, const std::string& what) {
  std::size_t nans = 0, infs = 0;
  for (float v : values) {
    if (std::isnan(v))
      ++nans;
    else if (std::isinf(v))
      ++infs;
  }
  if (nans + infs > 0)
    std::fprintf(stderr, "typenet-zoo: warning: %s contains %zu NaN and %zu infinite values\n", what.c_str(), nans,
                 infs);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

// ---- commands ----------------------------------------------------------------------------------------

int cmd_list() {
  std::apply([](const auto&... e) { ((std::printf("%-20s %s\n", e.name, e.about)), ...); }, networks);
  return 0;
}

int cmd_summary(const options& o) {
  with_network(one_network(o, "summary"), [](auto id) {
    using Net = typename decltype(id)::type;
    std::fputs(tn::describe<Net>().c_str(), stdout);
  });
  return 0;
}

int cmd_run(const options& o) {
  const std::string net = one_network(o, "run");
  const std::string weights = required(o, "--weights"), input = required(o, "--input"),
                    output = required(o, "--output");
  const run_options r = policy_options(o);
  with_network(net, [&](auto id) {
    using Net = typename decltype(id)::type;
    tn::params<Net> p;
    tn::io::load_weights(weights, p);
    const tn::io::input_batch x = tn::io::read_input<Net>(input);
    warn_non_finite(x.data, "input " + input);
    std::vector<float> y(static_cast<std::size_t>(x.batch) * Net::output_shape::size);
    with_policy(r, [&](const auto& policy, int threads, const char* policy_name) {
      tn::model<Net, std::decay_t<decltype(policy)>> m(p, x.batch, policy);
      const auto start = std::chrono::steady_clock::now();
      m.forward(std::span<const float>(x.data), std::span<float>(y), x.batch);
      const double ms = elapsed_ms(start);
      warn_non_finite(y, "output");
      tn::io::write_output<Net>(output, y, x.batch);
      std::printf("%s: %d x %s -> %s (policy %s, %d thread%s, %.3f ms)\n", net.c_str(), x.batch,
                  Net::input_shape::str().c_str(), output.c_str(), policy_name, threads, threads == 1 ? "" : "s", ms);
    });
  });
  return 0;
}

int cmd_bench(const options& o) {
  const std::string net = one_network(o, "bench");
  const int batch = positive_int(o, "--batch", 1);
  const int iters = positive_int(o, "--iters", 10);
  const run_options r = policy_options(o);
  with_network(net, [&](auto id) {
    using Net = typename decltype(id)::type;
    tn::params<Net> p;
    tn::init_he(p, 1);
    std::vector<float> x(static_cast<std::size_t>(batch) * Net::input_shape::size);
    std::vector<float> y(static_cast<std::size_t>(batch) * Net::output_shape::size);
    tn::fill_uniform(x, 2);
    with_policy(r, [&](const auto& policy, int threads, const char* policy_name) {
      tn::model<Net, std::decay_t<decltype(policy)>> m(p, batch, policy);
      m.forward(x.data(), y.data(), batch);  // warm-up
      std::vector<double> times;
      for (int i = 0; i < iters; ++i) {
        const auto start = std::chrono::steady_clock::now();
        m.forward(x.data(), y.data(), batch);
        times.push_back(elapsed_ms(start));
      }
      const double ms = median(times);
      std::printf("policy %s, %d timed iterations after 1 warm-up, %s multiply-adds per image\n", policy_name, iters,
                  std::to_string(tn::mac_count<Net>).c_str());
      std::printf("%s batch=%d threads=%d ms_per_batch_median=%.3f images_per_s=%.2f\n", net.c_str(), batch, threads,
                  ms, batch * 1000.0 / ms);
    });
  });
  return 0;
}

/// A deterministic, image-like input: smooth colour gradients with a few stripes, in about [-1, 1].
template <class Net>
std::vector<float> demo_input() {
  using in = typename Net::input_shape;
  std::vector<float> x(static_cast<std::size_t>(in::size));
  if constexpr (in::rank == 3) {
    const int c = in::dims[0], h = in::dims[1], w = in::dims[2];
    for (int ch = 0; ch < c; ++ch)
      for (int i = 0; i < h; ++i)
        for (int j = 0; j < w; ++j)
          x[(static_cast<std::size_t>(ch) * h + i) * w + j] =
              static_cast<float>(0.6 * std::sin(0.05 * (i + 1) * (ch + 1)) * std::cos(0.07 * j) +
                                 0.4 * ((i / 8 + j / 8 + ch) % 2 == 0 ? 1.0 : -1.0));
  } else {
    tn::fill_uniform(x, 3);
  }
  return x;
}

int cmd_demo(const options& o) {
  const std::string net = one_network(o, "demo");
  const run_options r = policy_options(o);
  with_network(net, [&](auto id) {
    using Net = typename decltype(id)::type;
    std::printf("%s\n", net.c_str());
    std::fputs(tn::describe<Net>().c_str(), stdout);
    tn::params<Net> p;
    tn::init_he(p, 1);
    const std::vector<float> x = demo_input<Net>();
    std::vector<float> y(static_cast<std::size_t>(Net::output_shape::size));
    with_policy(r, [&](const auto& policy, int threads, const char* policy_name) {
      const auto built = std::chrono::steady_clock::now();
      tn::model<Net, std::decay_t<decltype(policy)>> m(p, 1, policy);
      const double build_ms = elapsed_ms(built);
      const auto start = std::chrono::steady_clock::now();
      m.forward(std::span<const float>(x), std::span<float>(y), 1);
      const double ms = elapsed_ms(start);
      std::vector<double> prob(y.begin(), y.end());
      if constexpr (!ends_in_softmax<Net>()) {  // logits: show softmax probabilities
        const double top = *std::max_element(prob.begin(), prob.end());
        double sum = 0;
        for (double& v : prob) sum += (v = std::exp(v - top));
        for (double& v : prob) v /= sum;
      }
      std::vector<int> order(prob.size());
      std::iota(order.begin(), order.end(), 0);
      const std::size_t k = std::min<std::size_t>(5, order.size());
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(), [&](int a, int b) {
        return prob[static_cast<std::size_t>(a)] > prob[static_cast<std::size_t>(b)];
      });
      std::printf("\nrandom He weights (seed 1), one generated %s input, policy %s, %d thread%s\n",
                  Net::input_shape::str().c_str(), policy_name, threads, threads == 1 ? "" : "s");
      std::printf("top-%zu classes%s:\n", k, ends_in_softmax<Net>() ? "" : " (softmax of the logits)");
      for (std::size_t i = 0; i < k; ++i)
        std::printf("  class %4d  p = %.6f\n", order[i], prob[static_cast<std::size_t>(order[i])]);
      std::printf("forward pass: %.3f ms (model built in %.3f ms)\n", ms, build_ms);
    });
  });
  return 0;
}

int dispatch(int argc, char** argv) {
  if (argc < 2) throw usage_error("no command given\n" + std::string(usage_text));
  const std::string_view cmd = argv[1];
  if (cmd == "list") {
    if (argc != 2) throw usage_error("list takes no arguments");
    return cmd_list();
  }
  if (cmd == "summary") return cmd_summary(parse(argc, argv, 2, {}));
  if (cmd == "run") return cmd_run(parse(argc, argv, 2, {"--weights", "--input", "--output", "--policy", "--threads"}));
  if (cmd == "bench") return cmd_bench(parse(argc, argv, 2, {"--batch", "--threads", "--iters", "--policy"}));
  if (cmd == "demo") return cmd_demo(parse(argc, argv, 2, {"--policy", "--threads"}));
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::fputs(usage_text, stdout);
    return 0;
  }
  throw usage_error("unknown command '" + std::string(cmd) + "' (commands: list, summary, run, bench, demo, help)");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return dispatch(argc, argv);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    // One line: an error message never spans lines (the usage text after "no command given" aside).
    if (dynamic_cast<const usage_error*>(&e) == nullptr) std::replace(msg.begin(), msg.end(), '\n', ' ');
    std::fprintf(stderr, "typenet-zoo: %s\n", msg.c_str());
    return 1;
  }
}
