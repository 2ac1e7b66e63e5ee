// The oneDNN 2.6 AlexNet peer. See onednn_alexnet.hpp for the interface and the choices.

#include "onednn_alexnet.hpp"

#include <omp.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cstdint>
#include <numeric>
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

}  // namespace

struct onednn_alexnet::impl {
  int batch;
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};

  memory user_in;                   // wraps the caller's NCHW input (handle set per call)
  memory user_out;                  // wraps the caller's batch x 1000 output (handle set per call)
  std::vector<step> steps;          // up to fc8's output
  std::vector<step> softmax_steps;  // softmax (+ reorder to the caller's buffer when needed)
  std::vector<step> logits_steps;   // fc8's output -> caller's buffer (when forward_logits is used)

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

  memory conv(const std::string& name, const memory& src, const conv_spec& c, algorithm alg) {
    const memory::dims sd = src.get_desc().dims();
    const memory::dim C = sd[1], H = sd[2], W = sd[3];
    const memory::dim OH = (H + 2 * c.pad - c.kernel) / c.stride + 1;
    const memory::dim OW = (W + 2 * c.pad - c.kernel) / c.stride + 1;
    memory::desc src_any({batch, C, H, W}, dt::f32, tag::any);
    memory::desc wei_any({c.filters, C, c.kernel, c.kernel}, dt::f32, tag::any);
    memory::desc bias_any({c.filters}, dt::f32, tag::any);
    memory::desc dst_any({batch, c.filters, OH, OW}, dt::f32, tag::any);
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, alg, src_any, wei_any, bias_any, dst_any,
                                      {c.stride, c.stride}, {c.pad, c.pad}, {c.pad, c.pad});
    dnnl::convolution_forward::primitive_desc pd(d, attr_with(true), eng);
    memory s = ensure(steps, src, pd.src_desc(), name + " src");
    memory w = add_param(memory::desc({c.filters, C, c.kernel, c.kernel}, dt::f32, tag::oihw), pd.weights_desc());
    memory b = add_param(memory::desc({c.filters}, dt::f32, tag::x), pd.bias_desc());
    memory dst(pd.dst_desc(), eng);
    std::string info = std::string(pd.impl_info_str()) + "  src=" + layout_name(pd.src_desc()) +
                       " wei=" + layout_name(pd.weights_desc()) + " dst=" + layout_name(pd.dst_desc()) + " +relu";
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

  impl(int n, algorithm conv_alg) : batch(n) {
    if (n < 1) throw std::invalid_argument("onednn_alexnet: batch must be >= 1");
    if (conv_alg != algorithm::convolution_direct && conv_alg != algorithm::convolution_auto)
      throw std::invalid_argument("onednn_alexnet: conv_alg must be convolution_direct or convolution_auto");
    steps.reserve(32);  // step pointers are kept in scratch_users: no reallocation allowed
    softmax_steps.reserve(4);
    logits_steps.reserve(4);

    user_in = memory(memory::desc({batch, 3, 227, 227}, dt::f32, tag::nchw), eng, nullptr);
    user_out = memory(memory::desc({batch, 1000}, dt::f32, tag::nc), eng, nullptr);

    memory x = conv("conv1", user_in, {96, 11, 4, 0}, conv_alg);
    x = pool("pool1", x);
    x = conv("conv2", x, {256, 5, 1, 2}, conv_alg);
    x = pool("pool2", x);
    x = conv("conv3", x, {384, 3, 1, 1}, conv_alg);
    x = conv("conv4", x, {384, 3, 1, 1}, conv_alg);
    x = conv("conv5", x, {256, 3, 1, 1}, conv_alg);
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

onednn_alexnet::onednn_alexnet(int batch, dnnl::algorithm conv_alg) : p_(std::make_unique<impl>(batch, conv_alg)) {}
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
