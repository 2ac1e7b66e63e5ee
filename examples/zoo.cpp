// typenet-zoo: the command line over the networks typenet ships (DESIGN.md §5).
//
//   typenet-zoo list
//   typenet-zoo summary NET
//   typenet-zoo run NET --weights W.safetensors --input X.npy --output Y.npy [--policy reference|simd] [--threads N]
//                   [--precision f32|bf16|int8] [--calibrate C.npy]
//   typenet-zoo bench NET [--batch N] [--threads N] [--iters K] [--policy reference|simd]
//                     [--precision f32|bf16|int8] [--calibrate C.npy] [--weights W.safetensors] [--ops]
//   typenet-zoo demo NET [--policy reference|simd] [--threads N]
//   typenet-zoo classify NET --weights W.safetensors [--policy reference|simd] [--threads N] [--top K]
//                        [--resize N] IMAGE...
//   typenet-zoo grad NET --weights W.safetensors --input X.npy --labels Y.npy --output G.safetensors
//                    [--policy reference|simd] [--threads N]                 (zoo_train.cpp, as train and
//                                                                            bench-train)
//
// Errors (unknown network or flag, missing or malformed files, shapes that do not match the network, a
// batch that does not fit in the available memory, a failed write to stdout) are one line on stderr and
// exit status 1; `run` writes its output file only when the network ran. Exit status 0 means every
// command's output was written. Limits: --threads 1..1024, --iters 1..1000000, --batch 1..2147483647 and
// what the memory allows; an option's value must not start with '--' (write ./--name for such a file).
// Strings from the command line or from files are echoed with control characters escaped (\x1b).
#include "zoo_common.hpp"

// `classify` needs <typenet/image.hpp> (libjpeg, libpng): built in unless TYPENET_ZOO_NO_IMAGE is defined.
#if !defined(TYPENET_ZOO_NO_IMAGE)
#include <typenet/image.hpp>
#define TYPENET_ZOO_HAS_IMAGE 1
#else
#define TYPENET_ZOO_HAS_IMAGE 0
#endif

using namespace typenet_zoo;  // NOLINT: this program is the namespace's user

