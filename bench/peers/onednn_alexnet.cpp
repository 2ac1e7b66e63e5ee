// The oneDNN 2.6 AlexNet peer. See onednn_alexnet.hpp for the interface and the choices.

#include "onednn_alexnet.hpp"

#include <omp.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

using dnnl::algorithm;
using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

const dnnl::algorithm onednn_alexnet::direct = dnnl::algorithm::convolution_direct;
const dnnl::algorithm onednn_alexnet::automatic = dnnl::algorithm::convolution_auto;

namespace {

// Layout of a memory descriptor in oneDNN's own spelling: dimensions ordered from the largest stride to
// the smallest (a letter per dimension, upper case when it is also blocked), then the inner blocks,
// e.g. "acdb" for NHWC, "Acdb48a" for output-channel-blocked conv weights.
std::string layout_name(const memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind == dnnl_format_kind_any) return "any";
  if (d.format_kind != dnnl_blocked) return dnnl_fmt_kind2str(d.format_kind);
  const auto& b = d.format_desc.blocking;
  const int n = d.ndims;
  std::vector<int> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return b.strides[x] > b.strides[y]; });
  std::vector<bool> blocked(static_cast<std::size_t>(n), false);
  for (int i = 0; i < b.inner_nblks; ++i) blocked[std::size_t(b.inner_idxs[i])] = true;
  std::string s;
  for (int i : order) s += char((blocked[std::size_t(i)] ? 'A' : 'a') + i);
  for (int i = 0; i < b.inner_nblks; ++i) s += std::to_string(b.inner_blks[i]) + char('a' + b.inner_idxs[i]);
  return s;
}

// One primitive to run, with its arguments.
struct step {
  std::string name;
  dnnl::primitive prim;
  std::unordered_map<int, memory> args;
  std::string info;
};

struct conv_spec {
  int filters, kernel, stride, pad;
};

// The five convolutions of the network, with the shape of one input image each.
struct conv_layer {
  const char* name;
  int channels, height, width;
  conv_spec spec;
};
constexpr conv_layer conv_layers_of_alexnet[onednn_alexnet::conv_layers] = {
    {"conv1", 3, 227, 227, {96, 11, 4, 0}}, {"conv2", 96, 27, 27, {256, 5, 1, 2}},
    {"conv3", 256, 13, 13, {384, 3, 1, 1}}, {"conv4", 384, 13, 13, {384, 3, 1, 1}},
    {"conv5", 384, 13, 13, {256, 3, 1, 1}},
};

algorithm to_dnnl(onednn_alexnet::algo a) {
  switch (a) {
    case onednn_alexnet::algo::direct:
      return algorithm::convolution_direct;
    case onednn_alexnet::algo::winograd:
      return algorithm::convolution_winograd;
    case onednn_alexnet::algo::automatic:
      return algorithm::convolution_auto;
  }
  throw std::invalid_argument("onednn_alexnet: unknown convolution algorithm");
}

onednn_alexnet::conv_plan uniform_plan(algorithm a) {
  onednn_alexnet::algo x;
  if (a == algorithm::convolution_direct)
    x = onednn_alexnet::algo::direct;
  else if (a == algorithm::convolution_winograd)
    x = onednn_alexnet::algo::winograd;
  else if (a == algorithm::convolution_auto)
    x = onednn_alexnet::algo::automatic;
  else
    throw std::invalid_argument(
        "onednn_alexnet: conv_alg must be convolution_direct, convolution_winograd or convolution_auto");
  onednn_alexnet::conv_plan plan;
  plan.fill(x);
  return plan;
}

dnnl::convolution_forward::desc conv_desc(int batch, const conv_layer& l, algorithm alg) {
  const conv_spec& c = l.spec;
  const memory::dim OH = (l.height + 2 * c.pad - c.kernel) / c.stride + 1;
  const memory::dim OW = (l.width + 2 * c.pad - c.kernel) / c.stride + 1;
  memory::desc src_any({batch, l.channels, l.height, l.width}, dt::f32, tag::any);
  memory::desc wei_any({c.filters, l.channels, c.kernel, c.kernel}, dt::f32, tag::any);
  memory::desc bias_any({c.filters}, dt::f32, tag::any);
  memory::desc dst_any({batch, c.filters, OH, OW}, dt::f32, tag::any);
  return dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, alg, src_any, wei_any, bias_any, dst_any,
                                         {c.stride, c.stride}, {c.pad, c.pad}, {c.pad, c.pad});
}

}  // namespace

