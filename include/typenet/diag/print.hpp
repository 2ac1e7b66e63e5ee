// typenet/diag/print.hpp: describe<Net>(), the layer table of a network as text.
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "../core/network.hpp"
#include "../fusion/plan.hpp"

namespace typenet {

/// One row of the layer table.
struct layer_row {
  int index;
  std::string layer;
  std::string output_shape;
  std::int64_t params;
  std::int64_t macs;
  int stage;  ///< -1: the layer vanishes at inference (dropout, flatten)
};

template <Network Net>
std::vector<layer_row> layer_table() {
  constexpr auto stage = fusion::stage_of_layers<Net>();
  std::vector<layer_row> rows;
  [&]<class... B>(type_list<B...>) {
    (rows.push_back({B::index, B::layer::name(), B::output::str(), B::params, B::macs, stage[B::index]}), ...);
  }(typename Net::layers{});
  return rows;
}

namespace detail {
inline std::string group_digits(std::int64_t v) {
  std::string s = std::to_string(v < 0 ? -v : v), out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i != 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return v < 0 ? "-" + out : out;
}
inline std::string pad_right(std::string s, std::size_t w) {
  return s.size() < w ? s + std::string(w - s.size(), ' ') : s;
}
inline std::string pad_left(std::string s, std::size_t w) {
  return s.size() < w ? std::string(w - s.size(), ' ') + s : s;
}
}  // namespace detail

/// The layer table: index, layer, output shape, params, MACs, stage; then the totals.
template <Network Net>
std::string describe() {
  using detail::group_digits, detail::pad_left, detail::pad_right;
  const auto rows = layer_table<Net>();
  std::size_t wl = 5;
  for (const auto& r : rows) wl = std::max(wl, r.layer.size());
  std::string out = pad_left("index", 5) + "  " + pad_right("layer", wl) + "  " + pad_right("output", 16) + "  " +
                    pad_left("params", 12) + "  " + pad_left("MACs", 15) + "  stage\n";
  out += pad_left("-", 5) + "  " + pad_right(Net::input_shape::str().insert(0, "input "), wl) + "  " +
         Net::input_shape::str() + "\n";
  for (const auto& r : rows) {
    out += pad_left(std::to_string(r.index), 5) + "  " + pad_right(r.layer, wl) + "  " + pad_right(r.output_shape, 16) +
           "  " + pad_left(group_digits(r.params), 12) + "  " + pad_left(group_digits(r.macs), 15) + "  " +
           (r.stage < 0 ? std::string("-") : std::to_string(r.stage)) + "\n";
  }
  out += "total: " + group_digits(param_count<Net>) + " parameters (" + group_digits(memory_plan<Net>::param_bytes) +
         " bytes), " + group_digits(mac_count<Net>) + " multiply-adds per image, activations " +
         group_digits(activation_bytes<Net>) + " bytes per image, forward buffers " +
         group_digits(memory_plan<Net>::bytes_per_image) + " bytes per image\n";
  return out;
}

}  // namespace typenet