namespace {

constexpr const char* usage_text =
    "usage:\n"
    "  typenet-zoo list\n"
    "  typenet-zoo summary NET\n"
    "  typenet-zoo run NET --weights W.safetensors --input X.npy --output Y.npy [--policy reference|simd] "
    "[--threads N]\n"
    "                  [--precision f32|bf16|int8] [--calibrate C.npy]\n"
    "  typenet-zoo bench NET [--batch N] [--threads N] [--iters K] [--policy reference|simd] [--json FILE]\n"
    "                    [--precision f32|bf16|int8] [--calibrate C.npy] [--weights W.safetensors] [--ops]\n"
    "  typenet-zoo demo NET [--policy reference|simd] [--threads N]\n"
    "  typenet-zoo classify NET --weights W.safetensors [--policy reference|simd] [--threads N] [--top K]\n"
    "                       [--resize N] IMAGE...\n"
    "  typenet-zoo grad NET --weights W.safetensors --input X.npy --labels Y.npy --output G.safetensors\n"
    "                   [--policy reference|simd] [--threads N]\n"
    "  typenet-zoo train NET --train-images X.npy --train-labels Y.npy --test-images X2.npy --test-labels Y2.npy\n"
    "                    [--epochs E] [--batch B] [--lr L] [--momentum M] [--weight-decay D] [--seed S]\n"
    "                    [--lr-step K] [--augment crop:P,flip] [--checkpoint C] [--resume C] [--weights W]\n"
    "                    [--output W] [--log F.csv] [--policy reference|simd] [--threads N]\n"
    "  typenet-zoo bench-train NET [--batch N] [--threads N] [--iters K] [--policy reference|simd]\n";

/// `typenet-zoo CMD --help`: what each command does, its options and its exit status.
struct command_help {
  const char* name;
  const char* text;
};
constexpr command_help command_helps[] = {
    {"list", "usage: typenet-zoo list\n  The networks of the zoo, one per line: name and what it computes.\n"},
    {"summary",
     "usage: typenet-zoo summary NET\n"
     "  NET's layer table (index or key path, layer, output shape, parameters, multiply-adds, fused stage)\n"
     "  and totals, all computed at compile time.\n"},
    {"run",
     "usage: typenet-zoo run NET --weights W.safetensors --input X.npy --output Y.npy [--policy reference|simd]\n"
     "                       [--threads N] [--precision f32|bf16|int8] [--calibrate C.npy]\n"
     "  Runs NET on the float32 batch X.npy ([N, C, H, W], or [N, features] for a flat input) with the\n"
     "  weights of W.safetensors (every name, dtype and shape checked against NET) and writes the N outputs\n"
     "  to Y.npy ([N, ...NET's output shape]); Y.npy is written only when the network ran.\n"
     "  --policy   reference (default: plain loops, the oracle) or simd (fused, vectorised, threaded)\n"
     "  --threads  threads of the simd policy, the caller included: 1 (default) to 1,024\n"
     "  --precision  f32 (default); bf16 (with --policy simd, on a CPU with AVX512_BF16: bf16 weights and\n"
     "             activations, fp32 sums); int8 (with --policy simd, on a CPU with AVX512_VNNI:\n"
     "             s8 weights, u8 activations, int32 sums)\n"
     "  --calibrate  with int8: a float32 .npy batch of inputs like X.npy, from which the range of every\n"
     "             quantised tensor is computed (minimum and maximum under fp32) before the run; needed unless\n"
     "             W.safetensors holds the ranges too (\"typenet.int8.ranges\", tn::io::save_weights_int8)\n"},
    {"bench",
     "usage: typenet-zoo bench NET [--batch N] [--threads N] [--iters K] [--policy reference|simd] [--json FILE]\n"
     "                         [--precision f32|bf16|int8] [--calibrate C.npy] [--weights W.safetensors] [--ops]\n"
     "  Times NET's forward pass on random He weights (or those of --weights) and a random batch: one\n"
     "  warm-up, then K timed passes; prints the median time per batch and images per second.\n"
     "  --batch    images per pass: 1 (default) to 2,147,483,647, within the memory available\n"
     "  --iters    timed passes: 1 to 1,000,000 (default 10)\n"
     "  --policy   reference (default) or simd; --threads  simd threads, 1 (default) to 1,024\n"
     "  --precision  f32 (default), bf16 or int8 (with --policy simd; see run); --calibrate C.npy: int8's\n"
     "             ranges from C.npy (default: those of --weights, else from the benchmark's random input)\n"
     "  --json     also write the result to FILE in Google Benchmark's JSON layout (real_time in ms,\n"
     "             items_per_second in images, every timed pass in samples_ms)\n"
     "  --ops      then K more passes timing each fused op (graph networks, --policy simd): a table of\n"
     "             their median times in run order\n"},
    {"demo",
     "usage: typenet-zoo demo NET [--policy reference|simd] [--threads N]\n"
     "  NET's layer table, then one forward pass on random He weights (seed 1) and a generated input: the\n"
     "  top-5 classes with their probabilities and the time.\n"
     "  --policy   reference (default) or simd; --threads  simd threads, 1 (default) to 1,024\n"},
    {"classify",
     "usage: typenet-zoo classify NET --weights W.safetensors [--policy reference|simd] [--threads N] [--top K]\n"
     "                            [--resize N] IMAGE...\n"
     "  Classifies JPEG or PNG photos with NET and the weights of W.safetensors (e.g. a torchvision checkpoint\n"
     "  exported by tools/export_safetensors.py): for each image its top K classes (ImageNet's names for the\n"
     "  1000-class networks, the digit for lenet5) with their probabilities, then the time per image.\n"
     "  Each image is prepared as torchvision prepares ImageNet inputs: shorter side resized to N\n"
     "  (antialiased bilinear), centre crop to NET's input size, [0, 1], ImageNet mean and std; lenet5\n"
     "  takes grey images, resized to 32, in [0, 1].\n"
     "  --top      classes shown per image: 1 to the number of classes (default 5)\n"
     "  --resize   the shorter side before the crop: NET's input size to 65,536 (default 256; lenet5: 32)\n"
     "  --policy   reference (default) or simd; --threads  simd threads, 1 (default) to 1,024\n"},
    {"grad",
     "usage: typenet-zoo grad NET --weights W.safetensors --input X.npy --labels Y.npy --output G.safetensors\n"
     "                        [--policy reference|simd] [--threads N]\n"
     "  The gradient of the training loss (mean cross-entropy of NET's logits, a trailing softmax removed,\n"
     "  against the int64 labels [N] of Y.npy) with respect to every parameter, for the batch X.npy, in\n"
     "  training mode (batch norm on the batch's statistics) with dropout switched off. G.safetensors holds\n"
     "  one float32 tensor per parameter, keyed and shaped like the weights (no running statistics).\n"
     "  --policy   reference (default: plain loops, double sums, the oracle) or simd (vectorised matrix\n"
     "             products on --threads threads, 1 (default) to 1,024)\n"},
    {"train",
     "usage: typenet-zoo train NET --train-images X.npy --train-labels Y.npy --test-images X2.npy\n"
     "                         --test-labels Y2.npy [options]\n"
     "  Trains NET with SGD (momentum, weight decay; PyTorch's rule) on the images X.npy ([N, C, H, W] float32)\n"
     "  and int64 labels Y.npy ([N]), each channel normalised by the training images' mean and std, and\n"
     "  reports after every epoch the training loss and accuracy and the loss and accuracy on X2/Y2 (inference\n"
     "  mode). Progress on stderr (a bar on a terminal, a line per epoch otherwise); the last line on stdout:\n"
     "  NET epochs=E test_accuracy=A test_loss=L seconds=S.\n"
     "  --epochs E        passes over the training images (default 10)\n"
     "  --batch B         images per step (default 32); the last batch of an epoch may be smaller\n"
     "  --lr L            learning rate (default 0.01); --lr-step K: times 0.1 every K epochs (default never)\n"
     "  --momentum M      default 0.9; --weight-decay D: default 0.0005\n"
     "  --seed S          He initialisation, shuffling, augmentation and dropout (default 1)\n"
     "  --augment A       crop:P (random crops of the image padded by P) and/or flip (random mirrors)\n"
     "  --weights W       start from these weights instead of He initialisation\n"
     "  --checkpoint C    write the run's state (weights, momentum, step) to C after every epoch\n"
     "  --resume C        continue the run saved in C (same data and options) up to epoch E, exactly\n"
     "  --output W        write the trained weights to W (loadable by run and classify)\n"
     "  --log F.csv       one line per epoch: epoch,step,lr,train_loss,train_accuracy,test_loss,\n"
     "                    test_accuracy,images_per_s,seconds (tools/plot_training.py draws it)\n"
     "  --policy          reference (default) or simd; --threads  simd threads, 1 (default) to 1,024\n"},
    {"bench-train",
     "usage: typenet-zoo bench-train NET [--batch N] [--threads N] [--iters K] [--policy reference|simd]\n"
     "  Times NET's training step (forward, loss, backward, SGD update) on random He weights and a random\n"
     "  batch: one warm-up step, then K timed steps (default 5); prints the median time per step and\n"
     "  images per second. --batch: default 32.\n"},
    {"help", "usage: typenet-zoo help\n  The usage of every command and the policies built in.\n"},
};
constexpr const char* exit_status_text =
    "exit status: 0 when the command succeeded and everything it printed reached stdout; 1 otherwise, with\n"
    "one line on stderr that starts with 'typenet-zoo: ' and says what is wrong.\n";

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
    check_precision<Net>(r);
    constexpr std::uint64_t image_bytes = 4 * static_cast<std::uint64_t>(Net::input_shape::size);
    // Before reading: the batch the input's size implies (its .npy header is a few hundred bytes at most),
    // so that an input too large for the memory left is refused without being read.
    std::error_code ec;
    if (std::filesystem::is_regular_file(input, ec)) {
      const std::uint64_t size = std::filesystem::file_size(input, ec);
      if (!ec && size / image_bytes > 0)
        check_memory<Net>("run", net, size / image_bytes, " (by the size of " + input + ")", r.policy, true,
                          "split the input into smaller batches");
    }
    tn::params<Net> p;
    std::vector<tn::exec::tensor_range> stored = load_zoo_weights(weights, p);
    if (r.precision == precision_kind::int8 && !r.calibrate && stored.empty())
      throw usage_error(
          "run --precision int8 needs --calibrate C.npy (a batch of inputs like the ones to run, a few dozen, from "
          "which the activation ranges are computed), or weights saved with their ranges "
          "(tn::io::save_weights_int8)");
    const tn::io::input_batch x = [&] {
      const doing d("reading the input " + input);
      return tn::io::read_input<Net>(input);
    }();
    warn_non_finite(x.data, "input " + input);
    // The input is in memory now: what the rest needs, for the batch its header gives.
    check_memory<Net>("run", net, static_cast<std::uint64_t>(x.batch), " (from " + input + ")", r.policy, false,
                      "split the input into smaller batches");
    std::vector<float> y;
    {
      const doing d("allocating the output of batch " + std::to_string(x.batch));
      y.resize(static_cast<std::size_t>(x.batch) * Net::output_shape::size);
    }
    const auto ranges = int8_ranges<Net>(r, p, std::move(stored), nullptr, 0);
    with_policy<Net>(
        r,
        [&](const auto& policy, int threads, const char* policy_name) {
          std::optional<tn::model<Net, std::decay_t<decltype(policy)>>> m;
          build_model(m, p, x.batch, policy, threads);
          const auto start = std::chrono::steady_clock::now();
          m->forward(std::span<const float>(x.data), std::span<float>(y), x.batch);
          const double ms = elapsed_ms(start);
          warn_non_finite(y, "output");
          {
            const doing d("writing the output " + output);
            tn::io::write_output<Net>(output, y, x.batch);
          }
          std::printf("%s: %d x %s -> %s (policy %s, %d thread%s, %.3f ms)\n", net.c_str(), x.batch,
                      Net::input_shape::str().c_str(), escaped(output).c_str(), policy_name, threads,
                      threads == 1 ? "" : "s", ms);
        },
        ranges);
  });
  return 0;
}