struct onednn_alexnet::impl {
  int batch;
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};

  memory user_in;                       // wraps the caller's NCHW input (handle set per call)
  memory user_out;                      // wraps the caller's batch x 1000 output (handle set per call)
  std::vector<step> steps;              // up to fc8's output
  std::vector<step> softmax_steps;      // softmax (+ reorder to the caller's buffer when needed)
  std::vector<step> logits_steps;       // fc8's output -> caller's buffer (when forward_logits is used)
  conv_plan plan;                       // the algorithm of each convolution
  std::vector<std::size_t> conv_steps;  // index in steps of conv1 .. conv5

  // Weights: for each parameterised layer, the user-layout descriptor and the primitive's memory.
  struct param {
    memory::desc user_md;  // PyTorch layout
    memory prim_mem;       // the primitive's layout
  };
  std::vector<param> params;
  bool weights_set = false;

  std::vector<std::uint8_t> scratch_buf;  // shared user scratchpad
  memory::desc scratch_md;
  std::vector<std::pair<step*, memory::desc>> scratch_users;

  // Returns `m` if it already has layout `want`, else a new memory of layout `want` filled by a reorder
  // appended to `into`.
  memory ensure(std::vector<step>& into, const memory& m, const memory::desc& want, const std::string& what) {
    if (m.get_desc() == want) return m;
    memory out(want, eng);
    dnnl::reorder::primitive_desc pd(eng, m.get_desc(), eng, want);
    std::string info = std::string(pd.impl_info_str()) + "  " + layout_name(m.get_desc()) + " -> " + layout_name(want);
    into.push_back({"reorder(" + what + ")", dnnl::reorder(pd), {{DNNL_ARG_FROM, m}, {DNNL_ARG_TO, out}}, info});
    return out;
  }

  static dnnl::primitive_attr attr_with(bool relu) {
    dnnl::primitive_attr attr;
    if (relu) {
      dnnl::post_ops po;
      po.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(po);
    }
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return attr;
  }

  void note_scratch(const memory::desc& md) {
    if (md.get_size() > scratch_md.get_size()) scratch_md = md;
    scratch_users.emplace_back(&steps.back(), md);  // pointer fixed up in finish()
  }

  // Adds a parameter slot (weights or bias) and returns its primitive-layout memory.
  memory add_param(const memory::desc& user_md, const memory::desc& prim_md) {
    memory m(prim_md, eng);
    std::fill_n(static_cast<float*>(m.get_data_handle()), prim_md.get_size() / sizeof(float), 0.0f);
    params.push_back({user_md, m});
    return m;
  }

  memory conv(int layer, const memory& src, algorithm alg) {
    const conv_layer& l = conv_layers_of_alexnet[layer];
    const std::string name = l.name;
    const conv_spec& c = l.spec;
    const memory::dims sd = src.get_desc().dims();
    const memory::dim C = sd[1];
    if (sd[1] != l.channels || sd[2] != l.height || sd[3] != l.width)
      throw std::logic_error("onednn_alexnet: " + name + " input shape differs from the table");
    std::optional<dnnl::convolution_forward::primitive_desc> made;
    try {
      made.emplace(conv_desc(batch, l, alg), attr_with(true), eng);
    } catch (const dnnl::error& e) {
      if (e.status != dnnl_unimplemented) throw;
      throw std::invalid_argument("onednn_alexnet: " + name + ": oneDNN has no implementation of " +
                                  dnnl_alg_kind2str(static_cast<dnnl_alg_kind_t>(alg)) + " for this layer on this CPU");
    }
    const dnnl::convolution_forward::primitive_desc& pd = *made;
    memory s = ensure(steps, src, pd.src_desc(), name + " src");
    memory w = add_param(memory::desc({c.filters, C, c.kernel, c.kernel}, dt::f32, tag::oihw), pd.weights_desc());
    memory b = add_param(memory::desc({c.filters}, dt::f32, tag::x), pd.bias_desc());
    memory dst(pd.dst_desc(), eng);
    std::string info = std::string(pd.impl_info_str()) + "  src=" + layout_name(pd.src_desc()) +
                       " wei=" + layout_name(pd.weights_desc()) + " dst=" + layout_name(pd.dst_desc()) + " +relu";
    conv_steps.push_back(steps.size());
    steps.push_back({name,
                     dnnl::convolution_forward(pd),
                     {{DNNL_ARG_SRC, s}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, dst}},
                     info});
    note_scratch(pd.scratchpad_desc());
    return dst;
  }

  memory pool(const std::string& name, const memory& src) {
    const memory::dims sd = src.get_desc().dims();
    const memory::dim OH = (sd[2] - 3) / 2 + 1, OW = (sd[3] - 3) / 2 + 1;
    memory::desc dst_any({sd[0], sd[1], OH, OW}, dt::f32, tag::any);
    dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_inference, algorithm::pooling_max, src.get_desc(), dst_any,
                                  {2, 2}, {3, 3}, {0, 0}, {0, 0});
    dnnl::pooling_forward::primitive_desc pd(d, attr_with(false), eng);
    memory s = ensure(steps, src, pd.src_desc(), name + " src");
    memory dst(pd.dst_desc(), eng);
    std::string info =
        std::string(pd.impl_info_str()) + "  src=" + layout_name(pd.src_desc()) + " dst=" + layout_name(pd.dst_desc());
    steps.push_back({name, dnnl::pooling_forward(pd), {{DNNL_ARG_SRC, s}, {DNNL_ARG_DST, dst}}, info});
    note_scratch(pd.scratchpad_desc());
    return dst;
  }

  memory dense(const std::string& name, const memory& src, memory::dim outputs, bool relu) {
    const memory::dims sd = src.get_desc().dims();
    memory::dims wdims = sd;
    wdims[0] = outputs;  // {N, C, H, W} -> weights {O, C, H, W}; {N, I} -> {O, I}
    memory::desc src_any(sd, dt::f32, tag::any);
    memory::desc wei_any(wdims, dt::f32, tag::any);
    memory::desc bias_any({outputs}, dt::f32, tag::any);
    memory::desc dst_any({batch, outputs}, dt::f32, tag::any);
    dnnl::inner_product_forward::desc d(dnnl::prop_kind::forward_inference, src_any, wei_any, bias_any, dst_any);
    dnnl::inner_product_forward::primitive_desc pd(d, attr_with(relu), eng);
    memory s = ensure(steps, src, pd.src_desc(), name + " src");
    // PyTorch's [O][In] with In flattened as C, H, W is exactly oihw (4D) or oi (2D).
    memory w = add_param(memory::desc(wdims, dt::f32, wdims.size() == 4 ? tag::oihw : tag::oi), pd.weights_desc());
    memory b = add_param(memory::desc({outputs}, dt::f32, tag::x), pd.bias_desc());
    memory dst(pd.dst_desc(), eng);
    std::string info = std::string(pd.impl_info_str()) + "  src=" + layout_name(pd.src_desc()) +
                       " wei=" + layout_name(pd.weights_desc()) + " dst=" + layout_name(pd.dst_desc()) +
                       (relu ? " +relu" : "");
    steps.push_back({name,
                     dnnl::inner_product_forward(pd),
                     {{DNNL_ARG_SRC, s}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, dst}},
                     info});
    note_scratch(pd.scratchpad_desc());
    return dst;
  }

  impl(int n, const conv_plan& conv_algs) : batch(n), plan(conv_algs) {
    if (n < 1) throw std::invalid_argument("onednn_alexnet: batch must be >= 1");
    steps.reserve(32);  // step pointers are kept in scratch_users: no reallocation allowed
    softmax_steps.reserve(4);
    logits_steps.reserve(4);

    user_in = memory(memory::desc({batch, 3, 227, 227}, dt::f32, tag::nchw), eng, nullptr);
    user_out = memory(memory::desc({batch, 1000}, dt::f32, tag::nc), eng, nullptr);

    memory x = conv(0, user_in, to_dnnl(plan[0]));
    x = pool("pool1", x);
    x = conv(1, x, to_dnnl(plan[1]));
    x = pool("pool2", x);
    x = conv(2, x, to_dnnl(plan[2]));
    x = conv(3, x, to_dnnl(plan[3]));
    x = conv(4, x, to_dnnl(plan[4]));
    x = pool("pool5", x);
    // flatten: fc6 takes pool5's 4D output; its weights {4096, 256, 6, 6} match PyTorch's flatten order.
    x = dense("fc6", x, 4096, true);
    x = dense("fc7", x, 4096, true);
    memory logits = dense("fc8", x, 1000, false);

    // Softmax on axis 1, writing straight into the caller's buffer when fc8's layout is plain {N, 1000}.
    {
      dnnl::softmax_forward::desc d(dnnl::prop_kind::forward_inference, logits.get_desc(), 1);
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      dnnl::softmax_forward::primitive_desc pd(d, attr, eng);
      const bool direct_out = pd.dst_desc() == user_out.get_desc();
      memory dst = direct_out ? user_out : memory(pd.dst_desc(), eng);
      std::string info = std::string(pd.impl_info_str()) + "  src=" + layout_name(pd.src_desc()) +
                         " dst=" + layout_name(pd.dst_desc());
      softmax_steps.push_back(
          {"softmax", dnnl::softmax_forward(pd), {{DNNL_ARG_SRC, logits}, {DNNL_ARG_DST, dst}}, info});
      if (pd.scratchpad_desc().get_size() > scratch_md.get_size()) scratch_md = pd.scratchpad_desc();
      scratch_users.emplace_back(&softmax_steps.back(), pd.scratchpad_desc());
      if (!direct_out) {
        dnnl::reorder::primitive_desc rpd(eng, dst.get_desc(), eng, user_out.get_desc());
        softmax_steps.push_back({"reorder(output)",
                                 dnnl::reorder(rpd),
                                 {{DNNL_ARG_FROM, dst}, {DNNL_ARG_TO, user_out}},
                                 std::string(rpd.impl_info_str())});
      }
    }
    {
      dnnl::reorder::primitive_desc rpd(eng, logits.get_desc(), eng, user_out.get_desc());
      logits_steps.push_back({"reorder(logits)",
                              dnnl::reorder(rpd),
                              {{DNNL_ARG_FROM, logits}, {DNNL_ARG_TO, user_out}},
                              std::string(rpd.impl_info_str())});
    }

    // One scratchpad buffer, shared by all primitives (they run one after another).
    scratch_buf.assign(std::max<std::size_t>(scratch_md.get_size(), 64), 0);
    for (auto& [st, md] : scratch_users) st->args.emplace(DNNL_ARG_SCRATCHPAD, memory(md, eng, scratch_buf.data()));

    std::size_t total = 0;
    for (const param& p : params) total += p.user_md.get_size() / sizeof(float);
    if (total != param_count)
      throw std::logic_error("onednn_alexnet: parameter count " + std::to_string(total) + " != 62378344");
  }

  void run(std::vector<step>& list) {
    for (step& s : list) s.prim.execute(strm, s.args);
  }

  void check_ready(const float* in, const float* out) {
    if (!weights_set) throw std::logic_error("onednn_alexnet: forward() before set_weights()");
    if (in == nullptr || out == nullptr) throw std::invalid_argument("onednn_alexnet: null buffer");
  }
};

