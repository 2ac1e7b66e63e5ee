// Helpers shared by the reference-policy tests.
#pragma once
#include <typenet/typenet.hpp>

#include <span>
#include <vector>

namespace typenet::test {

/// Runs Net with exec::reference on `batch` images from `in` and returns the outputs.
template <class Net>
std::vector<float> run_reference(const params<Net>& p, const std::vector<float>& in, int batch) {
  model<Net, exec::reference_t> m(p, batch);
  std::vector<float> out(static_cast<std::size_t>(batch * Net::output_shape::size));
  m.forward(std::span<const float>(in), std::span<float>(out), batch);
  return out;
}

/// Copies `values` into layer I's weight or bias (sizes must match exactly).
template <class Net, int I>
void set_weight(params<Net>& p, const std::vector<float>& values) {
  auto w = p.template weight<I>();
  REQUIRE(w.size() == values.size());
  std::copy(values.begin(), values.end(), w.begin());
}
template <class Net, int I>
void set_bias(params<Net>& p, const std::vector<float>& values) {
  auto b = p.template bias<I>();
  REQUIRE(b.size() == values.size());
  std::copy(values.begin(), values.end(), b.begin());
}

/// 1, 2, ..., n as floats.
inline std::vector<float> iota_from_one(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i + 1);
  return v;
}

}  // namespace typenet::test