/// `bench --json FILE`: the result in Google Benchmark's JSON layout (context, then one aggregate entry
/// with real_time in ms, items_per_second in images), plus every timed pass in samples_ms. Written all or
/// nothing (a temporary file renamed into place).
void write_bench_json(const std::string& path, const std::string& net, const char* policy_name, int batch, int threads,
                      const std::vector<double>& times, std::int64_t macs) {
  const doing d("writing the JSON result " + path);
  const double ms = median(times);
  const std::string name =
      net + "/batch:" + std::to_string(batch) + "/threads:" + std::to_string(threads) + "/policy:" + policy_name;
  nlohmann::json j;
  j["context"] = {
      {"executable", "typenet-zoo"},
      {"library_version", std::to_string(TYPENET_VERSION_MAJOR) + "." + std::to_string(TYPENET_VERSION_MINOR) + "." +
                              std::to_string(TYPENET_VERSION_PATCH)},
      {"num_cpus", std::thread::hardware_concurrency()},
      {"library_build_type", "release"}};
  j["benchmarks"] = nlohmann::json::array({{{"name", name + "_median"},
                                            {"run_name", name},
                                            {"run_type", "aggregate"},
                                            {"aggregate_name", "median"},
                                            {"repetitions", times.size()},
                                            {"iterations", 1},
                                            {"real_time", ms},
                                            {"time_unit", "ms"},
                                            {"items_per_second", batch * 1000.0 / ms},
                                            {"batch", batch},
                                            {"threads", threads},
                                            {"policy", policy_name},
                                            {"macs_per_image", macs},
                                            {"samples_ms", times}}});
  tn::io::detail::atomic_output out(path);
  out.write(j.dump(2) + "\n");
  out.commit();
}