onednn_alexnet::onednn_alexnet(int batch, dnnl::algorithm conv_alg)
    : p_(std::make_unique<impl>(batch, uniform_plan(conv_alg))) {}
onednn_alexnet::onednn_alexnet(int batch, const conv_plan& plan) : p_(std::make_unique<impl>(batch, plan)) {}
onednn_alexnet::~onednn_alexnet() = default;
onednn_alexnet::onednn_alexnet(onednn_alexnet&&) noexcept = default;
onednn_alexnet& onednn_alexnet::operator=(onednn_alexnet&&) noexcept = default;

int onednn_alexnet::batch() const { return p_->batch; }

void onednn_alexnet::set_weights(const float* params) {
  if (params == nullptr) throw std::invalid_argument("onednn_alexnet: null weights");
  impl& m = *p_;
  const float* at = params;
  for (impl::param& p : m.params) {
    memory user(p.user_md, m.eng, const_cast<float*>(at));  // read only: it is the reorder's source
    dnnl::reorder(user, p.prim_mem).execute(m.strm, user, p.prim_mem);
    at += p.user_md.get_size() / sizeof(float);
  }
  m.strm.wait();
  m.weights_set = true;
}

void onednn_alexnet::forward(const float* in_nchw, float* out) {
  impl& m = *p_;
  m.check_ready(in_nchw, out);
  m.user_in.set_data_handle(const_cast<float*>(in_nchw));
  m.user_out.set_data_handle(out);
  m.run(m.steps);
  m.run(m.softmax_steps);
  m.strm.wait();
}

