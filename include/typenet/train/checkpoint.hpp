// typenet/train/checkpoint.hpp: a training run's state as one safetensors file, for exact resumption.
//
//   tn::train::save_checkpoint("run.safetensors", p, opt, step);
//   std::int64_t step = tn::train::load_checkpoint("run.safetensors", p, opt);
//
// The file holds every tensor of the weights (keyed as io::save_weights keys them, so it loads as weights
// too, with extra_tensors::ignore), the momentum buffer of every parameter as "momentum_buffer.<key>", and
// in its metadata the step (batches trained), the optimiser's update count and its lr, momentum and weight
// decay (as text: "typenet.step", "typenet.sgd_steps", "typenet.lr", ...). Loading checks every tensor's
// name and shape against the network (an error naming the key, the file untouched in the program's state)
// and that the step counters are whole numbers.
#pragma once
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "../io/check.hpp"
#include "../io/error.hpp"
#include "../io/safetensors.hpp"
#include "sgd.hpp"

namespace typenet::train {

namespace detail {
inline constexpr std::string_view momentum_prefix = "momentum_buffer.";

inline std::string exact_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

inline std::int64_t whole_number(const std::map<std::string, std::string>& meta, const std::string& key,
                                 const std::string& file) {
  auto it = meta.find(key);
  if (it == meta.end()) throw io::io_error(file, "is not a typenet checkpoint: its metadata has no \"" + key + "\"");
  std::int64_t v = 0;
  const std::string& s = it->second;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0)
    throw io::io_error(file, "metadata \"" + key + "\" must be a whole number >= 0, found \"" + s + "\"");
  return v;
}
}  // namespace detail

/// Writes p, the optimiser's momentum buffers and counters, and `step` to a safetensors file, all or nothing
/// for a regular file.
template <Network Net>
void save_checkpoint(const std::filesystem::path& path, const params<Net>& p, const sgd<Net>& opt, std::int64_t step) {
  std::vector<param_tensor> weights = const_cast<params<Net>&>(p).tensors();
  std::vector<param_tensor> momentum = const_cast<params<Net>&>(opt.momentum_buffers()).tensors();
  std::vector<io::named_tensor> named;
  for (const param_tensor& t : weights) named.push_back({t.name, t.shape, std::span<const float>(t.data)});
  for (const param_tensor& t : momentum)
    if (!t.buffer)
      named.push_back({std::string(detail::momentum_prefix) + t.name, t.shape, std::span<const float>(t.data)});
  const sgd_options& o = opt.options();
  io::write_safetensors(path, std::span<const io::named_tensor>(named),
                        {{"format", "pt"},
                         {"typenet.step", std::to_string(step)},
                         {"typenet.sgd_steps", std::to_string(opt.steps())},
                         {"typenet.lr", detail::exact_text(o.lr)},
                         {"typenet.momentum", detail::exact_text(o.momentum)},
                         {"typenet.weight_decay", detail::exact_text(o.weight_decay)}});
}

/// Loads a checkpoint written by save_checkpoint into p and opt (momentum buffers and update count; the
/// optimiser's lr, momentum and weight decay stay as the caller set them) and returns its step. On error
/// (an io_error naming the file and the first problem) p and opt are unchanged.
template <Network Net>
std::int64_t load_checkpoint(const std::filesystem::path& path, params<Net>& p, sgd<Net>& opt) {
  const io::safetensors_file file = io::read_safetensors(path);
  const std::string name = path.string();
  const std::int64_t step = detail::whole_number(file.metadata(), "typenet.step", name);
  const std::int64_t sgd_steps = detail::whole_number(file.metadata(), "typenet.sgd_steps", name);
  params<Net> weights = p, momentum = opt.momentum_buffers();
  std::vector<io::tensor_slot> slots;
  for (param_tensor& t : weights.tensors()) slots.push_back({t.name, t.shape, t.data});
  for (param_tensor& t : momentum.tensors())
    if (!t.buffer) slots.push_back({std::string(detail::momentum_prefix) + t.name, t.shape, t.data});
  io::load_tensors(file, std::span<const io::tensor_slot>(slots));
  p = std::move(weights);
  opt.momentum_buffers() = std::move(momentum);
  opt.set_steps(sgd_steps);
  return step;
}

}  // namespace typenet::train
