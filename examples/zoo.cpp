// typenet-zoo: the command line over the networks typenet ships (DESIGN.md §5).
//
//   typenet-zoo list
//   typenet-zoo summary NET
//   typenet-zoo run NET --weights W.safetensors --input X.npy --output Y.npy [--policy reference|simd] [--threads N]
//   typenet-zoo bench NET [--batch N] [--threads N] [--iters K] [--policy reference|simd]
//   typenet-zoo demo NET [--policy reference|simd] [--threads N]
//   typenet-zoo classify NET --weights W.safetensors [--policy reference|simd] [--threads N] [--top K]
//                        [--resize N] IMAGE...
//
// Errors (unknown network or flag, missing or malformed files, shapes that do not match the network, a
// batch that does not fit in the available memory, a failed write to stdout) are one line on stderr and
// exit status 1; `run` writes its output file only when the network ran. Exit status 0 means every
// command's output was written. Limits: --threads 1..1024, --iters 1..1000000, --batch 1..2147483647 and
// what the memory allows; an option's value must not start with '--' (write ./--name for such a file).
// Strings from the command line or from files are echoed with control characters escaped (\x1b).
#include <typenet/io.hpp>
#include <typenet/io/weights.hpp>
#include <typenet/typenet.hpp>
#include <typenet/zoo/networks.hpp>

// The simd policy is built in unless TYPENET_ZOO_NO_SIMD is defined (CMake: TYPENET_ZOO_SIMD=OFF); then
// `--policy simd` is an error, never a silent fall-back to the reference policy.
#if !defined(TYPENET_ZOO_NO_SIMD)
#include <typenet/exec/simd.hpp>
#define TYPENET_ZOO_HAS_SIMD 1
#else
#define TYPENET_ZOO_HAS_SIMD 0
#endif

// `classify` needs <typenet/image.hpp> (libjpeg, libpng): built in unless TYPENET_ZOO_NO_IMAGE is defined.
#if !defined(TYPENET_ZOO_NO_IMAGE)
#include <typenet/image.hpp>
#define TYPENET_ZOO_HAS_IMAGE 1
#else
#define TYPENET_ZOO_HAS_IMAGE 0
#endif

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <new>
#include <numeric>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace tn = typenet;

namespace {

/// A usage or argument error: reported like every other error, as one line.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// `s` with every byte that could steer a terminal written as \xNN: C0 controls (newline included), DEL,
/// C1 controls (U+0080..U+009F) and bytes that are not part of well-formed UTF-8. Printable ASCII and
/// valid UTF-8 above U+009F pass unchanged.
std::string escaped(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  auto hex = [&](unsigned char c) {
    constexpr char digits[] = "0123456789abcdef";
    r += "\\x";
    r += digits[c >> 4];
    r += digits[c & 15];
  };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      r += static_cast<char>(c);
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence: its length, the smallest code point it may encode, its code point.
    const std::size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    bool ok = len != 0 && i + len <= s.size();
    std::uint32_t cp = len == 2 ? c & 0x1fu : len == 3 ? c & 0x0fu : c & 0x07u;
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      ok = (d & 0xc0) == 0x80;
      cp = (cp << 6) | (d & 0x3fu);
    }
    constexpr std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= smallest[len] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) && cp >= 0xa0;
    if (ok) {
      r.append(s.substr(i, len));
      i += len;
    } else {
      hex(c);
      ++i;
    }
  }
  return r;
}

/// What the program is doing, for the message when memory runs out (std::bad_alloc).
std::string g_doing = "starting";
/// Sets g_doing for its scope; an exception leaving the scope keeps it, for main() to report.
struct doing {
  std::string saved;
  int exceptions = std::uncaught_exceptions();
  explicit doing(std::string what) : saved(std::exchange(g_doing, std::move(what))) {}
  ~doing() {
    if (std::uncaught_exceptions() == exceptions) g_doing = std::move(saved);
  }
  doing(const doing&) = delete;
  doing& operator=(const doing&) = delete;
};

/// 12,345,678
std::string grouped(std::uint64_t v) {
  std::string digits = std::to_string(v), r;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) r += ',';
    r += digits[i];
  }
  return r;
}

/// "12,345,678,901 bytes (11.5 GiB)"
std::string bytes_text(std::uint64_t b) {
  char gib[32];
  std::snprintf(gib, sizeof gib, "%.1f GiB", static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0));
  return grouped(b) + " bytes (" + gib + ")";
}

