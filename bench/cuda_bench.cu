// bench/cuda_bench.cu: exec::cuda on the seed AlexNet: each fused stage and the whole network, in fp32,
// tf32x3, tf32, fp16 and bf16, with both convolution algorithms (conv=winograd: the policy's default, Winograd for the
// stride-1 3x3 / 5x5 convolutions from winograd_min_columns on and the direct GEMM below; conv=direct:
// the direct implicit GEMM for every convolution, exec::cuda{.winograd = false}), timed
// with CUDA events (median of the timed runs, after warm-up runs). Device in, device out (run_device): the
// same thing PyTorch's timing in torch_cuda_compare.py measures.
//
// Before any timing, the first two images go through exec::reference and through exec::cuda in every math
// and both convolution algorithms (Winograd forced at this batch: winograd_min_columns = 0). Then the large
// batches, where exec::cuda changes its kernels (dense layers in 128-image column tiles from batch 128 on,
// Winograd from winograd_min_columns), are checked with the policies that are timed: batch 131 (one full
// 128-image tile and a partial one) and the largest timed batch if it is 128 or more, in every math and
// convolution algorithm: every image against the same images run in chunks of at most 64 (the path the
// batch-2 check and the gpu tests cover), and images 0 and 1 against exec::reference. A mismatch is
// reported before and after the timings, and the exit status is 1.
//
//   cuda_bench [--iters N] [--warmup N] [--batches LIST] [--stage-batches LIST] [--quick]
//              [--maths LIST] [--conv LIST]
//     --iters N            timed runs per measurement, median reported (default 20)
//     --warmup N           untimed runs before them (default 3)
//     --batches LIST       whole-network batches (default 1,64,256)
//     --stage-batches LIST per-stage batches (default 1,64,256; --quick: 64,256)
//     --maths LIST         of fp32, tf32x3, tf32, fp16, bf16 (default all five)
//     --conv LIST          of winograd, direct (default both)
//     --dump DIR           after the checks, write DIR/params.npy (the weights, flat, PyTorch order),
//                          DIR/input.npy (--dump-batch images), DIR/probs_<math>.npy (exec::cuda's softmax
//                          output for them, default policy, every math of --maths) and DIR/meta.json, for
//                          torch_cuda_compare.py --typenet-dump (typenet against PyTorch on the same weights)
//     --dump-batch N       images in the dump (default 256: the batch-256 path is compared too)
// For one math the programs of both convolution algorithms are built side by side and each measurement is
// taken for both in turn, so that the pair sees the same clocks.
//
// Output lines (read by bench/torch_cuda_compare.py and bench/gpu_check.sh):
//   check math=<m> conv=<c> max_abs_diff=<x> max_abs_ref=<y> ok|FAILED
//   check_large math=<m> conv=<c> batch=<b> max_abs_diff_chunked=<x> max_abs_diff_ref=<y> max_abs_ref=<z> ok|FAILED
//   typenet_cuda stage=<i> layers=<fused type> math=<m> conv=<winograd|direct> batch=<b> ms_median=<x> gflops=<y>
//   typenet_cuda net=seed_alexnet math=<m> conv=<winograd|direct> batch=<b> ms_median=<x> images_per_s=<y> gflops=<z>
// GFLOP/s count 2 FLOP per multiply-add of mac_count (the direct convolution's count, also for Winograd).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <typenet/cuda.hpp>
#include <typenet/exec/reference.hpp>
#include <typenet/zoo/alexnet.hpp>

namespace tn = typenet;
using net = tn::zoo::seed_alexnet;
using tn::exec::cuda_math;

