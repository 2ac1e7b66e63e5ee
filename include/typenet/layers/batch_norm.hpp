// typenet/layers/batch_norm.hpp: batch normalisation over channels (PyTorch's nn.BatchNorm2d, and
// nn.BatchNorm1d on a flat vector), in inference form:
//
//   y[c] = (x[c] - running_mean[c]) / sqrt(running_var[c] + eps) * weight[c] + bias[c],  eps = 1e-5
//
// Tensors, in storage order: weight [C], bias [C] (parameters), running_mean [C], running_var [C]
// (buffers: stored and loaded, not counted by param_count). PyTorch's num_batches_tracked is not stored.
#pragma once
#include "layer.hpp"

namespace typenet {

struct batch_norm : layer_base {
  static constexpr layer_kind category = layer_kind::batch_norm;
  static constexpr double eps = 1e-5;
  static std::string name() { return "batch_norm"; }

  template <int Index, class In>
  struct at : detail::no_params {  // not a shape (a failed network): nothing to say
    using output = In;
  };
  template <int Index, int... D>
  struct at<Index, shape<D...>> : detail::no_params {
    using output = shape<D...>;
    static constexpr std::int64_t c = shape<D...>::dims[0];
    static constexpr std::int64_t weights = c, biases = c;
    static constexpr std::array<tensor_spec, 4> tensors{
        tensor_spec{"weight", false, 1, {c, 0, 0, 0}}, tensor_spec{"bias", false, 1, {c, 0, 0, 0}},
        tensor_spec{"running_mean", true, 1, {c, 0, 0, 0}}, tensor_spec{"running_var", true, 1, {c, 0, 0, 0}}};
  };
};

}  // namespace typenet
