// typenet/exec/reference.hpp: exec::reference, the oracle policy.
//
//   tn::model<lenet5, tn::exec::reference_t> m(p, /*max_batch=*/8);
//   m.forward(in, out, batch);
//
// Plain loops, one layer at a time, in the canonical NCHW layout and PyTorch's weight layout, with
// double accumulators. Every other policy is tested against it. It copies the parameters and allocates
// two ping-pong activation buffers (memory_plan<Net>) for max_batch images when the program is built;
// run() allocates nothing.
#pragma once
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "../core/model.hpp"
#include "../core/network.hpp"
#include "../core/params.hpp"
#include "../kernels/reference/copy.hpp"
#include "../kernels/reference/layer.hpp"

namespace typenet::exec {

struct reference_t {
  template <Network Net>
  class program {
   public:
    program(const params<Net>& p, int max_batch, const reference_t& = {})
        : params_(p),
          max_batch_(checked(max_batch)),
          ping_(typenet::detail::make_aligned_floats(buffer_floats * max_batch_)),
          pong_(typenet::detail::make_aligned_floats(buffer_floats * max_batch_)) {}

    /// in: batch x input_shape floats (NCHW); out: batch x output_shape floats. 1 <= batch <= max_batch.
    void run(const float* in, float* out, int batch) {
      if (batch < 1 || batch > max_batch_)
        throw std::invalid_argument("typenet: exec::reference: batch " + std::to_string(batch) + " is outside 1.." +
                                    std::to_string(max_batch_));
      run_layers(in, out, batch, typename Net::layers{});
    }

    int max_batch() const noexcept { return max_batch_; }
    const params<Net>& parameters() const noexcept { return params_; }

   private:
    static constexpr std::int64_t buffer_floats = memory_plan<Net>::buffer_floats_per_image;

    static int checked(int max_batch) {
      if (max_batch < 1)
        throw std::invalid_argument("typenet: exec::reference: max_batch must be at least 1, got " +
                                    std::to_string(max_batch));
      return max_batch;
    }

    // Layer i reads the previous layer's buffer and writes the other one; the first layer reads `in`,
    // the last writes `out`.
    template <class... B>
    void run_layers(const float* in, float* out, int batch, type_list<B...>) {
      constexpr int count = sizeof...(B);
      if constexpr (count == 0) {
        kernels::reference::copy_images(in, out, batch, Net::input_shape::size);
      } else {
        const float* src = in;
        float* buffers[2] = {ping_.get(), pong_.get()};
        int i = 0;
        ((kernels::reference::forward_layer<B>(src, i == count - 1 ? out : buffers[i % 2], batch, params_.data()),
          src = buffers[i % 2], ++i),
         ...);
      }
    }

    params<Net> params_;
    int max_batch_;
    typenet::detail::aligned_floats ping_, pong_;
  };
};

/// The reference policy object: tn::model<Net, tn::exec::reference_t> m(p, n, tn::exec::reference).
inline constexpr reference_t reference{};

}  // namespace typenet::exec