constexpr const char* usage_text =
    "usage:\n"
    "  typenet-zoo list\n"
    "  typenet-zoo summary NET\n"
    "  typenet-zoo run NET --weights W.safetensors --input X.npy --output Y.npy [--policy reference|simd] "
    "[--threads N]\n"
    "  typenet-zoo bench NET [--batch N] [--threads N] [--iters K] [--policy reference|simd] [--json FILE]\n"
    "  typenet-zoo demo NET [--policy reference|simd] [--threads N]\n"
    "  typenet-zoo classify NET --weights W.safetensors [--policy reference|simd] [--threads N] [--top K]\n"
    "                       [--resize N] IMAGE...\n";

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
     "                       [--threads N]\n"
     "  Runs NET on the float32 batch X.npy ([N, C, H, W], or [N, features] for a flat input) with the\n"
     "  weights of W.safetensors (every name, dtype and shape checked against NET) and writes the N outputs\n"
     "  to Y.npy ([N, ...NET's output shape]); Y.npy is written only when the network ran.\n"
     "  --policy   reference (default: plain loops, the oracle) or simd (fused, vectorised, threaded)\n"
     "  --threads  threads of the simd policy, the caller included: 1 (default) to 1,024\n"},
    {"bench",
     "usage: typenet-zoo bench NET [--batch N] [--threads N] [--iters K] [--policy reference|simd] [--json FILE]\n"
     "  Times NET's forward pass on random He weights and a random batch: one warm-up, then K timed passes;\n"
     "  prints the median time per batch and images per second.\n"
     "  --batch    images per pass: 1 (default) to 2,147,483,647, within the memory available\n"
     "  --iters    timed passes: 1 to 1,000,000 (default 10)\n"
     "  --policy   reference (default) or simd; --threads  simd threads, 1 (default) to 1,024\n"
     "  --json     also write the result to FILE in Google Benchmark's JSON layout (real_time in ms,\n"
     "             items_per_second in images, every timed pass in samples_ms)\n"},
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
    {"help", "usage: typenet-zoo help\n  The usage of every command and the policies built in.\n"},
};
constexpr const char* exit_status_text =
    "exit status: 0 when the command succeeded and everything it printed reached stdout; 1 otherwise, with\n"
    "one line on stderr that starts with 'typenet-zoo: ' and says what is wrong.\n";

// ---- the networks ------------------------------------------------------------------------------------

template <class Net>
struct entry {
  using type = Net;
  const char* name;
  const char* about;
};

constexpr auto networks = std::make_tuple(
    entry<tn::zoo::seed_alexnet>{"seed_alexnet", "the seed AlexNet: 3x227x227 -> 1000 softmax, single tower"},
    entry<tn::zoo::torchvision_alexnet>{"torchvision_alexnet",
                                        "torchvision.models.alexnet(): 3x224x224 -> 1000 logits"},
    entry<tn::zoo::caffe_alexnet>{"caffe_alexnet",
                                  "bvlc_alexnet: LRN, ceil pools, grouped convs; 3x227x227 -> 1000 softmax"},
    entry<tn::zoo::lenet5>{"lenet5", "LeNet-5 with ReLU and max-pool: 1x32x32 -> 10 logits"},
    entry<tn::zoo::resnet18>{"resnet18", "torchvision.models.resnet18(): 3x224x224 -> 1000 logits"},
    entry<tn::zoo::resnet50>{"resnet50", "torchvision.models.resnet50(): 3x224x224 -> 1000 logits"},
    entry<tn::zoo::mobilenet_v2>{"mobilenet_v2", "torchvision.models.mobilenet_v2(): 3x224x224 -> 1000 logits"},
    entry<tn::zoo::squeezenet1_1>{"squeezenet1_1", "torchvision.models.squeezenet1_1(): 3x224x224 -> 1000 logits"});

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
  if constexpr (last::is_leaf)
    return std::is_same_v<typename last::layer, tn::softmax>;
  else
    return false;
}

// ---- arguments ---------------------------------------------------------------------------------------

struct options {
  std::map<std::string, std::string> flags;  // "--weights" -> "w.safetensors"
  std::vector<std::string> positional;
};

