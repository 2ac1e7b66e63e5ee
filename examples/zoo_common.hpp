// examples/zoo_common.hpp: what the translation units of typenet-zoo share: the network table, argument
// parsing, the policy choice, the memory check and the error helpers (zoo.cpp: the inference commands;
// zoo_train.cpp: grad and train).
#pragma once
#include <typenet/io.hpp>
#include <typenet/io/int8.hpp>
#include <typenet/io/weights.hpp>
#include <typenet/precision.hpp>
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

namespace typenet_zoo {

namespace tn = typenet;

/// A usage or argument error: reported like every other error, as one line.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// `s` with every byte that could steer a terminal written as \xNN: C0 controls (newline included), DEL,
/// C1 controls (U+0080..U+009F) and bytes that are not part of well-formed UTF-8. Printable ASCII and
/// valid UTF-8 above U+009F pass unchanged.
inline std::string escaped(std::string_view s) {
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
inline std::string g_doing = "starting";
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
inline std::string grouped(std::uint64_t v) {
  std::string digits = std::to_string(v), r;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) r += ',';
    r += digits[i];
  }
  return r;
}

/// "12,345,678,901 bytes (11.5 GiB)"
inline std::string bytes_text(std::uint64_t b) {
  char gib[32];
  std::snprintf(gib, sizeof gib, "%.1f GiB", static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0));
  return grouped(b) + " bytes (" + gib + ")";
}

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
/// Any other argument starting with '-' is an unknown option, not a network name. A switch (e.g. --ops)
/// takes no value.
inline options parse(int argc, char** argv, int first, std::initializer_list<std::string_view> allowed,
                     std::initializer_list<std::string_view> switches = {}) {
  options o;
  for (int i = first; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (std::find(switches.begin(), switches.end(), a) != switches.end()) {
      if (!o.flags.emplace(std::string(a), "").second)
        throw usage_error("option " + std::string(a) + " is given twice");
      continue;
    }
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

inline std::string one_network(const options& o, const char* command) {
  if (o.positional.size() != 1) {
    std::string got;
    for (const std::string& p : o.positional) got += (got.empty() ? "" : ", ") + ("'" + p + "'");
    throw usage_error(std::string(command) + " takes exactly one network name (see 'typenet-zoo list'), got " +
                      (got.empty() ? std::string("none") : got));
  }
  return o.positional[0];
}

inline std::string required(const options& o, const std::string& flag) {
  auto it = o.flags.find(flag);
  if (it == o.flags.end()) throw usage_error("missing option " + flag);
  return it->second;
}

// The documented limits of the numeric options.
constexpr int max_threads = 1024;     // --threads: threads of the simd policy, the caller included
constexpr int max_iters = 1'000'000;  // --iters: timed forward passes of bench
constexpr int max_batch_flag = std::numeric_limits<int>::max();  // --batch; the available memory decides first

/// The value of `flag` as an integer in 1..max, or `fallback` when the flag is absent.
inline int bounded_int(const options& o, const std::string& flag, int fallback, int max) {
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
enum class precision_kind { f32, bf16, int8 };

struct run_options {
  policy_kind policy = policy_kind::reference;
  precision_kind precision = precision_kind::f32;
  int threads = 1;
  std::optional<std::string> calibrate;  ///< --calibrate C.npy (int8)
};

/// Whether this typenet-zoo has a bf16 program for Net: compiled with AVX512_BF16.
template <class Net>
constexpr bool zoo_has_bf16() {
#if TYPENET_ZOO_HAS_SIMD
  if constexpr (std::is_void_v<Net>)
    return false;
  else
    return TYPENET_HAS_BF16 != 0;
#else
  return false;
#endif
}

/// Whether this typenet-zoo has an int8 program for Net: compiled with AVX512_VNNI.
template <class Net>
constexpr bool zoo_has_int8() {
#if TYPENET_ZOO_HAS_SIMD
  if constexpr (std::is_void_v<Net>)
    return false;
  else
    return TYPENET_HAS_VNNI != 0;
#else
  return false;
#endif
}

/// `--precision bf16|int8` for a network this typenet-zoo cannot run in that precision: a usage error
/// saying why.
template <class Net>
void check_precision(const run_options& r) {
  if (r.precision == precision_kind::bf16 && !zoo_has_bf16<Net>())
    throw usage_error(
        "--precision bf16: this typenet-zoo was compiled without AVX512_BF16; build it with "
        "-march=native on a CPU that has it (Zen 4, Sapphire Rapids)");
  if (r.precision == precision_kind::int8 && !zoo_has_int8<Net>())
    throw usage_error(
        "--precision int8: this typenet-zoo was compiled without AVX512_VNNI; build it with "
        "-march=native on a CPU that has it (Zen 4, Ice Lake, Sapphire Rapids)");
}

inline run_options policy_options(const options& o) {
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
  if (auto p = o.flags.find("--precision"); p != o.flags.end()) {
    if (p->second == "bf16")
      r.precision = precision_kind::bf16;
    else if (p->second == "int8")
      r.precision = precision_kind::int8;
    else if (p->second != "f32")
      throw usage_error("--precision must be 'f32', 'bf16' or 'int8', got '" + p->second + "'");
    if (r.precision != precision_kind::f32 && r.policy != policy_kind::simd)
      throw usage_error("--precision " + p->second +
                        " runs with --policy simd (the reference policy computes in fp32 only)");
  }
  if (auto c = o.flags.find("--calibrate"); c != o.flags.end()) {
    if (r.precision != precision_kind::int8)
      throw usage_error(
          "--calibrate gives the inputs int8's activation ranges are computed from; it goes with "
          "--precision int8");
    r.calibrate = c->second;
  }
  return r;
}

/// Loads Net's weights from a safetensors file; a chain network's file may also hold the ranges of its
/// int8 program (tn::io::save_weights_int8), which are returned (empty otherwise).
template <class Net>
std::vector<tn::exec::tensor_range> load_zoo_weights(const std::string& path, tn::params<Net>& p) {
  const doing d("loading the weights " + path);
  if constexpr (tn::fusion::fused_kernels_cover<Net>) {
    if (tn::io::read_safetensors(path).find(tn::io::int8_ranges_key) != nullptr)
      return tn::io::load_weights_int8(path, p);
  }
  tn::io::load_weights(path, p);
  return {};
}

/// The activation ranges of --precision int8 (empty for another precision): computed by
/// tn::exec::calibrate from the images of --calibrate C.npy; without that flag, those the weights file
/// held (`stored`), else computed from `own` (`count` images: bench's random input, which bench says).
template <class Net>
std::vector<tn::exec::tensor_range> int8_ranges(const run_options& r, [[maybe_unused]] const tn::params<Net>& p,
                                                [[maybe_unused]] std::vector<tn::exec::tensor_range> stored,
                                                [[maybe_unused]] const std::vector<float>* own,
                                                [[maybe_unused]] int count) {
  if (r.precision != precision_kind::int8) return {};
#if TYPENET_ZOO_HAS_SIMD
  if constexpr (zoo_has_int8<Net>()) {
    if (!r.calibrate && !stored.empty()) return stored;
    if (!r.calibrate) return tn::exec::calibrate<Net>(p, *own, count, r.threads);
    const tn::io::input_batch x = [&] {
      const doing d("reading the calibration inputs " + *r.calibrate);
      return tn::io::read_input<Net>(*r.calibrate);
    }();
    const doing d("calibrating on " + *r.calibrate);
    try {
      return tn::exec::calibrate<Net>(p, x.data, x.batch, r.threads);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(*r.calibrate + ": " + e.what());
    }
  }
#endif
  throw std::logic_error("--precision int8 not checked for this network");
}

/// Calls f(policy_object, threads_used, policy_name) with the policy chosen on the command line (for
/// --precision bf16 or int8, check_precision<Net> must have passed; for int8, `ranges` are the calibrated
/// ranges, int8_ranges<Net>).
template <class Net = void, class F>
void with_policy(const run_options& r, F&& f, [[maybe_unused]] const std::vector<tn::exec::tensor_range>& ranges = {}) {
#if TYPENET_ZOO_HAS_SIMD
  if constexpr (zoo_has_int8<Net>()) {
    if (r.precision == precision_kind::int8) {
      tn::exec::simd<xsimd::default_arch, tn::precision::int8> policy;
      policy.threads = r.threads;
      policy.ranges = ranges;
      const std::string name = std::string("simd [xsimd ") + xsimd::default_arch::name() + "] int8";
      f(policy, r.threads, name.c_str());
      return;
    }
  }
  if constexpr (zoo_has_bf16<Net>()) {
    if (r.precision == precision_kind::bf16) {
      tn::exec::simd<xsimd::default_arch, tn::precision::bf16> policy;
      policy.threads = r.threads;
      const std::string name = std::string("simd [xsimd ") + xsimd::default_arch::name() + "] bf16";
      f(policy, r.threads, name.c_str());
      return;
    }
  }
#endif
  if (r.precision != precision_kind::f32) throw std::logic_error("--precision not checked for this network");
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
inline std::optional<std::uint64_t> proc_kb(const char* file, std::string_view name) {
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
inline std::optional<std::uint64_t> file_number(const std::string& file, std::string_view key = {}) {
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
inline std::optional<memory_limit> available_memory() {
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
inline void warn_non_finite(std::span<const float> values, const std::string& what) {
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

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

inline double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

// ---- commands defined in zoo_train.cpp -------------------------------------------------------------------

int cmd_grad(const options& o);
int cmd_train(const options& o);
int cmd_bench_train(const options& o);

}  // namespace typenet_zoo