/// Whether a model's program can time its fused ops (exec::simd's graph program).
template <class M>
constexpr bool has_op_times = requires(M& m, const float* in, float* out) {
  m.program().time_ops(in, out, 1, 1);
};

/// `bench --ops` times the fused ops of exec::simd's graph program.
template <class Net>
void check_op_times(const run_options& r, const std::string& net) {
#if TYPENET_ZOO_HAS_SIMD
  if (!has_op_times<tn::model<Net, tn::exec::simd<>>>)
    throw usage_error(
        "bench --ops: per-op times are measured for the graph networks (resnet18, resnet50, "
        "mobilenet_v2, squeezenet1_1) under --policy simd; " +
        net + " runs as a staged chain");
  if (r.policy != policy_kind::simd) throw usage_error("bench --ops needs --policy simd");
#else
  (void)r, (void)net;
  throw usage_error("bench --ops times the simd policy, which this typenet-zoo was built without");
#endif
}

/// `bench --ops`: the median time of each fused op over `passes` forward passes, in run order, with its
/// share of their sum.
template <class M>
void print_op_times(M& m, const float* x, float* y, int batch, int passes) {
  if constexpr (has_op_times<M>) {
    const auto t = m.program().time_ops(x, y, batch, passes);
    double total = 0;
    for (const auto& op : t) total += op.ms;
    std::printf("%-4s %10s %6s  %s\n", "op", "ms", "%", "fused op (median of the timed passes)");
    for (std::size_t i = 0; i < t.size(); ++i)
      std::printf("%-4zu %10.4f %6.2f  %s\n", i, t[i].ms, 100.0 * t[i].ms / total, t[i].name.c_str());
    std::printf("sum of the ops' medians: %.3f ms\n", total);
  }
}

