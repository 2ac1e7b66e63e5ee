// bench_onednn_graph: the graph networks of the zoo (resnet18, resnet50, mobilenet_v2, squeezenet1_1) run on
// oneDNN 2.6 primitives, the CPU peer that bench/peers/graph_peers.py times beside typenet, ONNX Runtime and
// OpenVINO (docs/performance.md).
//
//   bench_onednn_graph run NET --weights W.safetensors --input X.npy --output Y.npy [--threads T] [--algo A]
//   bench_onednn_graph bench NET --weights W.safetensors [--batch N] [--threads T] [--iters K] [--json F]
//                            [--algo A]
//   bench_onednn_graph check   (CTest onednn_graph_check) resnet18, mobilenet_v2 and squeezenet1_1 with
//                              random weights and batch-norm statistics (tests/graph_nets.hpp), batch 2, each
//                              algorithm, against exec::reference: max |diff| <= 1e-4 max |logit|
//
// The network is not written a second time: the primitives are made from typenet's lowering of the network
// type (fusion/graph.hpp's fused op list), so oneDNN computes the graph typenet computes, and graph_peers.py
// checks its logits against the PyTorch twin's before any timing. Per op:
//   convolution (groups, depthwise)  convolution_forward, batch norm folded into weights and bias (fold_conv),
//                                    the residual join as a `sum` post-op (in place in the shortcut's memory
//                                    when that value has no later reader, else after a reorder copying it),
//                                    ReLU / ReLU6 as eltwise post-ops (relu, clip 0..6)
//   dense                            inner_product_forward (+ relu post-op), 4-d source after a flatten
//   max / avg / adaptive avg pool    pooling_forward (ceil-mode windows as right padding)
//   residual join (not fused)        binary_forward add (+ eltwise post-op)
//   concat                           concat along channels
//   relu, relu6, softmax             eltwise_forward, softmax_forward
// Sources, weights and destinations of convolutions and inner products are format_tag::any, so oneDNN picks
// its blocked layouts; a reorder is added only where a primitive wants a layout its producer did not write.
// Weights are reordered once, when the network is built.
//
// --algo: direct, auto (convolution_auto), winograd (oneDNN's Winograd where it implements it: 3x3 stride-1
// convolutions on AVX-512; direct elsewhere) or best (default): the whole network built with each of the
// three, each checked against the direct network on a random batch (max |diff| <= 1e-4 max |logit|), those
// that differ in their primitives timed in alternation (two rounds, the better of each), the fastest kept. `bench`
// names the choice on stderr and in the JSON; its timing is then the median of K passes of that network after one
// untimed pass (the JSON has Google Benchmark's shape: benchmarks[0].real_time in ms, as typenet-zoo bench --json
// writes).
#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <typenet/exec/reference.hpp>
#include <typenet/fusion/graph.hpp>
#include <typenet/io/npy.hpp>
#include <typenet/io/weights.hpp>
#include <typenet/zoo/networks.hpp>

#include "../../tests/graph_nets.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

namespace tn = typenet;
namespace fg = typenet::fusion::graph;
using dnnl::algorithm;
using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

enum class algo { direct, automatic, winograd };
const char* name_of(algo a) { return a == algo::direct ? "direct" : a == algo::automatic ? "auto" : "winograd"; }

/// The primitives of one network at one batch size, in execution order.
class runner {
 public:
  runner(int batch, int values) : batch_(batch), values_(std::size_t(values)) {}

  /// in: batch images (NCHW floats), out: batch x outputs floats (row-major).
  void run(const float* in, float* out) {
    input_.set_data_handle(const_cast<float*>(in));
    output_.set_data_handle(out);
    for (step& s : steps_) s.prim.execute(strm_, s.args);
    strm_.wait();
  }
  /// The convolution implementations oneDNN chose, with their algorithms, in order (compared between
  /// candidates: two plans with the same list are the same network).
  const std::string& conv_impls() const { return conv_impls_; }

