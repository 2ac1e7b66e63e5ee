// typenet-zoo grad and train (DESIGN.md §8): the training commands, in a translation unit of their own (the
// training programs of eight networks are a compile of their own; zoo.cpp's inference commands need none).
//
//   typenet-zoo grad NET --weights W.safetensors --input X.npy --labels Y.npy --output G.safetensors
//                    [--policy reference|simd] [--threads N]
//   typenet-zoo train NET --train-images X.npy --train-labels Y.npy --test-images X2.npy --test-labels Y2.npy
//                     [--epochs E] [--batch B] [--lr L] [--momentum M] [--weight-decay D] [--seed S]
//                     [--lr-step K] [--augment crop:P,flip] [--checkpoint C.safetensors] [--resume C.safetensors]
//                     [--weights W.safetensors] [--output W.safetensors] [--log F.csv] [--policy P] [--threads N]
//   typenet-zoo bench-train NET [--batch N] [--threads N] [--iters K] [--policy reference|simd]
#include "zoo_common.hpp"

#include <typenet/train.hpp>
#include <typenet/train/checkpoint.hpp>
#include <typenet/train/data.hpp>
#if TYPENET_ZOO_HAS_SIMD
#include <typenet/train/simd.hpp>
#endif

namespace typenet_zoo {

namespace {

/// Calls f(policy, policy_name) with the training policy chosen on the command line: exec::reference, or
/// exec::simd with --threads threads (policy_options() has refused simd in a build without it).
template <class F>
void with_training_policy(const run_options& r, F&& f) {
  if (r.policy == policy_kind::simd) {
#if TYPENET_ZOO_HAS_SIMD
    tn::exec::simd<> policy;
    policy.threads = r.threads;
    f(policy, "simd");
    return;
#else
    throw std::logic_error("the simd policy is not built in");
#endif
  }
  if (r.threads != 1)
    std::fprintf(stderr, "typenet-zoo: note: the reference policy trains on one thread (--threads %d ignored)\n",
                 r.threads);
  f(tn::exec::reference, "reference");
}

/// Builds the trainer of Net for a policy into t; a thread that cannot be started is reported naming
/// --threads.
template <class Net, class Policy>
void build_trainer(std::optional<tn::train::trainer<Net, Policy>>& t, tn::params<Net>& p, int batch,
                   tn::train::options o, const Policy& policy) {
  const doing d("building the trainer for batch " + std::to_string(batch));
  try {
    if constexpr (std::is_same_v<Policy, tn::exec::reference_t>)
      t.emplace(p, batch, o);
    else
      t.emplace(p, batch, o, policy);
  } catch (const std::system_error& e) {
    throw std::runtime_error(std::string("cannot start the threads asked for by --threads: ") + e.what());
  }
}

template <class Net>
void check_training_memory(const char* command, const std::string& net, std::uint64_t batch) {
  const std::uint64_t need = batch * static_cast<std::uint64_t>(tn::train::training_bytes<Net>) +
                             4 * static_cast<std::uint64_t>(tn::param_storage<Net>) * 3 +
                             batch * 4 * static_cast<std::uint64_t>(Net::input_shape::size);
  const std::optional<memory_limit> avail = available_memory();
  if (avail && need > avail->bytes)
    throw std::runtime_error(std::string(command) + ": batch " + grouped(batch) + " of " + net + " needs about " +
                             bytes_text(need) + " to train, but only " + bytes_text(avail->bytes) + " are available (" +
                             avail->source + "); use fewer images");
}

struct labelled {
  tn::io::input_batch images;
  std::vector<std::int64_t> labels;
};

// Images and their int64 labels: as many labels as images, each a class of the network.
template <class Net>
labelled read_labelled(const std::string& images, const std::string& labels, const std::string& net) {
  constexpr int classes = tn::train::trainer<Net, tn::exec::reference_t>::classes;
  labelled d;
  {
    const doing what("reading " + images);
    d.images = tn::io::read_input<Net>(images);
  }
  warn_non_finite(d.images.data, images);
  d.labels = tn::io::read_npy_labels(labels);
  if (d.labels.size() != static_cast<std::size_t>(d.images.batch))
    throw tn::io::io_error(labels, "holds " + std::to_string(d.labels.size()) + " labels, but " + images + " holds " +
                                       std::to_string(d.images.batch) + " images");
  for (std::size_t i = 0; i < d.labels.size(); ++i)
    if (d.labels[i] < 0 || d.labels[i] >= classes)
      throw tn::io::io_error(labels, "label " + std::to_string(d.labels[i]) + " of image " + std::to_string(i) +
                                         " is outside 0.." + std::to_string(classes - 1) + " (" + net + " has " +
                                         std::to_string(classes) + " classes)");
  return d;
}

}  // namespace

int cmd_grad(const options& o) {
  const std::string net = one_network(o, "grad");
  const std::string weights = required(o, "--weights"), input = required(o, "--input"),
                    labels_file = required(o, "--labels"), output = required(o, "--output");
  const run_options r = policy_options(o);
  with_network(net, [&](auto id) {
    using Net = typename decltype(id)::type;
    tn::params<Net> p;
    {
      const doing d("loading the weights " + weights);
      tn::io::load_weights(weights, p);
    }
    const labelled data = read_labelled<Net>(input, labels_file, net);
    const tn::io::input_batch& x = data.images;
    const std::vector<std::int64_t>& labels = data.labels;
    check_training_memory<Net>("grad", net, static_cast<std::uint64_t>(x.batch));
    with_training_policy(r, [&](const auto& policy, const char* policy_name) {
      std::optional<tn::train::trainer<Net, std::decay_t<decltype(policy)>>> t;
      build_trainer(t, p, x.batch, tn::train::options{.dropout = false}, policy);
      const auto start = std::chrono::steady_clock::now();
      const double loss = t->forward_backward(x.data.data(), labels.data(), x.batch);
      const double ms = elapsed_ms(start);
      warn_non_finite(t->grads().span(), "the gradients");
      {
        const doing d("writing the gradients " + output);
        tn::io::save_gradients(output, t->grads());
      }
      std::printf("%s: loss %.6f over %d images -> %s (policy %s, %d thread%s, %.1f ms)\n", net.c_str(), loss, x.batch,
                  escaped(output).c_str(), policy_name, r.threads, r.threads == 1 ? "" : "s", ms);
    });
  });
  return 0;
}

// ---- train --------------------------------------------------------------------------------------------

namespace {

double positive_real(const options& o, const std::string& flag, double fallback, bool zero_ok) {
  auto it = o.flags.find(flag);
  if (it == o.flags.end()) return fallback;
  const std::string& s = it->second;
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v) || v < 0 || (v == 0 && !zero_ok))
    throw usage_error("option " + flag + " needs a " + (zero_ok ? "non-negative" : "positive") +
                      " finite number, got '" + s + "'");
  return v;
}

