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
#include <concepts>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

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

  /// Throws std::invalid_argument for max_batch < 1 and std::logic_error for a moved-from (empty) params.
  model(const params<Net>& p, int max_batch, const Policy& policy = Policy{})
      : max_batch_(check_args(p, max_batch)), program_(p, max_batch_, policy) {}

  /// Ownership: a model is copyable or movable when its policy's program is (exec::reference and
  /// exec::cuda move, exec::simd neither). Moving leaves the source empty: max_batch() is 0 and forward()
  /// throws std::logic_error until another model is assigned to it.
  model(const model&) requires std::copy_constructible<program_type>
  = default;
  model& operator=(const model&) requires std::is_copy_assignable_v<program_type>
  = default;
  model(model&& other) noexcept(
      std::is_nothrow_move_constructible_v<program_type>) requires std::move_constructible<program_type>
      : max_batch_(std::exchange(other.max_batch_, 0)), program_(std::move(other.program_)) {}
  model& operator=(model&& other) noexcept(
      std::is_nothrow_move_assignable_v<program_type>) requires std::is_move_assignable_v<program_type> {
    if (this != &other) {
      program_ = std::move(other.program_);
      max_batch_ = std::exchange(other.max_batch_, 0);
    }
    return *this;
  }
  ~model() = default;

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
  static int check_args(const params<Net>& p, int b) {
    if (b < 1) throw std::invalid_argument("typenet: model: max_batch must be at least 1, got " + std::to_string(b));
    if (p.empty())
      throw std::logic_error(
          "typenet: model: the params were moved from (they hold no buffer); pass a params "
          "that holds the weights");
    return b;
  }
  void check_batch(int batch) const {
    if (max_batch_ == 0)
      throw std::logic_error(
          "typenet: forward: this model was moved from (it holds no program); assign a model "
          "to it first");
    if (batch < 1 || batch > max_batch_)
      throw std::invalid_argument("typenet: forward: batch " + std::to_string(batch) + " is outside 1.." +
                                  std::to_string(max_batch_) + " (the model's max_batch)");
  }
  int max_batch_;
  program_type program_;
};

}  // namespace typenet
