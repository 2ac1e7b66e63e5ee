// typenet/io/check.hpp: the generic half of loading weights into a network.
//
// The network describes what it expects as a list of slots (name, shape, where the values go). The file
// must hold exactly those tensors, as F32 with exactly those shapes: the first mismatch in the slots'
// order is reported (missing tensor, wrong dtype, wrong shape), then any tensor the network does not
// expect (unless the caller opts in to extra_tensors::ignore, to load a network's part of a larger
// checkpoint). Every check is done before anything is copied, so on error no slot has been written.
#pragma once

#include <typenet/io/detail/file.hpp>
#include <typenet/io/error.hpp>
#include <typenet/io/safetensors.hpp>

#include <cstdint>
#include <filesystem>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace typenet::io {

// One tensor the network expects: its name (e.g. "3.weight"), its shape, and where its values go.
struct tensor_slot {
  std::string name;
  std::vector<std::int64_t> shape;
  std::span<float> dest;
};

// What to do with a tensor of the file that no slot expects.
enum class extra_tensors {
  reject,  ///< an error naming it (the default: a checkpoint that does not fit the network is not loaded)
  ignore,  ///< skip it: load a network's tensors from a larger checkpoint (e.g. a backbone's part)
};

// Checks `file` against `slots` and, if everything matches, copies every tensor into its slot; returns
// the number of the file's tensors that no slot took (always 0 with extra_tensors::reject).
// Throws io_error (naming the file) on the first mismatch, std::invalid_argument if the slots themselves
// are inconsistent (a destination whose size is not the product of the shape, or a repeated name).
inline std::size_t load_tensors(const safetensors_file& file, std::span<const tensor_slot> slots,
                                extra_tensors extra = extra_tensors::reject) {
  using detail::quote_name;
  using detail::shape_string;

  std::set<std::string_view> expected;
  for (const auto& s : slots) {
    const auto count = detail::element_count(s.shape);
    if (!count || *count != s.dest.size()) {
      throw std::invalid_argument("typenet::io::load_tensors: slot '" + s.name + "' has shape " +
                                  shape_string(s.shape) + " but a destination of " + std::to_string(s.dest.size()) +
                                  " floats");
    }
    if (!expected.insert(s.name).second) {
      throw std::invalid_argument("typenet::io::load_tensors: two slots are named '" + s.name + "'");
    }
  }

  for (const auto& s : slots) {
    const auto* t = file.find(s.name);
    if (t == nullptr) {
      throw io_error(file.name(),
                     "missing tensor " + quote_name(s.name) + " (expected float32 " + shape_string(s.shape) + ")");
    }
    if (t->dtype != "F32") {
      throw io_error(file.name(), quote_name(s.name) + " has dtype " + t->dtype + " " + shape_string(t->shape) +
                                      " but the network expects float32 (F32) " + shape_string(s.shape));
    }
    if (t->shape != s.shape) {
      throw io_error(file.name(), quote_name(s.name) + " has shape " + shape_string(t->shape) +
                                      " but the network expects " + shape_string(s.shape));
    }
  }
  std::size_t unused = 0;
  for (const auto& t : file.tensors()) {
    if (!expected.contains(t.name)) {
      ++unused;
      if (extra == extra_tensors::ignore) continue;
      // PyTorch's batch norm counts its training steps in "<key>.num_batches_tracked" (int64, shape []);
      // inference has no use for it, so it is accepted and ignored next to a batch norm's running_mean.
      constexpr std::string_view counter = ".num_batches_tracked";
      const std::string_view name = t.name;
      if (name.ends_with(counter) &&
          expected.contains(std::string(name.substr(0, name.size() - counter.size())) + ".running_mean"))
        continue;
      throw io_error(file.name(), "unexpected tensor " + quote_name(t.name) + " (" + t.dtype + " " +
                                      shape_string(t.shape) + "): the network has no parameter of that name");
    }
  }

  for (const auto& s : slots) file.copy_floats(*file.find(s.name), s.dest);
  return unused;
}

// Reads a safetensors file and loads it into `slots` (see above).
inline std::size_t load_tensors(const std::filesystem::path& path, std::span<const tensor_slot> slots,
                                extra_tensors extra = extra_tensors::reject) {
  return load_tensors(read_safetensors(path), slots, extra);
}

}  // namespace typenet::io