struct augmentation {
  int pad_crop = 0;
  bool flip = false;
};

// --augment crop:P,flip (either part optional, in any order).
augmentation parse_augment(const options& o) {
  augmentation a;
  auto it = o.flags.find("--augment");
  if (it == o.flags.end()) return a;
  std::string_view rest = it->second;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view part = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (part == "flip") {
      a.flip = true;
    } else if (part.starts_with("crop:")) {
      const std::string_view n = part.substr(5);
      int v = -1;
      const auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
      if (ec != std::errc() || end != n.data() + n.size() || v < 1 || v > 64)
        throw usage_error("--augment crop:P needs P in 1..64, got '" + std::string(part) + "'");
      a.pad_crop = v;
    } else {
      throw usage_error("--augment takes crop:P and flip, comma-separated; got '" + std::string(part) + "'");
    }
  }
  return a;
}

// Per-channel mean and standard deviation of a set of images (the normalisation of train's data).
template <class Net>
void channel_statistics(const std::vector<float>& images, std::vector<float>& mean, std::vector<float>& stdev) {
  using in = typename Net::input_shape;
  constexpr int channels = in::rank == 3 ? in::dims[0] : 1;
  const std::int64_t per_channel = in::size / channels, count = static_cast<std::int64_t>(images.size()) / in::size;
  mean.assign(channels, 0.f);
  stdev.assign(channels, 1.f);
  for (int c = 0; c < channels; ++c) {
    double sum = 0, squares = 0;
    for (std::int64_t n = 0; n < count; ++n)
      for (std::int64_t i = 0; i < per_channel; ++i) {
        const double v = images[static_cast<std::size_t>(n * in::size + c * per_channel + i)];
        sum += v;
        squares += v * v;
      }
    const double m = sum / static_cast<double>(count * per_channel);
    const double var = squares / static_cast<double>(count * per_channel) - m * m;
    mean[static_cast<std::size_t>(c)] = static_cast<float>(m);
    stdev[static_cast<std::size_t>(c)] = var > 1e-12 ? static_cast<float>(std::sqrt(var)) : 1.f;
  }
}

