// typenet/diag/print.hpp: describe<Net>(), the layer table of a network as text.
#pragma once
#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "../core/leaf_table.hpp"
#include "../core/network.hpp"
#include "../core/plan.hpp"
#include "../fusion/plan.hpp"

namespace typenet {

/// One row of the layer table.
struct layer_row {
  int index;         ///< the top-level entry the layer belongs to
  std::string path;  ///< where it sits: "3", or "layer2.0.downsample.0" (names where named, else positions)
  std::string layer;
  std::string output_shape;
  std::int64_t params;
  std::int64_t macs;
  int stage;  ///< -1: the layer vanishes at inference (dropout, flatten), or the network has no fused plan
};

/// Every layer of Net, blocks opened, in declaration order.
template <Network Net>
std::vector<layer_row> layer_table() {
  std::vector<layer_row> rows;
  std::array<int, Net::layers::size> stage{};
  stage.fill(-1);
  if constexpr (fusion::fused_kernels_cover<Net>) stage = fusion::stage_of_layers<Net>();
  for (std::size_t i = 0; i < leaf_table<Net>.size(); ++i) {
    const leaf_info& leaf = leaf_table<Net>[i];
    rows.push_back({leaf.index, std::string(leaf.key), layer_name_table<Net>[i](),
                    shape_text(leaf.output_dims.data(), leaf.rank), leaf.params, leaf.macs,
                    leaf.depth == 1 ? stage[static_cast<std::size_t>(leaf.index)] : -1});
  }
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

namespace detail {
/// What describe<Net>() prints below the rows.
struct table_totals {
  std::int64_t params, param_bytes, macs, activation_bytes, buffer_bytes;
};

/// The text of describe<Net>(): an ordinary function, compiled once, not once per network.
inline std::string format_layer_table(const std::vector<layer_row>& rows, const std::string& input_shape,
                                      const table_totals& t) {
  std::size_t wl = 5, wp = 5;
  for (const auto& r : rows) wl = std::max(wl, r.layer.size()), wp = std::max(wp, r.path.size());
  std::string out = pad_left("index", wp) + "  " + pad_right("layer", wl) + "  " + pad_right("output", 16) + "  " +
                    pad_left("params", 12) + "  " + pad_left("MACs", 15) + "  stage\n";
  out += pad_left("-", wp) + "  " + pad_right("input " + input_shape, wl) + "  " + input_shape + "\n";
  for (const auto& r : rows) {
    out += pad_left(r.path, wp) + "  " + pad_right(r.layer, wl) + "  " + pad_right(r.output_shape, 16) + "  " +
           pad_left(group_digits(r.params), 12) + "  " + pad_left(group_digits(r.macs), 15) + "  " +
           (r.stage < 0 ? std::string("-") : std::to_string(r.stage)) + "\n";
  }
  out += "total: " + group_digits(t.params) + " parameters (" + group_digits(t.param_bytes) + " bytes), " +
         group_digits(t.macs) + " multiply-adds per image, activations " + group_digits(t.activation_bytes) +
         " bytes per image, forward buffers " + group_digits(t.buffer_bytes) + " bytes per image\n";
  return out;
}
}  // namespace detail

/// The layer table: index (the layer's path inside blocks), layer, output shape, params, MACs, stage; then
/// the totals.
template <Network Net>
std::string describe() {
  return detail::format_layer_table(
      layer_table<Net>(), Net::input_shape::str(),
      {param_count<Net>, memory_plan<Net>::param_bytes, mac_count<Net>, activation_bytes<Net>,
       fusion::fused_kernels_cover<Net> ? memory_plan<Net>::bytes_per_image : peak_activation_bytes<Net>});
}

/// describe<Net>() followed by how Policy runs it: the policy's own description if it has one (exec::simd:
/// the instruction set), and the layers (if any) for which it has no kernel of its own and runs
/// exec::reference's instead.
template <Network Net, class Policy>
std::string describe() {
  std::string out = describe<Net>();
  if constexpr (requires { Policy::description(); }) out += "policy: " + Policy::description() + "\n";
  if constexpr (requires { Policy::template program<Net>::fallback_layers(); }) {
    const std::vector<std::string> fallback = Policy::template program<Net>::fallback_layers();
    if (fallback.empty()) {
      out += "policy: its own kernels for every layer\n";
    } else {
      out += "policy: exec::reference's kernel for " + std::to_string(fallback.size()) + " layer(s):";
      for (const auto& name : fallback) out += " " + name;
      out += "\n";
    }
  }
  return out;
}

}  // namespace typenet