  // --- building (used by build<Net>)
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  int batch() const { return batch_; }
  memory& value(int v) { return values_.at(std::size_t(v)); }
  void set_input(const memory::desc& md) {
    input_ = memory(md, eng, DNNL_MEMORY_NONE);
    values_[0] = input_;
  }
  /// The output: value v in the caller's row-major layout (a [N, K, 1, 1] value is laid out as [N, K]).
  void set_output(int v) {
    const memory::dims d = value(v).get_desc().dims();
    output_ = memory(memory::desc(d, dt::f32, d.size() == 2 ? tag::nc : tag::nchw), eng, DNNL_MEMORY_NONE);
    add("output", dnnl::reorder(value(v), output_), {{DNNL_ARG_FROM, value(v)}, {DNNL_ARG_TO, output_}});
  }
  void add(std::string name, dnnl::primitive p, std::unordered_map<int, memory> args) {
    steps_.push_back({std::move(name), std::move(p), std::move(args)});
  }
  /// m itself when it already has layout `want`, else a new memory filled from m by a reorder step.
  memory ensure(const memory& m, const memory::desc& want, const std::string& what) {
    if (m.get_desc() == want) return m;
    memory out(want, eng);
    add("reorder(" + what + ")", dnnl::reorder(m, out), {{DNNL_ARG_FROM, m}, {DNNL_ARG_TO, out}});
    return out;
  }
  /// A parameter in the primitive's layout `want`, reordered once from user floats of layout `user`.
  memory weights(const std::vector<float>& data, const memory::desc& user, const memory::desc& want) {
    memory u(user, eng, const_cast<float*>(data.data()));
    memory w(want, eng);
    dnnl::reorder(u, w).execute(strm_, u, w);
    strm_.wait();
    return w;
  }
  void note_conv(const std::string& what) { conv_impls_ += what + "\n"; }

 private:
  struct step {
    std::string name;
    dnnl::primitive prim;
    std::unordered_map<int, memory> args;
  };
  int batch_;
  dnnl::stream strm_{eng};
  std::vector<memory> values_;
  memory input_, output_;
  std::vector<step> steps_;
  std::string conv_impls_;
};

memory::desc any(memory::dims d) { return memory::desc(std::move(d), dt::f32, tag::any); }