struct evaluation {
  double loss = 0, accuracy = 0;
};

// Test loss and accuracy in inference mode (batch norm's running statistics, no dropout) with the reference
// policy, reading the caller's weights.
template <class Net>
evaluation evaluate(const tn::params<Net>& p, const std::vector<float>& images,
                    const std::vector<std::int64_t>& labels) {
  constexpr int chunk = 256;
  constexpr std::int64_t outputs = Net::output_shape::size;
  const int count = static_cast<int>(labels.size());
  tn::model<Net, tn::exec::reference_t> m(p, std::min(chunk, count), {.borrow = true});
  std::vector<float> out(static_cast<std::size_t>(std::min(chunk, count) * outputs));
  evaluation e;
  for (int first = 0; first < count; first += chunk) {
    const int n = std::min(chunk, count - first);
    m.forward(images.data() + static_cast<std::size_t>(first) * Net::input_shape::size, out.data(), n);
    for (int i = 0; i < n; ++i) {
      const float* row = out.data() + static_cast<std::size_t>(i) * outputs;
      const std::int64_t label = labels[static_cast<std::size_t>(first + i)];
      const std::int64_t best = std::max_element(row, row + outputs) - row;
      e.accuracy += best == label ? 1 : 0;
      if constexpr (tn::train::drops_softmax<Net>) {  // probabilities
        e.loss -= std::log(std::max(double{row[label]}, 1e-300));
      } else {
        double top = row[0], sum = 0;
        for (std::int64_t k = 1; k < outputs; ++k) top = std::max(top, double{row[k]});
        for (std::int64_t k = 0; k < outputs; ++k) sum += std::exp(row[k] - top);
        e.loss += std::log(sum) + top - row[label];
      }
    }
  }
  e.loss /= count;
  e.accuracy /= count;
  return e;
}

struct progress {
  bool terminal = isatty(2) != 0;
  void bar(int epoch, int epochs, std::int64_t done, std::int64_t total, double loss, double images_per_s) const {
    if (!terminal) return;
    constexpr int width = 30;
    const int filled = static_cast<int>(width * done / std::max<std::int64_t>(total, 1));
    std::fprintf(stderr, "\repoch %d/%d [%s%s] %lld/%lld  loss %.4f  %.0f img/s ", epoch, epochs,
                 std::string(static_cast<std::size_t>(filled), '=').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total), loss, images_per_s);
  }
  void end_line() const {
    if (terminal) std::fputs("\r\x1b[K", stderr);
  }
};

}  // namespace

