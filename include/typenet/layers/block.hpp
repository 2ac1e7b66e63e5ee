// typenet/layers/block.hpp: the block combinators that make a network a tree instead of a chain.
//
//   seq<X...>                          a sub-sequence, usable wherever a layer is
//   residual<Body, Shortcut, After>    y = After(Body(x) + Shortcut(x)); Shortcut and After default to
//                                      identity; Body(x) and Shortcut(x) must have the same shape
//   concat<Branch...>                  every branch applied to x, outputs joined along channels (or, for
//                                      flat outputs, end to end); spatial sizes must agree
//   named<"key", X>                    X's parameters are keyed under "key." (named<"", X>: X's parameters
//                                      are keyed where it stands, with no position of its own)
//
// Keys follow PyTorch's state_dict: entries of a seq (and of the network) are keyed by their 0-based
// position unless named; a residual's body, shortcut and after and a concat's branches add no key level
// of their own (in torchvision a block's layers are attributes of the block). Blocks say what they are;
// binding them to shapes and parameters is core/graph.hpp's job.
#pragma once
#include <cstddef>
#include <string_view>
#include <type_traits>

#include "activation.hpp"

namespace typenet {

/// A string usable as a template argument: named<"conv1", ...>.
template <std::size_t N>
struct fixed_string {
  char chars[N]{};
  constexpr fixed_string(const char (&s)[N]) {  // NOLINT: implicit by design
    for (std::size_t i = 0; i < N; ++i) chars[i] = s[i];
  }
  constexpr std::string_view view() const { return {chars, N - 1}; }
};

struct block_base {};

/// A type is a block when it derives from block_base.
template <class T>
concept Block = std::is_base_of_v<block_base, T>;

template <class... X>
struct seq : block_base {};

template <class Body, class Shortcut = identity, class After = identity>
struct residual : block_base {};

template <class... Branch>
struct concat : block_base {};

/// A key as a small type of its own (key paths hold these, not the named<> types with their subtrees).
template <fixed_string Key>
struct key_string {
  static constexpr std::string_view key = Key.view();
};

template <fixed_string Key, class X>
struct named : block_base {
  static constexpr bool is_named_entry = true;
  static constexpr std::string_view key = Key.view();
  using key_type = key_string<Key>;
  using type = X;
};

}  // namespace typenet