/// Post-ops: the residual (a sum into the destination) first, then the activation (0 none, 1 relu, 2 relu6).
dnnl::primitive_attr epilogue(bool sum, int act) {
  dnnl::post_ops po;
  if (sum) po.append_sum(1.0f);
  if (act == 1) po.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
  if (act == 2) po.append_eltwise(1.0f, algorithm::eltwise_clip, 0.0f, 6.0f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  return attr;
}

/// Whether value v is read by an op after op `at` of the fused list.
template <class Low>
constexpr bool read_after(std::size_t at, int v) {
  for (std::size_t k = at + 1; k < Low::op_count; ++k) {
    const fg::fused_op& o = Low::ops[k];
    if (o.residual == v) return true;
    for (int i = 0; i < o.input_count; ++i)
      if (o.inputs[std::size_t(i)] == v) return true;
  }
  return v == Low::output;
}

template <class Low, std::size_t I>
void add_conv(runner& r, const float* p, algo a) {
  constexpr fg::fused_op op = Low::ops[I];
  using B = typename Low::template leaf<op.leaf>;
  constexpr tn::window_geometry g = tn::window_of<B>;
  const int n = r.batch();
  const memory::dims src{n, g.in_c, g.in_h, g.in_w}, dst{n, g.out_c, g.out_h, g.out_w};
  const memory::dims wdims =
      g.groups == 1 ? memory::dims{g.out_c, g.in_c, g.kernel_h, g.kernel_w}
                    : memory::dims{g.groups, g.out_c / g.groups, g.in_c / g.groups, g.kernel_h, g.kernel_w};
  const std::size_t per_filter = std::size_t(g.in_c / g.groups) * g.kernel_h * g.kernel_w;
  std::vector<float> w, b;
  const float* bn = nullptr;
  if constexpr (op.bn >= 0) bn = p + Low::template leaf<op.bn>::tensor_offset(0);
  fg::fold_conv(p + B::tensor_offset(0), B::layer::has_bias ? p + B::tensor_offset(1) : nullptr, bn, g.out_c,
                per_filter, w, b);
  // PyTorch's floor rule: the right padding that gives the output extent (never more than the left one).
  const memory::dims strides{g.stride_h, g.stride_w}, pad_l{g.pad_h, g.pad_w},
      pad_r{std::max(0, (g.out_h - 1) * g.stride_h + g.kernel_h - g.in_h - g.pad_h),
            std::max(0, (g.out_w - 1) * g.stride_w + g.kernel_w - g.in_w - g.pad_w)};
  constexpr bool residual = op.residual >= 0;
  auto make = [&](algorithm alg) {
    return dnnl::convolution_forward::primitive_desc(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, alg, any(src), any(wdims), any({g.out_c}),
                                        any(dst), strides, pad_l, pad_r),
        epilogue(residual, op.act), r.eng);
  };
  const algorithm wanted = a == algo::direct      ? algorithm::convolution_direct
                           : a == algo::automatic ? algorithm::convolution_auto
                                                  : algorithm::convolution_winograd;
  dnnl::convolution_forward::primitive_desc pd;
  try {
    pd = make(wanted);
  } catch (const dnnl::error& e) {
    if (e.status != dnnl_unimplemented || wanted != algorithm::convolution_winograd) throw;
    pd = make(algorithm::convolution_direct);  // no Winograd for this layer: direct, as --algo says
  }
  const std::string at = "op " + std::to_string(I);
  memory s = r.ensure(r.value(op.inputs[0]), pd.src_desc(), at + " src");
  memory wm = r.weights(w, memory::desc(wdims, dt::f32, g.groups == 1 ? tag::oihw : tag::goihw), pd.weights_desc());
  memory bm = r.weights(b, memory::desc({g.out_c}, dt::f32, tag::x), pd.bias_desc());
  memory d;
  if constexpr (residual) {
    memory& shortcut = r.value(op.residual);
    // The sum post-op adds into the destination: write over the shortcut when nothing reads it later.
    if (op.residual != 0 && !read_after<Low>(I, op.residual) && shortcut.get_desc() == pd.dst_desc()) {
      d = shortcut;
    } else {
      d = memory(pd.dst_desc(), r.eng);
      r.add(at + " residual copy", dnnl::reorder(shortcut, d), {{DNNL_ARG_FROM, shortcut}, {DNNL_ARG_TO, d}});
    }
  } else {
    d = memory(pd.dst_desc(), r.eng);
  }
  r.note_conv(std::string(pd.impl_info_str()));
  r.add(at + " conv", dnnl::convolution_forward(pd),
        {{DNNL_ARG_SRC, s}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_BIAS, bm}, {DNNL_ARG_DST, d}});
  r.value(op.output) = d;
}

template <class Low, std::size_t I>
void add_dense(runner& r, const float* p) {
  constexpr fg::fused_op op = Low::ops[I];
  using B = typename Low::template leaf<op.leaf>;
  constexpr tn::value_dims in = Low::plan::dims[std::size_t(op.inputs[0])];
  constexpr int outs = static_cast<int>(B::output::size), ins = static_cast<int>(B::input::size);
  static_assert(op.act <= 1, "bench_onednn_graph: dense takes a ReLU epilogue only");
  const int n = r.batch();
  // A dense layer after a flatten reads the spatial value: a 4-d source, weights [Out][C][H][W] (PyTorch's
  // flatten order is C, H, W, which is oihw).
  const memory::dims src = in.c > 0 ? memory::dims{n, in.c, in.h, in.w} : memory::dims{n, ins};
  const memory::dims wd = in.c > 0 ? memory::dims{outs, in.c, in.h, in.w} : memory::dims{outs, ins};
  dnnl::inner_product_forward::primitive_desc pd(
      dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_inference, any(src), any(wd), any({outs}),
                                        any({n, outs})),
      epilogue(false, op.act), r.eng);
  const std::string at = "op " + std::to_string(I);
  const float* w0 = p + B::tensor_offset(0);
  std::vector<float> w(w0, w0 + std::size_t(outs) * ins), b(std::size_t(outs), 0.0f);
  if constexpr (B::layer::has_bias) std::copy_n(p + B::tensor_offset(1), outs, b.begin());
  memory s = r.ensure(r.value(op.inputs[0]), pd.src_desc(), at + " src");
  memory wm = r.weights(w, memory::desc(wd, dt::f32, in.c > 0 ? tag::oihw : tag::oi), pd.weights_desc());
  memory bm = r.weights(b, memory::desc({outs}, dt::f32, tag::x), pd.bias_desc());
  memory d(pd.dst_desc(), r.eng);
  r.add(at + " dense", dnnl::inner_product_forward(pd),
        {{DNNL_ARG_SRC, s}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_BIAS, bm}, {DNNL_ARG_DST, d}});
  r.value(op.output) = d;
}