/// Flags and their values; a flag's value is the next argument and must not start with "--" (so that
/// `--weights --input x.npy` names the option that lacks its value instead of taking "--input" as a file).
/// Any other argument starting with '-' is an unknown option, not a network name.
options parse(int argc, char** argv, int first, std::initializer_list<std::string_view> allowed) {
  options o;
  for (int i = first; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a.starts_with("-") && a.size() > 1) {
      if (std::find(allowed.begin(), allowed.end(), a) == allowed.end())
        throw usage_error("unknown option '" + std::string(a) + "' for '" + argv[1] + "'");
      if (i + 1 >= argc) throw usage_error("option " + std::string(a) + " needs a value (it is the last argument)");
      const std::string_view value = argv[i + 1];
      if (value.starts_with("--"))
        throw usage_error("option " + std::string(a) + " needs a value, but is followed by the option '" +
                          std::string(value) + "' (a value may not start with '--'; write ./" + std::string(value) +
                          " for such a file)");
      if (!o.flags.emplace(std::string(a), std::string(value)).second)
        throw usage_error("option " + std::string(a) + " is given twice");
      ++i;
    } else {
      o.positional.emplace_back(a);
    }
  }
  return o;
}

std::string one_network(const options& o, const char* command) {
  if (o.positional.size() != 1) {
    std::string got;
    for (const std::string& p : o.positional) got += (got.empty() ? "" : ", ") + ("'" + p + "'");
    throw usage_error(std::string(command) + " takes exactly one network name (see 'typenet-zoo list'), got " +
                      (got.empty() ? std::string("none") : got));
  }
  return o.positional[0];
}

std::string required(const options& o, const std::string& flag) {
  auto it = o.flags.find(flag);
  if (it == o.flags.end()) throw usage_error("missing option " + flag);
  return it->second;
}

// The documented limits of the numeric options.
constexpr int max_threads = 1024;     // --threads: threads of the simd policy, the caller included
constexpr int max_iters = 1'000'000;  // --iters: timed forward passes of bench
constexpr int max_batch_flag = std::numeric_limits<int>::max();  // --batch; the available memory decides first

/// The value of `flag` as an integer in 1..max, or `fallback` when the flag is absent.
int bounded_int(const options& o, const std::string& flag, int fallback, int max) {
  auto it = o.flags.find(flag);
  if (it == o.flags.end()) return fallback;
  const std::string& s = it->second;
  long long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && end == s.data() + s.size() && v > max))
    throw usage_error("option " + flag + " is at most " + grouped(static_cast<std::uint64_t>(max)) + ", got '" + s +
                      "'");
  if (ec != std::errc() || end != s.data() + s.size() || v < 1)
    throw usage_error("option " + flag + " needs a positive integer (at most " +
                      grouped(static_cast<std::uint64_t>(max)) + "), got '" + s + "'");
  return static_cast<int>(v);
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
  if (r.policy == policy_kind::simd && !TYPENET_ZOO_HAS_SIMD)
    throw usage_error(
        "--policy simd: this typenet-zoo was built without the simd policy (CMake option TYPENET_ZOO_SIMD=OFF); "
        "use --policy reference or rebuild with TYPENET_ZOO_SIMD=ON");
  r.threads = bounded_int(o, "--threads", 1, max_threads);
  return r;
}

/// Calls f(policy_object, threads_used, policy_name) with the policy chosen on the command line.
template <class F>
void with_policy(const run_options& r, F&& f) {
  if (r.policy == policy_kind::simd) {
#if TYPENET_ZOO_HAS_SIMD
    tn::exec::simd<> policy;
    policy.threads = r.threads;
    const std::string name = std::string("simd [xsimd ") + xsimd::default_arch::name() + "]";  // the instruction set
    f(policy, r.threads, name.c_str());
    return;
#else
    throw std::logic_error("the simd policy is not built in");  // policy_options() refused it already
#endif
  }
  if (r.threads != 1)
    std::fprintf(stderr, "typenet-zoo: note: the reference policy runs on one thread (--threads %d ignored)\n",
                 r.threads);
  f(tn::exec::reference, 1, "reference");
}

/// Builds the model into `m`; a thread that cannot be started is reported naming --threads.
template <class Net, class Policy>
void build_model(std::optional<tn::model<Net, Policy>>& m, const tn::params<Net>& p, int batch, const Policy& policy,
                 int threads) {
  const doing d("building the model for batch " + std::to_string(batch));
  try {
    m.emplace(p, batch, policy);
  } catch (const std::system_error& e) {
    throw std::runtime_error("cannot start the " + std::to_string(threads) + " threads asked for by --threads " +
                             std::to_string(threads) + ": " + e.what() + " (try fewer threads)");
  }
  using program = typename tn::model<Net, Policy>::program_type;
  if constexpr (requires { program::fallback_layers(); }) {
    for (const std::string& layer : program::fallback_layers())
      std::fprintf(stderr, "typenet-zoo: note: the policy has no kernel for layer %s; it runs exec::reference's\n",
                   layer.c_str());
  }
}