int cmd_bench(const options& o) {
  const std::string net = one_network(o, "bench");
  const int batch = bounded_int(o, "--batch", 1, max_batch_flag);
  const int iters = bounded_int(o, "--iters", 10, max_iters);
  const run_options r = policy_options(o);
  const auto json_it = o.flags.find("--json");
  const std::optional<std::string> json_path =
      json_it == o.flags.end() ? std::nullopt : std::optional<std::string>(json_it->second);
  const bool ops = o.flags.count("--ops") != 0;
  with_network(net, [&](auto id) {
    using Net = typename decltype(id)::type;
    check_precision<Net>(r);
    if (ops) check_op_times<Net>(r, net);
    check_memory<Net>("bench", net, static_cast<std::uint64_t>(batch), "", r.policy, true, "use a smaller --batch");
    tn::params<Net> p;
    std::vector<tn::exec::tensor_range> stored;
    if (const auto w = o.flags.find("--weights"); w != o.flags.end())
      stored = load_zoo_weights(w->second, p);
    else
      tn::init_he(p, 1);
    std::vector<float> x, y;
    {
      const doing d("allocating the input and output of batch " + std::to_string(batch));
      x.resize(static_cast<std::size_t>(batch) * Net::input_shape::size);
      y.resize(static_cast<std::size_t>(batch) * Net::output_shape::size);
    }
    tn::fill_uniform(x, 2);
    const bool own_ranges = r.precision == precision_kind::int8 && !r.calibrate && stored.empty();
    const auto ranges = int8_ranges<Net>(r, p, std::move(stored), &x, batch);
    if (own_ranges)
      std::fprintf(stderr,
                   "typenet-zoo: note: int8 activation ranges calibrated on the benchmark's own random input "
                   "(--calibrate C.npy to give others)\n");
    with_policy<Net>(
        r,
        [&](const auto& policy, int threads, const char* policy_name) {
          std::optional<tn::model<Net, std::decay_t<decltype(policy)>>> m;
          build_model(m, p, batch, policy, threads);
          m->forward(x.data(), y.data(), batch);  // warm-up
          std::vector<double> times;
          times.reserve(static_cast<std::size_t>(iters));
          // On a terminal, a progress line on stderr (rewritten in place, erased at the end); never in a pipe.
          const bool progress = isatty(STDERR_FILENO) == 1;
          for (int i = 0; i < iters; ++i) {
            const auto start = std::chrono::steady_clock::now();
            m->forward(x.data(), y.data(), batch);
            times.push_back(elapsed_ms(start));
            if (progress)
              std::fprintf(stderr, "\rtypenet-zoo: bench %s: pass %d of %d, %.3f ms", net.c_str(), i + 1, iters,
                           times.back());
          }
          if (progress) std::fputs("\r\033[K", stderr);
          const double ms = median(times);
          if (json_path) write_bench_json(*json_path, net, policy_name, batch, threads, times, tn::mac_count<Net>);
          if (ops) print_op_times(*m, x.data(), y.data(), batch, iters);
          std::printf("policy %s, %d timed iterations after 1 warm-up, %s multiply-adds per image\n", policy_name,
                      iters, std::to_string(tn::mac_count<Net>).c_str());
          std::printf("%s batch=%d threads=%d ms_per_batch_median=%.3f images_per_s=%.2f\n", net.c_str(), batch,
                      threads, ms, batch * 1000.0 / ms);
        },
        ranges);
  });
  return 0;
}