template <class Low, std::size_t I>
void add_pool(runner& r) {
  constexpr fg::fused_op op = Low::ops[I];
  using B = typename Low::template leaf<op.leaf>;
  using L = typename B::layer;
  const int n = r.batch();
  constexpr int c = static_cast<int>(B::input::dims[0]), ih = static_cast<int>(B::input::dims[1]),
                iw = static_cast<int>(B::input::dims[2]), oh = static_cast<int>(B::output::dims[1]),
                ow = static_cast<int>(B::output::dims[2]);
  int kh, kw, sh, sw, ph = 0, pw = 0;
  algorithm alg;
  if constexpr (tn::layer_kind_of<L> == tn::layer_kind::adaptive_pool) {
    static_assert(ih % oh == 0 && iw % ow == 0, "bench_onednn_graph: adaptive pooling with unequal windows");
    kh = sh = ih / oh, kw = sw = iw / ow, alg = algorithm::pooling_avg_exclude_padding;
  } else if constexpr (tn::layer_kind_of<L> == tn::layer_kind::pool) {
    static_assert(L::kind == tn::pool_kind::max || (L::pad_h == 0 && L::pad_w == 0),
                  "bench_onednn_graph: padded average pooling is not mapped");
    kh = L::kernel_h, kw = L::kernel_w, sh = L::stride_h, sw = L::stride_w, ph = L::pad_h, pw = L::pad_w;
    alg = L::kind == tn::pool_kind::max ? algorithm::pooling_max : algorithm::pooling_avg_exclude_padding;
  } else {
    static_assert(tn::layer_kind_of<L> == tn::layer_kind::pool, "bench_onednn_graph: LRN is not mapped");
  }
  // Ceil-mode windows that run past the input: right padding (max pooling ignores padding).
  const memory::dims pad_r{std::max(0, (oh - 1) * sh + kh - ih - ph), std::max(0, (ow - 1) * sw + kw - iw - pw)};
  const memory& src = r.value(op.inputs[0]);
  dnnl::pooling_forward::primitive_desc pd(
      dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference, alg, src.get_desc(), any({n, c, oh, ow}),
                                  {sh, sw}, {kh, kw}, {ph, pw}, pad_r),
      r.eng);
  memory d(pd.dst_desc(), r.eng);
  r.add("op " + std::to_string(I) + " pool", dnnl::pooling_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, d}});
  r.value(op.output) = d;
}