namespace {

struct options {
  int iters = 20, warmup = 3;
  std::vector<int> batches{1, 64, 256}, stage_batches{1, 64, 256};
  std::vector<cuda_math> maths{cuda_math::fp32, cuda_math::tf32x3, cuda_math::tf32, cuda_math::fp16, cuda_math::bf16};
  std::vector<bool> convs{true, false};  // winograd, direct
  std::string dump;
  int dump_batch = 256;
};

const char* math_name(cuda_math m) { return tn::exec::cuda_math_name(m).data(); }
const char* conv_name(bool winograd) { return winograd ? "winograd" : "direct"; }

std::vector<std::string> split(const char* list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(
      stderr,
      "cuda_bench: %s\nusage: cuda_bench [--iters N] [--warmup N] [--batches LIST] [--stage-batches LIST] "
      "[--quick] [--maths fp32,tf32x3,tf32,fp16,bf16] [--conv winograd,direct] [--dump DIR] [--dump-batch N]\n",
      why.c_str());
  std::exit(2);
}

std::vector<int> parse_batches(const char* list) {
  std::vector<int> out;
  for (const std::string& s : split(list)) {
    const int b = std::atoi(s.c_str());
    if (b < 1) usage("bad batch '" + s + "'");
    out.push_back(b);
  }
  return out;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      o.stage_batches = {64, 256};
      continue;
    }
    if (i + 1 >= argc) usage("unknown option or missing value: " + a);
    const char* v = argv[++i];
    if (a == "--iters") {
      o.iters = std::max(1, std::atoi(v));
    } else if (a == "--warmup") {
      o.warmup = std::max(0, std::atoi(v));
    } else if (a == "--dump") {
      o.dump = v;
    } else if (a == "--dump-batch") {
      o.dump_batch = std::atoi(v);
      if (o.dump_batch < 1) usage("bad --dump-batch");
    } else if (a == "--batches") {
      o.batches = parse_batches(v);
    } else if (a == "--stage-batches") {
      o.stage_batches = parse_batches(v);
    } else if (a == "--maths") {
      o.maths.clear();
      for (const std::string& s : split(v)) {
        cuda_math m;
        if (!tn::exec::parse_cuda_math(s, m)) usage("unknown math '" + s + "'");
        o.maths.push_back(m);
      }
    } else if (a == "--conv") {
      o.convs.clear();
      for (const std::string& s : split(v)) {
        if (s != "winograd" && s != "direct") usage("unknown conv '" + s + "'");
        o.convs.push_back(s == "winograd");
      }
    } else {
      usage("unknown option " + a);
    }
  }
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

template <class Stage>
constexpr std::int64_t stage_macs() {
  return []<class... B>(tn::type_list<B...>) { return (std::int64_t{0} + ... + B::macs); }(typename Stage::layers{});
}

template <class Stage>
std::string stage_name() {
  std::string s;
  []<class... B>(tn::type_list<B...>, std::string& out) {
    ((out += (out.empty() ? "" : "+") + B::layer::name()), ...);
  }(typename Stage::layers{}, s);
  for (char& c : s)
    if (c == ' ') c = '_';
  return s;
}

/// Before timing: the first two images through exec::reference and through exec::cuda in each math and
/// each convolution algorithm, compared (fp32 and tf32x3 within atol 1e-4 + rtol 1e-3, tf32, fp16 and bf16
/// within cuda_math_relative_bound of the largest output), so that a build with other tuning knobs is checked in the
/// same run. Returns false on a mismatch.
bool check(const tn::params<net>& p, const std::vector<float>& in, std::vector<float>& want) {
  constexpr int b = 2;
  want.assign(b * net::output_shape::size, 0.f);
  std::vector<float> got(want.size());
  tn::model<net, tn::exec::reference_t> ref(p, b);
  ref.forward(in.data(), want.data(), b);
  bool ok = true;
  for (cuda_math math : {cuda_math::fp32, cuda_math::tf32x3, cuda_math::tf32, cuda_math::fp16, cuda_math::bf16}) {
    for (bool winograd : {true, false}) {
      tn::model<net, tn::exec::cuda> gpu(p, b,
                                         tn::exec::cuda{.math = math, .winograd = winograd, .winograd_min_columns = 0});
      std::fill(got.begin(), got.end(), -12345.f);
      gpu.forward(in.data(), got.data(), b);
      double worst = 0, biggest = 0, excess = 0;
      for (std::size_t i = 0; i < want.size(); ++i) {
        double d = std::abs(double(got[i]) - want[i]);
        if (std::isnan(d)) d = INFINITY;
        worst = std::max(worst, d);
        biggest = std::max(biggest, std::abs(double(want[i])));
        excess = std::max(excess, d - (1e-4 + 1e-3 * std::abs(double(want[i]))));
      }
      const double share = tn::exec::cuda_math_relative_bound(math);
      const bool pass = share > 0 ? worst <= share * biggest : excess <= 0;
      std::printf("check math=%s conv=%s max_abs_diff=%.3g max_abs_ref=%.3g %s\n", math_name(math), conv_name(winograd),
                  worst, biggest, pass ? "ok" : "FAILED");
      std::fflush(stdout);
      ok = ok && pass;
    }
  }
  return ok;
}