// ---- classify ----------------------------------------------------------------------------------------

constexpr const char* imagenet_class_names[] = {
#include "imagenet_classes.inc"
};
static_assert(std::size(imagenet_class_names) == 1000);

/// The name of class `index` of a network with `classes` outputs.
std::string class_name(std::size_t index, std::size_t classes) {
  if (classes == 1000) return imagenet_class_names[index];
  if (classes == 10) return std::to_string(index);  // lenet5: digits
  return "class " + std::to_string(index);
}

/// Probabilities from a network's output: the softmax of logits, or the output itself after a softmax.
template <class Net>
std::vector<double> probabilities(std::span<const float> y) {
  std::vector<double> p(y.begin(), y.end());
  if constexpr (!ends_in_softmax<Net>()) {
    const double top = *std::max_element(p.begin(), p.end());
    double sum = 0;
    for (double& v : p) sum += (v = std::exp(v - top));
    for (double& v : p) v /= sum;
  }
  return p;
}

/// The indices of the k largest probabilities, largest first (ties: the smaller index first).
std::vector<std::size_t> top_k(const std::vector<double>& p, std::size_t k) {
  std::vector<std::size_t> order(p.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](std::size_t a, std::size_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  order.resize(k);
  return order;
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
    const doing d("allocating the parameters of " + net);
    tn::params<Net> p;
    tn::init_he(p, 1);
    const std::vector<float> x = demo_input<Net>();
    std::printf("%s\n", net.c_str());
    std::fputs(tn::describe<Net>().c_str(), stdout);
    std::vector<float> y(static_cast<std::size_t>(Net::output_shape::size));
    with_policy(r, [&](const auto& policy, int threads, const char* policy_name) {
      const auto built = std::chrono::steady_clock::now();
      std::optional<tn::model<Net, std::decay_t<decltype(policy)>>> m;
      build_model(m, p, 1, policy, threads);
      const double build_ms = elapsed_ms(built);
      const auto start = std::chrono::steady_clock::now();
      m->forward(std::span<const float>(x), std::span<float>(y), 1);
      const double ms = elapsed_ms(start);
      const std::vector<double> prob = probabilities<Net>(y);
      const std::size_t k = std::min<std::size_t>(5, prob.size());
      const std::vector<std::size_t> order = top_k(prob, k);
      std::printf("\nrandom He weights (seed 1), one generated %s input, policy %s, %d thread%s\n",
                  Net::input_shape::str().c_str(), policy_name, threads, threads == 1 ? "" : "s");
      std::printf("top-%zu classes%s:\n", k, ends_in_softmax<Net>() ? "" : " (softmax of the logits)");
      for (std::size_t i = 0; i < k; ++i) std::printf("  class %4zu  p = %.6f\n", order[i], prob[order[i]]);
      std::printf("forward pass: %.3f ms (model built in %.3f ms)\n", ms, build_ms);
    });
  });
  return 0;
}