template <class Low, std::size_t I>
void add_op(runner& r, const float* p, algo a) {
  constexpr fg::fused_op op = Low::ops[I];
  const std::string at = "op " + std::to_string(I);
  if constexpr (op.kind == tn::op_desc::add) {
    memory x = r.value(op.inputs[0]);
    memory y = r.ensure(r.value(op.inputs[1]), x.get_desc(), at + " join");
    dnnl::binary::primitive_desc pd(dnnl::binary::desc(algorithm::binary_add, x.get_desc(), y.get_desc(), x.get_desc()),
                                    epilogue(false, op.act), r.eng);
    memory d(pd.dst_desc(), r.eng);
    r.add(at + " add", dnnl::binary(pd), {{DNNL_ARG_SRC_0, x}, {DNNL_ARG_SRC_1, y}, {DNNL_ARG_DST, d}});
    r.value(op.output) = d;
  } else if constexpr (op.kind == tn::op_desc::concat) {
    std::vector<memory::desc> mds;
    std::unordered_map<int, memory> args;
    for (int i = 0; i < op.input_count; ++i) {
      mds.push_back(r.value(op.inputs[std::size_t(i)]).get_desc());
      args.emplace(DNNL_ARG_MULTIPLE_SRC + i, r.value(op.inputs[std::size_t(i)]));
    }
    dnnl::concat::primitive_desc pd(1, mds, r.eng);
    memory d(pd.dst_desc(), r.eng);
    args.emplace(DNNL_ARG_DST, d);
    r.add(at + " concat", dnnl::concat(pd), std::move(args));
    r.value(op.output) = d;
  } else {
    constexpr fg::leaf_kind k = Low::kinds[std::size_t(op.leaf)];
    if constexpr (k == fg::leaf_kind::conv || k == fg::leaf_kind::depthwise) {
      add_conv<Low, I>(r, p, a);
    } else if constexpr (k == fg::leaf_kind::dense) {
      add_dense<Low, I>(r, p);
    } else if constexpr (k == fg::leaf_kind::spatial) {
      add_pool<Low, I>(r);
    } else if constexpr (k == fg::leaf_kind::relu || k == fg::leaf_kind::relu6 || k == fg::leaf_kind::softmax) {
      const memory& src = r.value(op.inputs[0]);
      dnnl::primitive prim;
      memory d(src.get_desc(), r.eng);
      if constexpr (k == fg::leaf_kind::softmax) {
        prim = dnnl::softmax_forward(dnnl::softmax_forward::primitive_desc(
            dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, src.get_desc(), 1), r.eng));
      } else {
        const bool relu = k == fg::leaf_kind::relu;
        prim = dnnl::eltwise_forward(dnnl::eltwise_forward::primitive_desc(
            dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference,
                                        relu ? algorithm::eltwise_relu : algorithm::eltwise_clip, src.get_desc(), 0.0f,
                                        relu ? 0.0f : 6.0f),
            r.eng));
      }
      r.add(at + " elementwise", prim, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, d}});
      r.value(op.output) = d;
    } else {
      static_assert(k == fg::leaf_kind::conv, "bench_onednn_graph: a layer kind with no oneDNN mapping here");
    }
  }
}