/// The large-batch check: with the policies that are timed (Winograd from winograd_min_columns; direct),
/// batch `b` at once against the same images in chunks of at most 64 (every image), and images 0-1
/// against exec::reference (`want`, from check()). fp32 and tf32x3 element-wise within atol 1e-4 + rtol
/// 1e-3, tf32, fp16 and bf16 within cuda_math_relative_bound of the largest output. Returns false on a mismatch.
bool check_large(const tn::params<net>& p, const std::vector<float>& in, const std::vector<float>& want, int b,
                 const options& o) {
  constexpr auto out_size = net::output_shape::size;
  bool ok = true;
  for (cuda_math math : o.maths) {
    for (bool winograd : o.convs) {
      tn::model<net, tn::exec::cuda> gpu(p, b, tn::exec::cuda{.math = math, .winograd = winograd});
      std::vector<float> whole(static_cast<std::size_t>(b) * out_size, -12345.f), parts(whole.size(), -12345.f);
      gpu.forward(in.data(), whole.data(), b);
      for (int first = 0; first < b; first += 64) {
        const int n = std::min(64, b - first);
        gpu.forward(in.data() + std::size_t(first) * net::input_shape::size,
                    parts.data() + std::size_t(first) * out_size, n);
      }
      auto compare = [&](const float* got, const float* ref, std::size_t count) {
        double worst = 0, biggest = 0, excess = 0;
        for (std::size_t i = 0; i < count; ++i) {
          double d = std::abs(double(got[i]) - ref[i]);
          if (std::isnan(d)) d = INFINITY;
          worst = std::max(worst, d);
          biggest = std::max(biggest, std::abs(double(ref[i])));
          excess = std::max(excess, d - (1e-4 + 1e-3 * std::abs(double(ref[i]))));
        }
        const double share = tn::exec::cuda_math_relative_bound(math);
        const bool pass = share > 0 ? worst <= share * biggest : excess <= 0;
        return std::tuple{worst, biggest, pass};
      };
      const auto [d_chunk, big_chunk, ok_chunk] = compare(whole.data(), parts.data(), whole.size());
      const auto [d_ref, big_ref, ok_ref] = compare(whole.data(), want.data(), want.size());
      const bool pass = ok_chunk && ok_ref && big_chunk > 0;
      std::printf(
          "check_large math=%s conv=%s batch=%d max_abs_diff_chunked=%.3g max_abs_diff_ref=%.3g "
          "max_abs_ref=%.3g %s\n",
          math_name(math), conv_name(winograd), b, d_chunk, d_ref, std::max(big_chunk, big_ref),
          pass ? "ok" : "FAILED");
      std::fflush(stdout);
      ok = ok && pass;
    }
  }
  return ok;
}

/// A float32 .npy file (C order).
void write_npy(const std::filesystem::path& path, const std::vector<long long>& shape, const float* data) {
  std::string dims;
  long long count = 1;
  for (long long d : shape) {
    dims += std::to_string(d) + ", ";
    count *= d;
  }
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const unsigned short len = static_cast<unsigned short>(header.size());
  f.put(static_cast<char>(len & 0xff));
  f.put(static_cast<char>(len >> 8));
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(sizeof(float) * count));
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

/// --dump: the weights, --dump-batch images and exec::cuda's output for them in every math (default policy).
void dump(const tn::params<net>& p, const std::vector<float>& in, const options& o) {
  const std::filesystem::path dir(o.dump);
  std::filesystem::create_directories(dir);
  const int b = o.dump_batch;
  write_npy(dir / "params.npy", {static_cast<long long>(tn::param_count<net>)}, p.data());
  write_npy(dir / "input.npy", {b, 3, 227, 227}, in.data());
  std::string maths;
  for (cuda_math math : o.maths) {
    tn::model<net, tn::exec::cuda> gpu(p, b, tn::exec::cuda{.math = math});
    std::vector<float> out(static_cast<std::size_t>(b) * net::output_shape::size);
    gpu.forward(in.data(), out.data(), b);
    write_npy(dir / (std::string("probs_") + math_name(math) + ".npy"), {b, 1000}, out.data());
    maths += std::string(maths.empty() ? "" : ", ") + "\"" + math_name(math) + "\"";
  }
  std::ofstream(dir / "meta.json") << "{\"network\": \"seed_alexnet\", \"batch\": " << b << ", \"maths\": [" << maths
                                   << "], \"params\": " << tn::param_count<net> << "}\n";
  std::printf("dump: weights, %d images and exec::cuda's outputs in %s\n", b, o.dump.c_str());
}

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

