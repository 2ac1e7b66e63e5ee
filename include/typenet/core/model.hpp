// typenet/core/model.hpp: a network's parameters prepared for one execution policy, ready to run.
//
//   tn::params<lenet5> p;  tn::init_he(p, 42);
//   tn::model<lenet5, tn::exec::reference_t> m(p, /*max_batch=*/8);
//   m.forward(input, output, batch);      // float32 NCHW in, float32 [batch, outputs] out
//
// A policy P provides `template <class Net> class P::program` constructible from
// (const params<Net>&, int max_batch, const P&) with `void run(const float* in, float* out, int batch)`.
// Everything a forward pass needs is allocated when the program is built; run() allocates nothing.
#pragma once
#include <span>
#include <stdexcept>
#include <string>

#include "params.hpp"

namespace typenet {

template <class P, class Net>
concept ExecutionPolicy = Network<Net> &&
    requires(const params<Net>& p, const P& policy, typename P::template program<Net>& prog, const float* in,
             float* out) {
  typename P::template program<Net>;
  {typename P::template program<Net>(p, 1, policy)};
  prog.run(in, out, 1);
};

template <Network Net, class Policy>
class model {
 public:
  using program_type = typename Policy::template program<Net>;
  static constexpr std::int64_t input_size = Net::input_shape::size;    ///< floats per image in
  static constexpr std::int64_t output_size = Net::output_shape::size;  ///< floats per image out

  model(const params<Net>& p, int max_batch, const Policy& policy = Policy{})
      : max_batch_(check_max_batch(max_batch)), program_(p, max_batch_, policy) {}

  int max_batch() const noexcept { return max_batch_; }

  /// Runs `batch` images; the spans must hold exactly batch * input_size and batch * output_size floats.
  void forward(std::span<const float> in, std::span<float> out, int batch) {
    check_batch(batch);
    if (in.size() != static_cast<std::size_t>(batch * input_size))
      throw std::invalid_argument("typenet: forward: input holds " + std::to_string(in.size()) +
                                  " floats, expected batch " + std::to_string(batch) + " x " +
                                  std::to_string(input_size));
    if (out.size() != static_cast<std::size_t>(batch * output_size))
      throw std::invalid_argument("typenet: forward: output holds " + std::to_string(out.size()) +
                                  " floats, expected batch " + std::to_string(batch) + " x " +
                                  std::to_string(output_size));
    program_.run(in.data(), out.data(), batch);
  }

  /// Unchecked sizes: `in` and `out` must hold batch images (batch is still checked).
  void forward(const float* in, float* out, int batch) {
    check_batch(batch);
    program_.run(in, out, batch);
  }

  program_type& program() noexcept { return program_; }

 private:
  static int check_max_batch(int b) {
    if (b < 1) throw std::invalid_argument("typenet: model: max_batch must be at least 1, got " + std::to_string(b));
    return b;
  }
  void check_batch(int batch) const {
    if (batch < 1 || batch > max_batch_)
      throw std::invalid_argument("typenet: forward: batch " + std::to_string(batch) + " is outside 1.." +
                                  std::to_string(max_batch_) + " (the model's max_batch)");
  }
  int max_batch_;
  program_type program_;
};

}  // namespace typenet