// ---- memory ------------------------------------------------------------------------------------------

/// Memory a model of `batch` images needs, in bytes: the program's activation buffers and its copy of the
/// weights (computed from memory_plan<Net>, since the policies do not publish their own totals), the
/// parameters, the output buffer and, `with_input`, the input buffer. An estimate, meant to be on the high
/// side: exec::simd keeps a third per-image buffer (the conv output before pooling) and packs weights into
/// layouts that may be larger than the parameters, so its activations are counted as 1.5x the plan's and
/// its packed weights as 2x the parameters (the reference program copies them once).
template <class Net>
std::uint64_t bytes_needed(std::uint64_t batch, policy_kind policy, bool with_input) {
  using plan = tn::memory_plan<Net>;
  const std::uint64_t per_image = static_cast<std::uint64_t>(plan::bytes_per_image);
  const std::uint64_t params = static_cast<std::uint64_t>(plan::param_bytes);
  const std::uint64_t activations = policy == policy_kind::simd ? batch * per_image / 2 * 3 : batch * per_image;
  const std::uint64_t weights = policy == policy_kind::simd ? 3 * params : 2 * params;  // params<Net> + program
  const std::uint64_t io =
      batch * 4 * static_cast<std::uint64_t>((with_input ? Net::input_shape::size : 0) + Net::output_shape::size);
  return activations + weights + io;
}

/// "NAME VALUE kB" from a /proc file, in bytes.
std::optional<std::uint64_t> proc_kb(const char* file, std::string_view name) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(name)) continue;
    std::uint64_t kb = 0;
    const char* p = line.data() + name.size();
    while (*p == ' ' || *p == '\t') ++p;
    if (std::from_chars(p, line.data() + line.size(), kb).ec != std::errc()) return std::nullopt;
    return kb * 1024;
  }
  return std::nullopt;
}

/// The first number in a file (a cgroup limit or usage); nullopt when absent or "max".
std::optional<std::uint64_t> file_number(const std::string& file, std::string_view key = {}) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (!key.empty()) {
      if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ' ') continue;
      line.erase(0, key.size() + 1);
    }
    std::uint64_t v = 0;
    if (std::from_chars(line.data(), line.data() + line.size(), v).ec != std::errc()) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

struct memory_limit {
  std::uint64_t bytes;  // what may still be allocated
  std::string source;   // where that figure comes from
};

/// How much memory this process may still allocate and keep resident: the smallest of MemAvailable, the
/// soft RLIMIT_AS and RLIMIT_DATA less what is already in use, and the memory cgroup's limit less its usage
/// (less reclaimable page cache). nullopt when none of them can be read (not Linux).
std::optional<memory_limit> available_memory() {
  std::optional<memory_limit> best;
  auto consider = [&](std::uint64_t bytes, std::string source) {
    if (!best || bytes < best->bytes) best = memory_limit{bytes, std::move(source)};
  };
  if (auto a = proc_kb("/proc/meminfo", "MemAvailable:")) consider(*a, "MemAvailable in /proc/meminfo");
  const std::pair<int, const char*> rlimits[] = {{RLIMIT_AS, "VmSize:"}, {RLIMIT_DATA, "VmData:"}};
  for (auto [resource, used_key] : rlimits) {
    rlimit l{};
    if (getrlimit(resource, &l) != 0 || l.rlim_cur == RLIM_INFINITY) continue;
    const std::uint64_t used = proc_kb("/proc/self/status", used_key).value_or(0);
    const std::uint64_t limit = l.rlim_cur;
    consider(limit > used ? limit - used : 0,
             std::string(resource == RLIMIT_AS ? "the address-space limit RLIMIT_AS (ulimit -v) of "
                                               : "the data-segment limit RLIMIT_DATA (ulimit -d) of ") +
                 grouped(limit) + " bytes, " + grouped(used) + " in use");
  }
  // Memory cgroups, v2 and v1: this process's own group and the namespace's root.
  std::ifstream groups("/proc/self/cgroup");
  std::string line, v2_path, v1_path;
  while (std::getline(groups, line)) {
    if (line.starts_with("0::")) v2_path = line.substr(3);
    const auto at = line.find(":memory:");
    if (at != std::string::npos) v1_path = line.substr(at + 8);
  }
  struct group_files {
    std::string dir;
    const char *limit, *usage, *inactive;
  };
  const group_files candidates[] = {
      {"/sys/fs/cgroup" + v2_path, "memory.max", "memory.current", "inactive_file"},
      {"/sys/fs/cgroup", "memory.max", "memory.current", "inactive_file"},
      {"/sys/fs/cgroup/memory" + v1_path, "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"},
      {"/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"}};
  for (const group_files& g : candidates) {
    const auto limit = file_number(g.dir + "/" + g.limit);
    const auto usage = file_number(g.dir + "/" + g.usage);
    if (!limit || !usage || *limit >= (std::uint64_t{1} << 60)) continue;  // absent or unlimited
    const std::uint64_t inactive = file_number(g.dir + "/memory.stat", g.inactive).value_or(0);
    const std::uint64_t used = *usage > inactive ? *usage - inactive : 0;
    consider(*limit > used ? *limit - used : 0,
             "the memory cgroup limit of " + grouped(*limit) + " bytes in " + g.dir + ", " + grouped(used) + " in use");
  }
  return best;
}