/// Times every stage (batches in o.stage_batches) and the whole network (o.batches) in one math, for each
/// convolution algorithm in o.convs, the algorithms taking turns measurement by measurement.
void bench(cuda_math math, const tn::params<net>& p, const float* d_in, float* d_out, const options& o) {
  using program = tn::exec::cuda::program<net>;
  using stages = tn::fusion::stages_t<net>;
  std::vector<int> all = o.batches;
  all.insert(all.end(), o.stage_batches.begin(), o.stage_batches.end());
  const int max_batch = *std::max_element(all.begin(), all.end());
  std::vector<std::unique_ptr<program>> progs;
  for (bool winograd : o.convs) {
    progs.push_back(std::make_unique<program>(p, max_batch, tn::exec::cuda{.math = math, .winograd = winograd}));
    progs.back()->run_device(d_in, d_out, max_batch);  // real values in the buffers the stages read
  }
  TYPENET_CUDA_CHECK(cudaDeviceSynchronize());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  for (int batch : all) {
    if (contains(o.stage_batches, batch)) {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        (([&] {
           using S = tn::detail::at_t<I, stages>;
           for (std::size_t c = 0; c < progs.size(); ++c) {
             program& prog = *progs[c];
             const double ms =
                 median_ms([&] { prog.template run_stage_device<I>(batch); }, o.warmup, o.iters, prog.stream());
             std::printf("typenet_cuda stage=%zu layers=%s math=%s conv=%s batch=%d ms_median=%.4f gflops=%.1f\n", I,
                         stage_name<S>().c_str(), math_name(math), conv_name(o.convs[c]), batch, ms,
                         2.0 * stage_macs<S>() * batch / ms * 1e-6);
           }
         }()),
         ...);
      }
      (std::make_index_sequence<stages::size>{});
    }
    if (contains(o.batches, batch)) {
      for (std::size_t c = 0; c < progs.size(); ++c) {
        program& prog = *progs[c];
        const double ms = median_ms([&] { prog.run_device(d_in, d_out, batch); }, o.warmup, o.iters, prog.stream());
        std::printf(
            "typenet_cuda net=seed_alexnet math=%s conv=%s batch=%d ms_median=%.4f images_per_s=%.1f gflops=%.1f\n",
            math_name(math), conv_name(o.convs[c]), batch, ms, batch * 1000.0 / ms,
            2.0 * tn::mac_count<net> * batch / ms * 1e-6);
      }
    }
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  try {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      std::fprintf(stderr, "cuda_bench: no usable CUDA device\n");
      return 77;
    }
    cudaDeviceProp prop{};
    TYPENET_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device %s sms=%d\n", prop.name, prop.multiProcessorCount);
    std::printf("tuning bk=%d stages=%d min_blocks=%d\n", TYPENET_CUDA_GEMM_BK, TYPENET_CUDA_GEMM_STAGES,
                TYPENET_CUDA_GEMM_MIN_BLOCKS);
    std::printf("options iters=%d warmup=%d\n", o.iters, o.warmup);
    int max_batch = 131;  // the large-batch check
    for (int b : o.batches) max_batch = std::max(max_batch, b);
    for (int b : o.stage_batches) max_batch = std::max(max_batch, b);
    if (!o.dump.empty()) max_batch = std::max(max_batch, o.dump_batch);
    tn::params<net> p;
    tn::init_he(p, 5);
    std::vector<float> in(static_cast<std::size_t>(max_batch) * net::input_shape::size);
    tn::fill_uniform(in, 9);
    float *d_in = nullptr, *d_out = nullptr;
    TYPENET_CUDA_CHECK(cudaMalloc(&d_in, sizeof(float) * in.size()));
    TYPENET_CUDA_CHECK(cudaMalloc(&d_out, sizeof(float) * max_batch * net::output_shape::size));
    TYPENET_CUDA_CHECK(cudaMemcpy(d_in, in.data(), sizeof(float) * in.size(), cudaMemcpyHostToDevice));
    // A failed check still times everything (the run on a lent GPU is not repeatable at will), but the
    // failure is printed first and last, and the exit status says so.
    std::vector<float> want;
    bool ok = check(p, in, want);
    std::vector<int> large{131};
    const int largest = *std::max_element(o.batches.begin(), o.batches.end());
    if (largest >= 128 && largest != 131) large.push_back(largest);
    for (int b : large) ok = check_large(p, in, want, b, o) && ok;
    if (!o.dump.empty()) dump(p, in, o);
    if (!ok)
      std::printf(
          "cuda_bench: CHECK FAILED: exec::cuda disagrees with exec::reference; timings below are unverified\n");
    for (cuda_math math : o.maths) bench(math, p, d_in, d_out, o);
    cudaFree(d_in);
    cudaFree(d_out);
    if (!ok) {
      std::fprintf(stderr, "cuda_bench: exec::cuda disagrees with exec::reference (see the check lines)\n");
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuda_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