int cmd_train(const options& o) {
  const std::string net = one_network(o, "train");
  const std::string train_images = required(o, "--train-images"), train_labels = required(o, "--train-labels"),
                    test_images = required(o, "--test-images"), test_labels = required(o, "--test-labels");
  const run_options r = policy_options(o);
  const int epochs = bounded_int(o, "--epochs", 10, 100000);
  const int batch_size = bounded_int(o, "--batch", 32, 65536);
  const int lr_step = bounded_int(o, "--lr-step", 0x7fffffff, 0x7fffffff);
  const tn::train::sgd_options sgd_o{static_cast<float>(positive_real(o, "--lr", 0.01, false)),
                                     static_cast<float>(positive_real(o, "--momentum", 0.9, true)),
                                     static_cast<float>(positive_real(o, "--weight-decay", 5e-4, true))};
  const std::uint64_t seed = static_cast<std::uint64_t>(bounded_int(o, "--seed", 1, 0x7fffffff));
  const augmentation aug = parse_augment(o);
  auto flag = [&](const char* f) {
    auto it = o.flags.find(f);
    return it == o.flags.end() ? std::string() : it->second;
  };
  const std::string checkpoint = flag("--checkpoint"), resume = flag("--resume"), init = flag("--weights"),
                    output = flag("--output"), log = flag("--log");
  // One training run of Net with a policy (exec::reference or exec::simd).
  auto train_with = [&]<class Net, class Policy>(const Policy& policy) {
    constexpr int classes = tn::train::trainer<Net, tn::exec::reference_t>::classes;
    const auto start = std::chrono::steady_clock::now();
    labelled train = read_labelled<Net>(train_images, train_labels, net);
    labelled test = read_labelled<Net>(test_images, test_labels, net);
    check_training_memory<Net>("train", net, static_cast<std::uint64_t>(batch_size));

    tn::params<Net> p;
    tn::init_he(p, seed);
    if (!init.empty()) {
      const doing d("loading the weights " + init);
      tn::io::load_weights(init, p);
    }
    tn::train::sgd<Net> opt(sgd_o);
    std::int64_t step = 0;
    if (!resume.empty()) {
      const doing d("loading the checkpoint " + resume);
      step = tn::train::load_checkpoint(resume, p, opt);
    }
    // Normalisation from the training images, applied to both sets.
    tn::train::data_options data{.batch = batch_size, .seed = seed, .pad_crop = aug.pad_crop, .flip = aug.flip};
    channel_statistics<Net>(train.images.data, data.mean, data.std);
    {
      using in = typename Net::input_shape;
      const std::int64_t per_channel = in::size / static_cast<std::int64_t>(data.mean.size());
      for (std::size_t i = 0; i < test.images.data.size(); ++i) {
        const std::size_t c = (i % static_cast<std::size_t>(in::size)) / static_cast<std::size_t>(per_channel);
        test.images.data[i] = (test.images.data[i] - data.mean[c]) / data.std[c];
      }
    }
    tn::train::batch_loader<Net> loader(train.images.data, train.labels, data);
    const std::int64_t per_epoch = loader.batches_per_epoch();
    if (step > 0) loader.start_at(step);
    std::optional<tn::train::trainer<Net, Policy>> t;
    build_trainer(t, p, batch_size, tn::train::options{.dropout = true, .seed = seed}, policy);
    t->set_steps(step);

    std::FILE* csv = nullptr;
    if (!log.empty()) {
      csv = std::fopen(log.c_str(), step > 0 ? "a" : "w");
      if (csv == nullptr) throw tn::io::io_error(log, std::string("cannot open for writing: ") + std::strerror(errno));
      if (step == 0)
        std::fputs("epoch,step,lr,train_loss,train_accuracy,test_loss,test_accuracy,images_per_s,seconds\n", csv);
    }
    const progress bar;
    evaluation last{};
    const int first_epoch = static_cast<int>(step / per_epoch);
    for (int epoch = first_epoch; epoch < epochs; ++epoch) {
      opt.set_lr(static_cast<float>(sgd_o.lr * std::pow(0.1, epoch / lr_step)));
      const auto epoch_start = std::chrono::steady_clock::now();
      double loss_sum = 0;
      std::int64_t seen = 0, correct = 0;
      for (; step < static_cast<std::int64_t>(epoch + 1) * per_epoch; ++step) {
        const tn::train::batch& b = loader.next();
        const double loss = t->forward_backward(b.images, b.labels, b.size);
        const std::span<const float> z = t->logits_of_last_step(b.size);
        for (int i = 0; i < b.size; ++i) {
          const float* row = z.data() + static_cast<std::size_t>(i) * classes;
          correct += (std::max_element(row, row + classes) - row) == b.labels[i] ? 1 : 0;
        }
        opt.step(p, t->grads());
        loss_sum += loss * b.size;
        seen += b.size;
        bar.bar(epoch + 1, epochs, seen, loader.images(), loss_sum / static_cast<double>(seen),
                static_cast<double>(seen) / (elapsed_ms(epoch_start) / 1000));
      }
      const double seconds = elapsed_ms(epoch_start) / 1000;
      last = evaluate<Net>(p, test.images.data, test.labels);
      bar.end_line();
      const double total = elapsed_ms(start) / 1000;
      std::fprintf(stderr,
                   "epoch %d/%d: train_loss=%.4f train_accuracy=%.4f test_loss=%.4f test_accuracy=%.4f lr=%g "
                   "images_per_s=%.0f seconds=%.1f\n",
                   epoch + 1, epochs, loss_sum / static_cast<double>(seen),
                   static_cast<double>(correct) / static_cast<double>(seen), last.loss, last.accuracy,
                   static_cast<double>(opt.lr()), static_cast<double>(seen) / seconds, total);
      if (csv != nullptr)
        std::fprintf(csv, "%d,%lld,%g,%.6f,%.6f,%.6f,%.6f,%.1f,%.3f\n", epoch + 1, static_cast<long long>(step),
                     static_cast<double>(opt.lr()), loss_sum / static_cast<double>(seen),
                     static_cast<double>(correct) / static_cast<double>(seen), last.loss, last.accuracy,
                     static_cast<double>(seen) / seconds, total);
      if (!checkpoint.empty()) {
        const doing d("writing the checkpoint " + checkpoint);
        tn::train::save_checkpoint(checkpoint, p, opt, step);
      }
    }
    if (csv != nullptr && std::fclose(csv) != 0)
      throw tn::io::io_error(log, std::string("cannot finish writing: ") + std::strerror(errno));
    if (first_epoch >= epochs) last = evaluate<Net>(p, test.images.data, test.labels);
    if (!output.empty()) {
      const doing d("writing the weights " + output);
      tn::io::save_weights(output, p);
    }
    std::printf("%s epochs=%d test_accuracy=%.4f test_loss=%.4f seconds=%.1f\n", net.c_str(), epochs, last.accuracy,
                last.loss, elapsed_ms(start) / 1000);
  };
  with_network(net, [&](auto id) {
    using Net = typename decltype(id)::type;
    with_training_policy(r, [&](const auto& policy, const char*) { train_with.template operator()<Net>(policy); });
  });
  return 0;
}