int cmd_classify(const options& o) {
#if TYPENET_ZOO_HAS_IMAGE
  if (o.positional.empty()) throw usage_error("classify takes a network name and at least one image file");
  const std::string net = o.positional[0];
  const std::vector<std::string> images(o.positional.begin() + 1, o.positional.end());
  const std::string weights = required(o, "--weights");
  const run_options r = policy_options(o);
  with_network(net, [&](auto id) {
    using Net = typename decltype(id)::type;
    using in = typename Net::input_shape;
    if constexpr (in::rank != 3 || (in::dims[0] != 1 && in::dims[0] != 3)) {
      throw usage_error("classify: " + net + " does not take images (its input is " + in::str() + ")");
    } else {
      if (images.empty()) throw usage_error("classify takes at least one image file after the network name");
      constexpr std::size_t classes = Net::output_shape::size;
      const int top =
          bounded_int(o, "--top", static_cast<int>(std::min<std::size_t>(5, classes)), static_cast<int>(classes));
      constexpr int size = in::dims[1];
      static_assert(in::dims[1] == in::dims[2], "classify crops squares");
      const bool grey = in::dims[0] == 1;
      const int resize = bounded_int(o, "--resize", grey ? size : 256, 65536);
      if (resize < size)
        throw usage_error("option --resize must be at least " + net + "'s input size " + std::to_string(size) +
                          ", got " + std::to_string(resize));
      tn::image::preprocessing how = grey ? tn::image::digits(size) : tn::image::imagenet(size);
      how.resize = static_cast<std::size_t>(resize);

      tn::params<Net> p;
      {
        const doing d("loading the weights " + weights);
        tn::io::load_weights(weights, p);
      }
      // Every image decoded and prepared before the first forward pass: a bad file stops the command
      // before anything is printed.
      std::vector<std::vector<float>> inputs;
      const auto prepared = std::chrono::steady_clock::now();
      for (const std::string& file : images) {
        const doing d("reading the image " + file);
        inputs.push_back(tn::image::prepare(tn::image::read_image(file), how));
      }
      const double prepare_ms = elapsed_ms(prepared) / static_cast<double>(images.size());
      std::vector<float> y(classes);
      with_policy(r, [&](const auto& policy, int threads, const char* policy_name) {
        std::optional<tn::model<Net, std::decay_t<decltype(policy)>>> m;
        build_model(m, p, 1, policy, threads);
        std::vector<double> times;
        for (std::size_t i = 0; i < images.size(); ++i) {
          const auto start = std::chrono::steady_clock::now();
          m->forward(std::span<const float>(inputs[i]), std::span<float>(y), 1);
          times.push_back(elapsed_ms(start));
          warn_non_finite(y, "output for " + images[i]);
          const std::vector<double> prob = probabilities<Net>(y);
          std::printf("%s%s\n", i == 0 ? "" : "\n", escaped(images[i]).c_str());
          const std::vector<std::size_t> best = top_k(prob, static_cast<std::size_t>(top));
          for (std::size_t k = 0; k < best.size(); ++k)
            std::printf("%4zu  %.6f  %4zu  %s\n", k + 1, prob[best[k]], best[k], class_name(best[k], classes).c_str());
        }
        std::printf(
            "time: %.3f ms per image (%zu image%s, policy %s, %d thread%s; median forward pass; decoding and "
            "preparing %.3f ms per image)\n",
            median(times), images.size(), images.size() == 1 ? "" : "s", policy_name, threads, threads == 1 ? "" : "s",
            prepare_ms);
      });
    }
  });
  return 0;
#else
  (void)o;
  throw usage_error("classify: this typenet-zoo was built without typenet::image (libjpeg and libpng were not found)");
#endif
}