void onednn_alexnet::forward_logits(const float* in_nchw, float* out) {
  impl& m = *p_;
  m.check_ready(in_nchw, out);
  m.user_in.set_data_handle(const_cast<float*>(in_nchw));
  m.user_out.set_data_handle(out);
  m.run(m.steps);
  m.run(m.logits_steps);
  m.strm.wait();
}

std::string onednn_alexnet::impl_info() const {
  std::ostringstream os;
  auto list = [&](const std::vector<step>& v) {
    for (const step& s : v) {
      os << s.name;
      for (std::size_t i = s.name.size(); i < 20; ++i) os << ' ';
      os << ' ' << s.info << '\n';
    }
  };
  list(p_->steps);
  list(p_->softmax_steps);
  return os.str();
}

void onednn_alexnet::set_threads(int n) {
  if (n < 1) throw std::invalid_argument("onednn_alexnet: threads must be >= 1");
  omp_set_num_threads(n);
}

// ---------------------------------------------------------------------------------------------------------
// Per-layer convolution algorithms
// ---------------------------------------------------------------------------------------------------------

const char* onednn_alexnet::name(algo a) {
  return a == algo::direct ? "direct" : a == algo::winograd ? "winograd" : "auto";
}

std::string onednn_alexnet::describe(const conv_plan& plan) {
  std::string s;
  for (int i = 0; i < conv_layers; ++i)
    s += std::string(i ? " " : "") + conv_layers_of_alexnet[i].name + "=" + name(plan[std::size_t(i)]);
  return s;
}

