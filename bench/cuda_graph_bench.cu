// bench/cuda_graph_bench.cu: exec::cuda on the zoo's networks with blocks (resnet18, resnet50, mobilenet_v2,
// squeezenet1_1), whole network, timed with CUDA events (median of the timed runs after warm-up runs), device
// in and device out (run_device), with the forward pass captured as a CUDA graph (the policy's default,
// graphs=on) and with every kernel launched on its own (graphs=off), in each math. The weights and images
// come from files so that bench/torch_cuda_graph_compare.py can run PyTorch + cuDNN on the same ones and
// compare the outputs:
//
//   cuda_graph_bench NET --weights W.safetensors --input X.npy --output PREFIX
//                    [--batches 1,64,256] [--maths fp32,tf32x3,tf32,fp16,bf16] [--iters N] [--warmup N]
//
// Writes PREFIX_<math>.npy: the logits of every image of X ([N, 1000], the policy's default: Winograd from
// winograd_min_columns, CUDA graphs), run in batches of the largest of --batches. Output lines:
//   program net=<net> math=<m> device_mib=<x> fused_ops=<n>
//   typenet_cuda net=<net> math=<m> graphs=<on|off> batch=<b> ms_median=<x> images_per_s=<y>
// Exit status 77 without a GPU, 1 on any error (a message naming the file or the call).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <typenet/cuda.hpp>
#include <typenet/io.hpp>
#include <typenet/zoo/mobilenet.hpp>
#include <typenet/zoo/resnet.hpp>
#include <typenet/zoo/squeezenet.hpp>

namespace tn = typenet;
using tn::exec::cuda_math;

namespace {

struct options {
  std::string net, weights, input, output;
  std::vector<int> batches{1, 64, 256};
  std::vector<cuda_math> maths{cuda_math::fp32, cuda_math::tf32x3, cuda_math::tf32};
  int iters = 20, warmup = 3;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "cuda_graph_bench: %s\nusage: cuda_graph_bench resnet18|resnet50|mobilenet_v2|squeezenet1_1 "
               "--weights W.safetensors --input X.npy --output PREFIX [--batches 1,64,256] "
               "[--maths fp32,tf32x3,tf32,fp16,bf16] [--iters N] [--warmup N]\n",
               why.c_str());
  std::exit(2);
}

const char* math_name(cuda_math m) { return tn::exec::cuda_math_name(m).data(); }

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> parts;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, ',');) parts.push_back(part);
  return parts;
}

int positive(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < 1 || n > 1 << 20) usage("bad " + flag + " value '" + v + "'");
  return static_cast<int>(n);
}

options parse(int argc, char** argv) {
  options o;
  if (argc < 2) usage("no network named");
  o.net = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage("missing value after " + a);
    const std::string v = argv[++i];
    if (a == "--weights") {
      o.weights = v;
    } else if (a == "--input") {
      o.input = v;
    } else if (a == "--output") {
      o.output = v;
    } else if (a == "--iters") {
      o.iters = positive(a, v);
    } else if (a == "--warmup") {
      o.warmup = positive(a, v);
    } else if (a == "--batches") {
      o.batches.clear();
      for (const std::string& s : split(v)) o.batches.push_back(positive(a, s));
    } else if (a == "--maths") {
      o.maths.clear();
      for (const std::string& s : split(v)) {
        cuda_math m;
        if (!tn::exec::parse_cuda_math(s, m)) usage("unknown math '" + s + "'");
        o.maths.push_back(m);
      }
    } else {
      usage("unknown option " + a);
    }
  }
  if (o.weights.empty() || o.input.empty() || o.output.empty()) usage("--weights, --input and --output are needed");
  if (o.batches.empty() || o.maths.empty()) usage("empty --batches or --maths");
  return o;
}