template <class Net>
std::unique_ptr<runner> build(int batch, const float* p, algo a) {
  using Low = fg::lowered<Net>;
  auto r = std::make_unique<runner>(batch, Low::values);
  using in = typename Net::input_shape;
  static_assert(in::rank == 3, "bench_onednn_graph: an image input");
  r->set_input(memory::desc({batch, memory::dim(in::dims[0]), memory::dim(in::dims[1]), memory::dim(in::dims[2])},
                            dt::f32, tag::nchw));
  [&]<std::size_t... I>(std::index_sequence<I...>) { (add_op<Low, I>(*r, p, a), ...); }
  (std::make_index_sequence<Low::op_count>{});
  static_assert(Net::output_shape::rank == 1, "bench_onednn_graph: logits out");
  r->set_output(Low::output);
  return r;
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Median ms of `iters` passes, after one untimed pass.
double median_ms(runner& r, const float* x, float* y, int iters) {
  r.run(x, y);
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    const double t0 = now_ms();
    r.run(x, y);
    t.push_back(now_ms() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

struct options {
  std::string cmd, net, weights, input, output, json, algo = "best";
  int batch = 1, threads = 1, iters = 10;
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench_onednn_graph: %s\n", what.c_str());
  std::exit(1);
}

/// The network for o.algo; with "best", the fastest of the candidates that agree with direct (see the top).
/// One candidate network exists at a time (each is built, used and destroyed), so that the peak resident set
/// graph_peers.py records is that of one network.
template <class Net>
std::unique_ptr<runner> choose(const options& o, const float* p, int batch, std::string& report) {
  const std::map<std::string, algo> named{
      {"direct", algo::direct}, {"auto", algo::automatic}, {"winograd", algo::winograd}};
  if (o.algo != "best") {
    if (!named.count(o.algo)) fail("--algo must be direct, auto, winograd or best, not '" + o.algo + "'");
    report = o.algo;
    return build<Net>(batch, p, named.at(o.algo));
  }
  const std::size_t per_image = std::size_t(Net::input_shape::size), outs = std::size_t(Net::output_shape::size);
  std::vector<float> x(per_image * std::size_t(batch));
  std::mt19937 gen(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& v : x) v = u(gen);
  std::vector<float> want(outs * std::size_t(batch)), got(want.size());
  std::vector<algo> cands;
  std::vector<std::string> seen;
  for (algo a : {algo::direct, algo::automatic, algo::winograd}) {
    auto r = build<Net>(batch, p, a);
    if (std::find(seen.begin(), seen.end(), r->conv_impls()) != seen.end()) {
      report += std::string(name_of(a)) + ": same primitives as an earlier candidate; ";
      continue;
    }
    seen.push_back(r->conv_impls());
    r->run(x.data(), cands.empty() ? want.data() : got.data());
    if (!cands.empty()) {
      double diff = 0, largest = 0;
      for (std::size_t i = 0; i < want.size(); ++i) {
        diff = std::max(diff, double(std::abs(got[i] - want[i])));
        largest = std::max(largest, double(std::abs(want[i])));
      }
      if (!(diff <= 1e-4 * largest)) {
        report += std::string(name_of(a)) + ": rejected, max |diff| " + std::to_string(diff) + " against direct; ";
        continue;
      }
    }
    cands.push_back(a);
  }
  if (cands.size() > 1) {
    const int passes = std::max(2, o.iters / 2);
    std::vector<double> best_ms(cands.size(), 1e300);
    for (std::size_t round = 0; round < 2; ++round)
      for (std::size_t k = 0; k < cands.size(); ++k) {
        const std::size_t c = (k + round) % cands.size();
        auto r = build<Net>(batch, p, cands[c]);
        best_ms[c] = std::min(best_ms[c], median_ms(*r, x.data(), got.data(), passes));
      }
    std::size_t best = 0;
    for (std::size_t c = 0; c < cands.size(); ++c) {
      report += std::string(name_of(cands[c])) + " " + std::to_string(best_ms[c]) + " ms; ";
      if (best_ms[c] < best_ms[best]) best = c;
    }
    std::swap(cands[0], cands[best]);
  }
  report += std::string("chosen: ") + name_of(cands[0]);
  return build<Net>(batch, p, cands[0]);
}

template <class Net>
int main_for(const options& o) {
  tn::params<Net> params;
  tn::io::load_weights(o.weights, params);
  std::string report;
  if (o.cmd == "run") {
    tn::io::input_batch x = tn::io::read_input<Net>(o.input);
    auto r = choose<Net>(o, params.data(), x.batch, report);
    std::vector<float> y(std::size_t(x.batch) * std::size_t(Net::output_shape::size));
    r->run(x.data.data(), y.data());
    tn::io::write_output<Net>(o.output, y, x.batch);
    std::fprintf(stderr, "bench_onednn_graph: %s: %s\n", o.net.c_str(), report.c_str());
    return 0;
  }
  auto r = choose<Net>(o, params.data(), o.batch, report);
  std::vector<float> x(std::size_t(Net::input_shape::size) * std::size_t(o.batch), 0.5f);
  std::vector<float> y(std::size_t(Net::output_shape::size) * std::size_t(o.batch));
  const double ms = median_ms(*r, x.data(), y.data(), o.iters);
  std::fprintf(stderr, "bench_onednn_graph: %s batch %d threads %d: %s\n", o.net.c_str(), o.batch, o.threads,
               report.c_str());
  std::printf("%s batch=%d threads=%d ms_per_batch_median=%.3f\n", o.net.c_str(), o.batch, o.threads, ms);
  if (!o.json.empty()) {
    std::ofstream f(o.json);
    f << "{\"benchmarks\": [{\"name\": \"onednn/" << o.net << "/batch:" << o.batch << "/threads:" << o.threads
      << "\", \"real_time\": " << ms << ", \"time_unit\": \"ms\"}], \"onednn_version\": \"" << dnnl_version()->major
      << "." << dnnl_version()->minor << "." << dnnl_version()->patch << "\", \"choice\": \"" << report << "\"}\n";
    if (!f) fail("cannot write " + o.json);
  }
  return 0;
}

/// `check` for one network: false when an algorithm's logits differ from exec::reference's.
template <class Net>
bool check_one(const char* name) {
  const tn::params<Net> p = tn::test::graph_nets::random_params<Net>(21);
  constexpr int batch = 2;
  std::vector<float> x(std::size_t(Net::input_shape::size) * batch);
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& v : x) v = u(gen);
  std::vector<float> want(std::size_t(Net::output_shape::size) * batch), got(want.size());
  tn::model<Net, tn::exec::reference_t> ref(p, batch);
  ref.forward(x, want, batch);
  double largest = 0;
  for (float v : want) largest = std::max(largest, double(std::abs(v)));
  bool ok = true;
  for (algo a : {algo::direct, algo::automatic, algo::winograd}) {
    build<Net>(batch, p.data(), a)->run(x.data(), got.data());
    double diff = 0;
    for (std::size_t i = 0; i < want.size(); ++i) diff = std::max(diff, double(std::abs(got[i] - want[i])));
    const bool pass = diff <= 1e-4 * largest;  // false for NaN
    std::printf("%s %s: max |diff| %.3g against exec::reference, max |logit| %.3g, bound %.3g: %s\n", name, name_of(a),
                diff, largest, 1e-4 * largest, pass ? "pass" : "FAIL");
    ok = ok && pass;
  }
  return ok;
}

int to_int(const std::string& flag, const char* v) {
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*v == '\0' || *end != '\0' || n < 1 || n > 4096)
    fail(flag + " takes a whole number from 1 to 4096, not '" + v + "'");
  return int(n);
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (argc == 2 && std::string(argv[1]) == "check") {
    omp_set_num_threads(2);
    const bool ok = check_one<tn::zoo::resnet18>("resnet18") & check_one<tn::zoo::mobilenet_v2>("mobilenet_v2") &
                    check_one<tn::zoo::squeezenet1_1>("squeezenet1_1");
    return ok ? 0 : 1;
  }
  if (argc < 3 || (std::string(argv[1]) != "run" && std::string(argv[1]) != "bench"))
    fail(
        "usage: bench_onednn_graph run|bench NET --weights W.safetensors [options] (see the top of "
        "bench/peers/onednn_graph.cpp)");
  o.cmd = argv[1], o.net = argv[2];
  for (int i = 3; i < argc; ++i) {
    const std::string f = argv[i];
    if (i + 1 >= argc) fail(f + " needs a value");
    const char* v = argv[++i];
    if (f == "--weights")
      o.weights = v;
    else if (f == "--input")
      o.input = v;
    else if (f == "--output")
      o.output = v;
    else if (f == "--json")
      o.json = v;
    else if (f == "--algo")
      o.algo = v;
    else if (f == "--batch")
      o.batch = to_int(f, v);
    else if (f == "--threads")
      o.threads = to_int(f, v);
    else if (f == "--iters")
      o.iters = to_int(f, v);
    else
      fail("unknown option " + f);
  }
  if (o.weights.empty()) fail("--weights W.safetensors is required");
  if (o.cmd == "run" && (o.input.empty() || o.output.empty())) fail("run needs --input X.npy and --output Y.npy");
  omp_set_num_threads(o.threads);
  try {
    if (o.net == "resnet18") return main_for<tn::zoo::resnet18>(o);
    if (o.net == "resnet50") return main_for<tn::zoo::resnet50>(o);
    if (o.net == "mobilenet_v2") return main_for<tn::zoo::mobilenet_v2>(o);
    if (o.net == "squeezenet1_1") return main_for<tn::zoo::squeezenet1_1>(o);
    fail("unknown network '" + o.net + "' (resnet18, resnet50, mobilenet_v2, squeezenet1_1)");
  } catch (const dnnl::error& e) {
    fail(std::string("oneDNN: ") + e.what());
  } catch (const std::exception& e) {
    fail(e.what());
  }
}