bool onednn_alexnet::supports(int batch, int layer, algo a) {
  if (batch < 1 || layer < 0 || layer >= conv_layers) throw std::invalid_argument("onednn_alexnet::supports");
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  try {
    dnnl::convolution_forward::primitive_desc pd(conv_desc(batch, conv_layers_of_alexnet[layer], to_dnnl(a)),
                                                 impl::attr_with(true), eng);
    return true;
  } catch (const dnnl::error& e) {
    if (e.status == dnnl_unimplemented) return false;
    throw;
  }
}

const onednn_alexnet::conv_plan& onednn_alexnet::plan() const { return p_->plan; }

std::string onednn_alexnet::conv_impl(int layer) const {
  if (layer < 0 || layer >= conv_layers) throw std::invalid_argument("onednn_alexnet::conv_impl");
  const std::string& info = p_->steps[p_->conv_steps[std::size_t(layer)]].info;
  return info.substr(0, info.find("  "));
}

std::vector<std::pair<std::string, double>> onednn_alexnet::time_steps(const float* in_nchw, int iters) {
  impl& m = *p_;
  std::vector<float> out(std::size_t(m.batch) * classes);
  m.check_ready(in_nchw, out.data());
  m.user_in.set_data_handle(const_cast<float*>(in_nchw));
  m.user_out.set_data_handle(out.data());
  std::vector<step*> all;
  for (step& s : m.steps) all.push_back(&s);
  for (step& s : m.logits_steps) all.push_back(&s);
  std::vector<std::vector<double>> ms(all.size());
  for (int k = 0; k < std::max(1, iters); ++k)
    for (std::size_t i = 0; i < all.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      all[i]->prim.execute(m.strm, all[i]->args);
      m.strm.wait();
      ms[i].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  std::vector<std::pair<std::string, double>> result;
  for (std::size_t i = 0; i < all.size(); ++i) {
    std::vector<double>& v = ms[i];
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    result.emplace_back(all[i]->name, n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
  }
  return result;
}

namespace {

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

}  // namespace

onednn_alexnet::selection onednn_alexnet::select_fastest(int batch, const float* params, const float* input, int rounds,
                                                         int iters) {
  if (params == nullptr || input == nullptr) throw std::invalid_argument("onednn_alexnet::select_fastest: null");
  if (iters <= 0) iters = batch == 1 ? 10 : 2;
  rounds = std::max(1, rounds);
  constexpr algo algos[] = {algo::direct, algo::winograd, algo::automatic};
  std::ostringstream rep;
  rep << "oneDNN convolution algorithms, batch " << batch << ", " << omp_get_max_threads() << " thread(s):\n";

  // 1. What oneDNN implements here.
  bool implemented[conv_layers][3];
  for (int l = 0; l < conv_layers; ++l) {
    rep << "  " << conv_layers_of_alexnet[l].name << " implemented:";
    for (int a = 0; a < 3; ++a) {
      implemented[l][a] = supports(batch, l, algos[a]);
      rep << ' ' << name(algos[a]) << (implemented[l][a] ? " yes" : " no (unimplemented)") << (a < 2 ? "," : "\n");
    }
  }

  // 2, 3. Candidates, built and checked against the all-direct network.
  struct candidate {
    conv_plan plan;
    std::string label;
    std::unique_ptr<onednn_alexnet> net;
    bool ok = false;
    std::vector<std::vector<double>> layer_ms;  // [layer][round]
    std::vector<double> net_ms;                 // per round
  };
  std::vector<candidate> cands;
  const std::size_t out_size = std::size_t(batch) * classes;
  std::vector<float> ref(out_size), got(out_size);
  double ref_max = 0;
  auto add = [&](const conv_plan& plan, const std::string& label) -> candidate* {
    for (candidate& c : cands)
      if (c.plan == plan) {
        c.label += " = " + label;
        return nullptr;
      }
    candidate c{plan, label, nullptr, false, std::vector<std::vector<double>>(conv_layers), {}};
    try {
      c.net = std::make_unique<onednn_alexnet>(batch, plan);
    } catch (const std::invalid_argument& e) {
      rep << "  candidate " << label << ": not built: " << e.what() << "\n";
      return nullptr;
    }
    // The same primitives with the same implementations and layouts as an earlier candidate (e.g. auto
    // resolving to direct everywhere) is the same network: timing both would only pick between them by noise.
    const std::string info = c.net->impl_info();
    for (candidate& other : cands)
      if (other.net->impl_info() == info) {
        other.label += " = " + label + " (identical implementations)";
        rep << "  candidate " << label << " (" << describe(plan) << "): the same implementations as "
            << describe(other.plan) << "; not timed separately\n";
        return nullptr;
      }
    c.net->set_weights(params);
    c.net->forward_logits(input, got.data());
    if (cands.empty()) {  // the all-direct network: the reference of the check
      ref = got;
      for (float v : ref) ref_max = std::max(ref_max, double(std::fabs(v)));
      c.ok = std::isfinite(ref_max) && ref_max > 0;
      rep << "  candidate " << label << " (" << describe(plan) << "): the reference of the check, max |logit| "
          << fmt("%.4g", ref_max) << "\n";
    } else {
      double diff = 0;
      for (std::size_t i = 0; i < out_size; ++i) {
        const double d = std::fabs(double(got[i]) - double(ref[i]));
        diff = std::max(diff, std::isnan(d) ? INFINITY : d);
      }
      c.ok = diff <= 1e-4 * ref_max;
      rep << "  candidate " << label << " (" << describe(plan) << "): logits max |diff| against direct "
          << fmt("%.3g", diff) << " (bound 1e-4 x " << fmt("%.4g", ref_max)
          << "): " << (c.ok ? "pass" : "FAIL, rejected") << "\n";
    }
    cands.push_back(std::move(c));
    return &cands.back();
  };
  for (int a = 0; a < 3; ++a) {
    conv_plan plan;
    bool partial = false;
    for (int l = 0; l < conv_layers; ++l) {
      plan[std::size_t(l)] = implemented[l][a] ? algos[a] : algo::direct;
      partial = partial || !implemented[l][a];
    }
    add(plan, std::string(name(algos[a])) + (partial && a != 0 ? " where implemented" : ""));
  }
  if (cands.empty() || !cands[0].ok) throw std::runtime_error("onednn_alexnet::select_fastest: direct network failed");

  // 4. Per-primitive times; per layer the fastest algorithm.
  auto ok_indices = [&] {
    std::vector<std::size_t> v;
    for (std::size_t i = 0; i < cands.size(); ++i)
      if (cands[i].ok) v.push_back(i);
    return v;
  };
  if (ok_indices().size() == 1) {  // nothing to choose between
    selection s;
    s.plan = cands[0].plan;
    rep << "  one distinct candidate: chosen without timing: " << cands[0].label << ":";
    for (int l = 0; l < conv_layers; ++l)
      rep << " " << conv_layers_of_alexnet[l].name << "=" << name(s.plan[std::size_t(l)]) << " ("
          << cands[0].net->conv_impl(l) << ")";
    rep << "\n";
    s.report = rep.str();
    return s;
  }
  {
    const std::vector<std::size_t> ok = ok_indices();
    for (int r = 0; r < rounds; ++r)
      for (std::size_t j = 0; j < ok.size(); ++j) {
        candidate& c = cands[ok[(j + std::size_t(r)) % ok.size()]];
        const auto steps = c.net->time_steps(input, iters);
        for (int l = 0; l < conv_layers; ++l) {
          const std::string conv = conv_layers_of_alexnet[l].name;
          double t = 0;
          for (const auto& [step_name, ms] : steps)
            if (step_name == conv || step_name == "reorder(" + conv + " src)") t += ms;
          c.layer_ms[std::size_t(l)].push_back(t);
        }
      }
    conv_plan fastest{};
    rep << "  per layer (median over " << rounds << " rounds of per-primitive medians of " << iters
        << " passes; the convolution plus the reorder of its source, if any):\n";
    for (int l = 0; l < conv_layers; ++l) {
      double best = INFINITY;
      rep << "    " << conv_layers_of_alexnet[l].name << ":";
      for (std::size_t i : ok) {
        const double t = median_of(cands[i].layer_ms[std::size_t(l)]);
        rep << " " << name(cands[i].plan[std::size_t(l)]) << " " << fmt("%.3f", t) << " ms ("
            << cands[i].net->conv_impl(l) << ")";
        if (t < best) {
          best = t;
          fastest[std::size_t(l)] = cands[i].plan[std::size_t(l)];
        }
      }
      rep << " -> " << name(fastest[std::size_t(l)]) << "\n";
    }
    add(fastest, "per-layer fastest");
  }

  // 5. Whole networks (with softmax, as the comparisons time them).
  const std::vector<std::size_t> ok = ok_indices();
  std::vector<float> probs(out_size);
  for (int r = 0; r < rounds; ++r)
    for (std::size_t j = 0; j < ok.size(); ++j) {
      candidate& c = cands[ok[(j + std::size_t(r)) % ok.size()]];
      std::vector<double> t;
      c.net->forward(input, probs.data());  // one untimed pass: the previous candidate evicted the caches
      for (int k = 0; k < iters; ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        c.net->forward(input, probs.data());
        t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      c.net_ms.push_back(median_of(t));
    }
  std::size_t win = ok[0];
  rep << "  whole network (median over " << rounds << " rounds of the median of " << iters << " passes):\n";
  for (std::size_t i : ok) {
    const double t = median_of(cands[i].net_ms);
    rep << "    " << cands[i].label << ": " << fmt("%.3f", t) << " ms per batch ["
        << fmt("%.3f", *std::min_element(cands[i].net_ms.begin(), cands[i].net_ms.end())) << " - "
        << fmt("%.3f", *std::max_element(cands[i].net_ms.begin(), cands[i].net_ms.end())) << "]\n";
    if (t < median_of(cands[win].net_ms)) win = i;
  }
  selection s;
  s.plan = cands[win].plan;
  s.ms_per_batch = median_of(cands[win].net_ms);
  rep << "  chosen: " << cands[win].label << ":";
  for (int l = 0; l < conv_layers; ++l)
    rep << " " << conv_layers_of_alexnet[l].name << "=" << name(s.plan[std::size_t(l)]) << " ("
        << cands[win].net->conv_impl(l) << ")";
  rep << "\n";
  s.report = rep.str();
  return s;
}