// ---- bench-train ----------------------------------------------------------------------------------------

int cmd_bench_train(const options& o) {
  const std::string net = one_network(o, "bench-train");
  const run_options r = policy_options(o);
  const int batch = bounded_int(o, "--batch", 32, 65536);
  const int iters = bounded_int(o, "--iters", 5, max_iters);
  with_network(net, [&](auto id) {
    using Net = typename decltype(id)::type;
    check_training_memory<Net>("bench-train", net, static_cast<std::uint64_t>(batch));
    tn::params<Net> p;
    tn::init_he(p, 1);
    std::vector<float> x(static_cast<std::size_t>(batch) * Net::input_shape::size);
    tn::fill_uniform(x, 2);
    constexpr int classes = tn::train::trainer<Net, tn::exec::reference_t>::classes;
    std::vector<std::int64_t> labels(static_cast<std::size_t>(batch));
    for (int n = 0; n < batch; ++n) labels[static_cast<std::size_t>(n)] = (7 * n + 3) % classes;
    with_training_policy(r, [&](const auto& policy, const char* policy_name) {
      std::optional<tn::train::trainer<Net, std::decay_t<decltype(policy)>>> t;
      build_trainer(t, p, batch, tn::train::options{.dropout = true, .seed = 1}, policy);
      tn::train::sgd<Net> opt;
      auto step = [&] {
        t->forward_backward(x.data(), labels.data(), batch);
        opt.step(p, t->grads());
      };
      step();  // warm-up
      std::vector<double> ms;
      for (int i = 0; i < iters; ++i) {
        const auto start = std::chrono::steady_clock::now();
        step();
        ms.push_back(elapsed_ms(start));
      }
      const double m = median(ms);
      std::printf("%s train policy=%s batch=%d threads=%d ms_per_step_median=%.3f images_per_s=%.1f\n", net.c_str(),
                  policy_name, batch, r.threads, m, 1000.0 * batch / m);
    });
  });
  return 0;
}

}  // namespace typenet_zoo
