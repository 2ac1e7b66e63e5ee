// typenet/core/leaf_table.hpp: every layer of a network as one constexpr array, for the code that walks the
// layers at run time (the layer table of describe, the named tensors of params).
//
// Walking the bound tree with a generic lambda instantiates the lambda once per layer: for ResNet-50's 160
// layers that was 140 KB of object code for params::tensors alone, compiled in every translation unit that
// loads weights. Here the per-layer part is data (one leaf_info per layer, built at compile time) and the
// loops over it are ordinary functions, compiled once per network.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "network.hpp"

namespace typenet {

/// One layer of a network, blocks opened, as data.
struct leaf_info {
  int index;             ///< the top-level entry the layer belongs to
  int depth;             ///< 1 for a top-level layer, more inside blocks
  bool positional_head;  ///< the key starts with the entry's position, which Net::param_prefix may rename
  std::string_view key;  ///< "3", "layer2.0.downsample.0", "features.3.squeeze"
  int rank;              ///< of the output shape
  std::array<int, 3> output_dims;
  std::int64_t params, macs;
  std::int64_t offset;  ///< of the layer's first tensor in the parameter buffer
  const tensor_spec* tensors;
  std::size_t tensor_count;
};

namespace detail {
template <class C>
inline constexpr bool is_position = requires {
  component_text<C>::chars;
};
template <class Key>
struct head_is_position : std::false_type {};
template <class C0, class... C>
struct head_is_position<key_path<C0, C...>> : std::bool_constant<is_position<C0>> {};

template <class S>
constexpr std::array<int, 3> dims3() {
  std::array<int, 3> out{};
  for (std::size_t i = 0; i < S::dims.size() && i < 3; ++i) out[i] = S::dims[i];
  return out;
}

template <class L>
constexpr leaf_info info_of() {
  static_assert(L::output::rank <= 3, "typenet: leaf_info holds output shapes of rank 1 to 3");
  return {L::index,
          static_cast<int>(L::path::size),
          head_is_position<typename L::key>::value,
          key_text<typename L::key>::view(),
          L::output::rank,
          dims3<typename L::output>(),
          L::params,
          L::macs,
          L::offset,
          L::tensors.data(),
          L::tensors.size()};
}

template <class Leaves>
struct leaf_table_of;
template <class... L>
struct leaf_table_of<type_list<L...>> {
  static constexpr std::array<leaf_info, sizeof...(L)> rows{info_of<L>()...};
  // Apart from rows: taking the address of every layer's name() compiles it (and the text formatting it
  // calls), which a translation unit that only loads or initialises weights does not need (about 0.15 s of
  // the ResNet-50 budget file, docs/compile-time.md).
  static constexpr std::array<std::string (*)(), sizeof...(L)> names{&L::layer::name...};
};
template <class Net>
using leaf_table_for = leaf_table_of<typename leaves_of<typename Net::layers, false>::type>;
}  // namespace detail

/// Every layer of Net in declaration order, blocks opened.
template <Network Net>
inline constexpr const auto& leaf_table = detail::leaf_table_for<Net>::rows;

/// The name function of every layer of Net ("conv2d 64, kernel 7x7, stride 2, pad 3"), in leaf_table's order.
template <Network Net>
inline constexpr const auto& layer_name_table = detail::leaf_table_for<Net>::names;

/// The state_dict key of a layer: its key, with the first component replaced by Net::param_prefix(index)
/// when that component is the entry's position ("3" -> "features.3" for torchvision's AlexNet).
template <Network Net>
std::string param_key(const leaf_info& leaf) {
  if (!leaf.positional_head) return std::string(leaf.key);
  const std::size_t dot = leaf.key.find('.');
  return Net::param_prefix(leaf.index) + std::string(dot == std::string_view::npos ? "" : leaf.key.substr(dot));
}

}  // namespace typenet
