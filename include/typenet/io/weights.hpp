// typenet/io/weights.hpp: a network's weights and its input/output batches as files, checked against the
// network type.
//
//   tn::params<tn::zoo::lenet5> p;
//   tn::io::load_weights("lenet5.safetensors", p);                  // every name, dtype and shape checked
//   auto x = tn::io::read_input<tn::zoo::lenet5>("images.npy");     // [N, 1, 32, 32] float32
//   ... m.forward(x.data, y, x.batch) ...
//   tn::io::write_output<tn::zoo::lenet5>("logits.npy", y, x.batch); // [N, 10]
//
// Names and shapes come from params<Net>::tensors(): Net::param_prefix(index) + ".weight" / ".bias", in
// PyTorch's layout (conv [F, C/G, KH, KW], dense [Units, In]). Every error is an io_error naming the file.
#pragma once

#include <typenet/core/network.hpp>
#include <typenet/core/params.hpp>
#include <typenet/io/check.hpp>
#include <typenet/io/error.hpp>
#include <typenet/io/npy.hpp>
#include <typenet/io/safetensors.hpp>

#include <climits>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace typenet::io {

/// The slots load_tensors fills for Net: one per weight and bias, in network order.
template <Network Net>
std::vector<tensor_slot> weight_slots(params<Net>& p) {
  std::vector<tensor_slot> slots;
  for (param_tensor& t : p.tensors()) slots.push_back({t.name, t.shape, t.data});
  return slots;
}

/// Loads every parameter of Net from a safetensors file. The file must hold exactly Net's tensors (names
/// as params<Net>::tensors() gives them), each float32 with exactly the expected shape; the first problem
/// is reported (with both shapes for a mismatch), and on any error `p` is left unchanged. With
/// extra_tensors::ignore the file may hold more (a larger checkpoint): they are skipped, and their number
/// is returned; Net's own tensors must still all be there with their shapes.
template <Network Net>
std::size_t load_weights(const std::filesystem::path& path, params<Net>& p,
                         extra_tensors extra = extra_tensors::reject) {
  const std::vector<tensor_slot> slots = weight_slots(p);
  return load_tensors(path, std::span<const tensor_slot>(slots), extra);
}

/// Writes every parameter of Net to a safetensors file (float32, PyTorch names and shapes, metadata
/// format "pt"), all or nothing for a regular file (see write_safetensors).
template <Network Net>
void save_weights(const std::filesystem::path& path, const params<Net>& p) {
  // tensors() hands out writable spans; the params are only read here.
  std::vector<param_tensor> tensors = const_cast<params<Net>&>(p).tensors();
  std::vector<named_tensor> named;
  named.reserve(tensors.size());
  for (const param_tensor& t : tensors) named.push_back({t.name, t.shape, std::span<const float>(t.data)});
  write_safetensors(path, std::span<const named_tensor>(named), {{"format", "pt"}});
}

/// A batch of images (or vectors) read from a file, in NCHW order.
struct input_batch {
  int batch = 0;                    ///< N
  std::vector<std::int64_t> shape;  ///< [N, C, H, W] or [N, features]
  std::vector<float> data;          ///< N x input_shape floats
};

namespace detail {
template <int... D>
std::vector<std::int64_t> batched_shape(std::int64_t n, shape<D...>) {
  return {n, std::int64_t{D}...};
}
template <int... D>
std::string expected_batch_text(shape<D...>) {
  std::string s = "[N";
  ((s += ", " + std::to_string(D)), ...);
  return s + "]";
}
}  // namespace detail

/// Writes the gradients of Net's parameters (g in the layout of params<Net>, e.g. a trainer's grads()) to
/// a safetensors file keyed like the weights: every parameter tensor, the buffers (batch norm's running
/// statistics, which have no gradient) left out. All or nothing for a regular file.
template <Network Net>
void save_gradients(const std::filesystem::path& path, const params<Net>& g) {
  std::vector<param_tensor> tensors = const_cast<params<Net>&>(g).tensors();
  std::vector<named_tensor> named;
  for (const param_tensor& t : tensors)
    if (!t.buffer) named.push_back({t.name, t.shape, std::span<const float>(t.data)});
  write_safetensors(path, std::span<const named_tensor>(named), {{"format", "pt"}, {"content", "gradients"}});
}

/// Reads a float32 .npy array of shape [N, C, H, W] (or [N, features] for a flat input) that matches
/// Net's input shape, with 1 <= N <= INT_MAX. Anything else is an io_error naming the file and both shapes.
template <Network Net>
input_batch read_input(const std::filesystem::path& path) {
  npy_array a = read_npy(path);
  const std::string name = path.string();
  using in = typename Net::input_shape;
  const std::vector<std::int64_t> wanted = detail::batched_shape(a.shape.empty() ? 0 : a.shape[0], in{});
  if (a.shape.size() != wanted.size() || !std::equal(wanted.begin() + 1, wanted.end(), a.shape.begin() + 1)) {
    std::string problem = "array has shape " + detail::shape_string(a.shape) + " but the network expects " +
                          detail::expected_batch_text(in{}) + " (a batch of " + in::str() + " inputs)";
    if (a.shape.size() + 1 == wanted.size() && std::equal(wanted.begin() + 1, wanted.end(), a.shape.begin()))
      problem += "; add a leading batch dimension of 1";
    throw io_error(name, problem);
  }
  if (a.shape[0] < 1) throw io_error(name, "array has shape " + detail::shape_string(a.shape) + ": the batch is empty");
  if (a.shape[0] > INT_MAX)
    throw io_error(name, "array has shape " + detail::shape_string(a.shape) + ": the batch is too large");
  return {static_cast<int>(a.shape[0]), std::move(a.shape), std::move(a.data)};
}

/// Writes `batch` outputs of Net ([N, outputs] or [N, C, H, W]) as a float32 .npy file, all or nothing for
/// a regular file (see write_npy). `out` must hold exactly batch x output_shape floats.
template <Network Net>
void write_output(const std::filesystem::path& path, std::span<const float> out, int batch) {
  const std::vector<std::int64_t> s = detail::batched_shape(batch, typename Net::output_shape{});
  write_npy(path, std::span<const std::int64_t>(s), out);
}

}  // namespace typenet::io