template <class F>
double median_ms(F&& f, int warmup, int iters, cudaStream_t s) {
  cudaEvent_t a, b;
  TYPENET_CUDA_CHECK(cudaEventCreate(&a));
  TYPENET_CUDA_CHECK(cudaEventCreate(&b));
  for (int i = 0; i < warmup; ++i) f();
  TYPENET_CUDA_CHECK(cudaStreamSynchronize(s));
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    TYPENET_CUDA_CHECK(cudaEventRecord(a, s));
    f();
    TYPENET_CUDA_CHECK(cudaEventRecord(b, s));
    TYPENET_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    TYPENET_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

struct device_buffer {
  float* p = nullptr;
  explicit device_buffer(std::size_t floats) { TYPENET_CUDA_CHECK(cudaMalloc(&p, sizeof(float) * floats)); }
  ~device_buffer() { cudaFree(p); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
};

template <class Net>
int run(const options& o) {
  constexpr auto in_size = Net::input_shape::size, out_size = Net::output_shape::size;
  const auto p = std::make_unique<tn::params<Net>>();
  tn::io::load_weights(o.weights, *p);
  const tn::io::input_batch x = tn::io::read_input<Net>(o.input);
  const int largest = *std::max_element(o.batches.begin(), o.batches.end());
  const int n = x.batch;
  // The timed batches use the first images, repeated when the file holds fewer.
  std::vector<float> images(static_cast<std::size_t>(std::max(largest, n)) * in_size);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = x.data[i % x.data.size()];
  device_buffer d_in(images.size()), d_out(static_cast<std::size_t>(largest) * out_size);
  TYPENET_CUDA_CHECK(cudaMemcpy(d_in.p, images.data(), sizeof(float) * images.size(), cudaMemcpyHostToDevice));
  for (cuda_math math : o.maths) {
    tn::model<Net, tn::exec::cuda> on(*p, largest, tn::exec::cuda{.math = math});
    tn::model<Net, tn::exec::cuda> off(*p, largest, tn::exec::cuda{.math = math, .cuda_graphs = false});
    std::printf("program net=%s math=%s device_mib=%.1f fused_ops=%zu\n", o.net.c_str(), math_name(math),
                double(on.program().device_bytes()) / (1 << 20),
                tn::model<Net, tn::exec::cuda>::program_type::fused_ops);
    // The outputs of every image of the file, in batches of the largest timed batch.
    std::vector<float> out(static_cast<std::size_t>(n) * out_size);
    for (int first = 0; first < n; first += largest) {
      const int b = std::min(largest, n - first);
      on.forward(x.data.data() + std::size_t(first) * in_size, out.data() + std::size_t(first) * out_size, b);
    }
    tn::io::write_npy(o.output + "_" + math_name(math) + ".npy", {n, out_size}, out);
    for (int b : o.batches) {
      // graphs on and off in turn, twice, so that both see the same clocks; the lower median of each is kept
      double ms_on = 1e30, ms_off = 1e30;
      for (int round = 0; round < 2; ++round) {
        ms_on = std::min(ms_on, median_ms([&] { on.program().run_device(d_in.p, d_out.p, b); }, o.warmup, o.iters,
                                          on.program().stream()));
        ms_off = std::min(ms_off, median_ms([&] { off.program().run_device(d_in.p, d_out.p, b); }, o.warmup, o.iters,
                                            off.program().stream()));
      }
      for (const auto& [graphs, ms] : {std::pair{"on", ms_on}, std::pair{"off", ms_off}})
        std::printf("typenet_cuda net=%s math=%s graphs=%s batch=%d ms_median=%.4f images_per_s=%.1f\n", o.net.c_str(),
                    math_name(math), graphs, b, ms, b * 1000.0 / ms);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  try {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      std::fprintf(stderr, "cuda_graph_bench: no usable CUDA device\n");
      return 77;
    }
    cudaDeviceProp prop{};
    TYPENET_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device %s sms=%d\n", prop.name, prop.multiProcessorCount);
    if (o.net == "resnet18") return run<tn::zoo::resnet18>(o);
    if (o.net == "resnet50") return run<tn::zoo::resnet50>(o);
    if (o.net == "mobilenet_v2") return run<tn::zoo::mobilenet_v2>(o);
    if (o.net == "squeezenet1_1") return run<tn::zoo::squeezenet1_1>(o);
    usage("unknown network '" + o.net + "'");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuda_graph_bench: %s\n", e.what());
    return 1;
  }
}