/// Refuses, before anything is allocated, a batch whose buffers cannot fit in the available memory.
template <class Net>
void check_memory(const char* command, const std::string& net, std::uint64_t batch, const std::string& batch_from,
                  policy_kind policy, bool with_input, const char* advice) {
  const std::uint64_t need = bytes_needed<Net>(batch, policy, with_input);
  const std::optional<memory_limit> avail = available_memory();
  if (!avail || need <= avail->bytes) return;
  throw std::runtime_error(std::string(command) + ": batch " + grouped(batch) + batch_from + " of " + net +
                           " with the " + (policy == policy_kind::simd ? "simd" : "reference") +
                           " policy needs about " + bytes_text(need) + ", but only " + bytes_text(avail->bytes) +
                           " are available (" + avail->source + "); " + advice);
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
    std::fprintf(stderr, "typenet-zoo: warning: %s contains %zu NaN and %zu infinite values\n", escaped(what).c_str(),
                 nans, infs);
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
    {
      const doing d("loading the weights " + weights);
      tn::io::load_weights(weights, p);
    }
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
    with_policy(r, [&](const auto& policy, int threads, const char* policy_name) {
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
    });
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

int cmd_bench(const options& o) {
  const std::string net = one_network(o, "bench");
  const int batch = bounded_int(o, "--batch", 1, max_batch_flag);
  const int iters = bounded_int(o, "--iters", 10, max_iters);
  const run_options r = policy_options(o);
  const auto json_it = o.flags.find("--json");
  const std::optional<std::string> json_path =
      json_it == o.flags.end() ? std::nullopt : std::optional<std::string>(json_it->second);
  with_network(net, [&](auto id) {
    using Net = typename decltype(id)::type;
    check_memory<Net>("bench", net, static_cast<std::uint64_t>(batch), "", r.policy, true, "use a smaller --batch");
    tn::params<Net> p;
    tn::init_he(p, 1);
    std::vector<float> x, y;
    {
      const doing d("allocating the input and output of batch " + std::to_string(batch));
      x.resize(static_cast<std::size_t>(batch) * Net::input_shape::size);
      y.resize(static_cast<std::size_t>(batch) * Net::output_shape::size);
    }
    tn::fill_uniform(x, 2);
    with_policy(r, [&](const auto& policy, int threads, const char* policy_name) {
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
      std::printf("policy %s, %d timed iterations after 1 warm-up, %s multiply-adds per image\n", policy_name, iters,
                  std::to_string(tn::mac_count<Net>).c_str());
      std::printf("%s batch=%d threads=%d ms_per_batch_median=%.3f images_per_s=%.2f\n", net.c_str(), batch, threads,
                  ms, batch * 1000.0 / ms);
    });
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
  if (cmd == "run") return cmd_run(parse(argc, argv, 2, {"--weights", "--input", "--output", "--policy", "--threads"}));
  if (cmd == "bench") return cmd_bench(parse(argc, argv, 2, {"--batch", "--threads", "--iters", "--policy", "--json"}));
  if (cmd == "demo") return cmd_demo(parse(argc, argv, 2, {"--policy", "--threads"}));
  if (cmd == "classify")
    return cmd_classify(parse(argc, argv, 2, {"--weights", "--policy", "--threads", "--top", "--resize"}));
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    if (argc != 2) throw usage_error("help takes no arguments");
    std::fputs(usage_text, stdout);
    std::puts("  typenet-zoo CMD --help   what CMD does, and its options");
    std::fputs(exit_status_text, stdout);
    std::printf("policies in this build: reference%s\n", TYPENET_ZOO_HAS_SIMD ? ", simd" : "");
    return 0;
  }
  throw usage_error("unknown command '" + std::string(cmd) +
                    "' (commands: list, summary, run, bench, demo, classify, help)");
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