int dispatch(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "typenet-zoo: no command given\n%s", usage_text);
    return 1;
  }
  const std::string_view cmd = argv[1];
  // `typenet-zoo CMD --help` (or -h) anywhere after a known command: that command's help, nothing else.
  for (const command_help& h : command_helps) {
    if (cmd != h.name) continue;
    for (int i = 2; i < argc; ++i) {
      const std::string_view a = argv[i];
      if (a == "--help" || a == "-h") {
        std::fputs(h.text, stdout);
        std::fputs(exit_status_text, stdout);
        return 0;
      }
    }
  }
  if (cmd == "list") {
    if (argc != 2) throw usage_error("list takes no arguments");
    return cmd_list();
  }
  if (cmd == "summary") return cmd_summary(parse(argc, argv, 2, {}));
  if (cmd == "run")
    return cmd_run(parse(argc, argv, 2,
                         {"--weights", "--input", "--output", "--policy", "--threads", "--precision", "--calibrate"}));
  if (cmd == "bench")
    return cmd_bench(
        parse(argc, argv, 2,
              {"--batch", "--threads", "--iters", "--policy", "--json", "--precision", "--weights", "--calibrate"},
              {"--ops"}));
  if (cmd == "demo") return cmd_demo(parse(argc, argv, 2, {"--policy", "--threads"}));
  if (cmd == "classify")
    return cmd_classify(parse(argc, argv, 2, {"--weights", "--policy", "--threads", "--top", "--resize"}));
  if (cmd == "train")
    return cmd_train(parse(argc, argv, 2,
                           {"--train-images", "--train-labels", "--test-images", "--test-labels", "--epochs", "--batch",
                            "--lr", "--momentum", "--weight-decay", "--seed", "--lr-step", "--augment", "--checkpoint",
                            "--resume", "--weights", "--output", "--log", "--policy", "--threads"}));
  if (cmd == "bench-train")
    return cmd_bench_train(parse(argc, argv, 2, {"--batch", "--threads", "--iters", "--policy"}));
  if (cmd == "grad")
    return cmd_grad(parse(argc, argv, 2, {"--weights", "--input", "--labels", "--output", "--policy", "--threads"}));
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    if (argc != 2) throw usage_error("help takes no arguments");
    std::fputs(usage_text, stdout);
    std::puts("  typenet-zoo CMD --help   what CMD does, and its options");
    std::fputs(exit_status_text, stdout);
    std::printf("policies in this build: reference%s\n", TYPENET_ZOO_HAS_SIMD ? ", simd" : "");
    return 0;
  }
  throw usage_error("unknown command '" + std::string(cmd) +
                    "' (commands: list, summary, run, bench, demo, classify, grad, train, bench-train, help)");
}

/// One line on stderr, with whatever came from the command line or a file escaped.
void report(const std::string& message) { std::fprintf(stderr, "typenet-zoo: %s\n", escaped(message).c_str()); }

}  // namespace

int main(int argc, char** argv) {
  int status = 1;
  try {
    status = dispatch(argc, argv);
  } catch (const std::bad_alloc& e) {
    report("out of memory while " + g_doing + " (" + e.what() + ")");
    return 1;
  } catch (const std::exception& e) {
    report(e.what());
    return 1;
  }
  // Exit status 0 promises that everything printed reached stdout (`typenet-zoo list > /dev/full` fails).
  errno = 0;
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    report(std::string("cannot write to standard output: ") + (errno != 0 ? std::strerror(errno) : "a write failed"));
    return 1;
  }
  return status;
}
