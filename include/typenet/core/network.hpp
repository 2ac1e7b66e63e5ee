// typenet/core/network.hpp: network<input<...>, Layers...>: shape propagation, counts, weight layout.
//
//   struct lenet5 : tn::network<tn::input<1, 32, 32>, tn::conv2d<6, tn::kernel<5>>, ...> {};
//
// The checks run when the network type is instantiated, i.e. at the user's declaration. The first layer
// that breaks a rule instantiates its diag:: predicate (one static_assert, "typenet: <rule>: ...");
// propagation stops there, so later layers stay silent.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "../detail/type_list.hpp"
#include "../layers/input.hpp"
#include "../layers/layer.hpp"
#include "graph.hpp"
#include "shape.hpp"

namespace typenet {

namespace detail {

struct network_base {};

template <class... Entries>
struct analyse {  // the list does not start with an input
  using first = std::conditional_t<sizeof...(Entries) == 0, void, at_t<0, type_list<Entries..., void>>>;
  using error = diag::input_must_come_first<first>;
  using input = invalid_shape;
  using layers = type_list<>;
  using output = invalid_shape;
};
template <int... D, class... Rest>
struct analyse<input<D...>, Rest...> {
  using input_layer = typenet::input<D...>;
  using input = std::conditional_t<input_layer::valid_rank && input_layer::positive, shape<D...>, invalid_shape>;
  using run = bind_list<true, 0, index_path<>, key_path<>, shape<D...>, 0, 0, type_list<>, Rest...>;
  using error = std::conditional_t<
      !input_layer::valid_rank, diag::input_rank<input_layer>,
      std::conditional_t<!input_layer::positive, diag::non_positive_parameter<-1, input_layer, shape<D...>>,
                         typename run::error>>;
  using layers = std::conditional_t<std::is_void_v<error>, typename run::nodes, type_list<>>;
  using output = std::conditional_t<std::is_void_v<error>, typename run::output, invalid_shape>;
};

// Instantiates the error (firing its static_assert) and is always true, so nothing else fails after it.
template <class E>
struct report : std::true_type {
  static_assert(sizeof(E) > 0);
};
template <>
struct report<void> : std::true_type {};

}  // namespace detail

namespace detail {
// Counts over every layer of the tree (blocks included).
template <class List>
struct sums;
template <class... B>
struct sums<type_list<B...>> {
  static constexpr std::int64_t params = (std::int64_t{0} + ... + B::params);
  static constexpr std::int64_t storage = (std::int64_t{0} + ... + B::storage);
  static constexpr std::int64_t macs = (std::int64_t{0} + ... + B::macs);
  static constexpr std::int64_t activations = []() consteval {
    std::int64_t n = 0;
    for_each_leaf(type_list<B...>{}, [&]<class L>() { n += L::output::size; });
    return n;
  }
  ();
  static constexpr std::int64_t largest = []() consteval {
    std::int64_t n = 0;
    for_each_leaf(type_list<B...>{}, [&]<class L>() { n = std::max(n, L::output::size); });
    return n;
  }
  ();
};

// The leaves of a bound tree, flattened in declaration order.
template <class... Lists>
struct join_lists {
  using type = type_list<>;
};
template <class... A>
struct join_lists<type_list<A...>> {
  using type = type_list<A...>;
};
template <class... A, class... B, class... Rest>
struct join_lists<type_list<A...>, type_list<B...>, Rest...> : join_lists<type_list<A..., B...>, Rest...> {};

template <class Node, bool Leaf = Node::is_leaf>
struct leaves_of {
  using type = type_list<Node>;
};
template <class Node>
struct leaves_of<Node, false> : leaves_of<typename Node::children, false> {};
template <class... N>
struct leaves_of<type_list<N...>, false> : join_lists<typename leaves_of<N>::type...> {};

// duplicate_parameter_name: the first layer whose key and a tensor name repeat an earlier layer's.
template <class Leaves>
struct duplicate_key {
  using error = void;
};
template <class... L>
struct duplicate_key<type_list<L...>> {
  static constexpr std::size_t n = sizeof...(L);
  static constexpr std::array<std::string_view, n> keys{key_text<typename L::key>::view()...};
  // A leaf's tensor names: one instantiation per tensor count (0, 1, 2, 4), not one per leaf.
  template <std::size_t K>
  static constexpr std::array<std::string_view, 4> names(const std::array<tensor_spec, K>& tensors) {
    std::array<std::string_view, 4> out{};
    std::size_t t = 0;
    for (const auto& tensor : tensors) out[t++] = tensor.name;  // a range-for: no 0 < 0 warning from nvcc
    return out;
  }
  // Keys are compared by a hash first: a plain comparison of every pair of keys took 1.6 s of clang's
  // constant evaluation for ResNet-50 (docs/compile-time.md).
  static constexpr std::uint64_t hash(std::string_view s) {  // FNV-1a
    std::uint64_t h = 14695981039346656037ull;
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    return h;
  }
  // Built-in arrays, not std::array: g++ evaluates every std::array::operator[] in this n^2 / 2 loop as a
  // constexpr function call (about 0.1 s of a translation unit declaring both ResNets).
  static constexpr std::pair<std::size_t, std::size_t> first = []() consteval {
    const std::uint64_t hashes[n + 1] = {hash(key_text<typename L::key>::view())..., 0};
    const bool has_tensors[n + 1] = {(L::tensors.size() > 0)..., false};
    for (std::size_t j = 0; j < n; ++j) {
      if (!has_tensors[j]) continue;
      for (std::size_t i = 0; i < j; ++i)
        if (hashes[i] == hashes[j] && keys[i] == keys[j]) {
          // Evaluated only here, once two keys are equal (a constexpr array of every leaf's names, built for
          // every network, was 0.55 s of declaring both ResNets).
          const std::array<std::array<std::string_view, 4>, n> all{names(L::tensors)...};
          for (auto a : all[i])
            for (auto b : all[j])
              if (!a.empty() && a == b) return std::pair{i, j};
        }
    }
    return std::pair{n, n};
  }
  ();
  template <std::size_t I>
  using leaf = at_t<I, type_list<L...>>;
  template <bool Found = (first.first < n)>
  static auto find() {
    if constexpr (Found) {
      using a = leaf<first.first>;
      using b = leaf<first.second>;
      return std::type_identity<diag::duplicate_parameter_name<b::index, located<typename b::path, typename b::layer>,
                                                               located<typename a::path, typename a::layer>>>{};
    } else {
      return std::type_identity<void>{};
    }
  }
  using error = typename decltype(find())::type;
};
}  // namespace detail

/// A network: the input, then the layers, numbered from 0. Derive a named type from it:
///   struct lenet5 : tn::network<...> {};
/// A network may rename its parameter tensors by declaring `static std::string param_prefix(int index)`
/// (the default is the layer's index, as in a flat nn.Sequential: "3.weight", "3.bias").
template <class... Entries>
struct network : detail::network_base {
  using entries = type_list<Entries...>;
  using analysis = detail::analyse<Entries...>;
  using error = std::conditional_t<
      std::is_void_v<typename analysis::error>,
      typename detail::duplicate_key<typename detail::leaves_of<typename analysis::layers, false>::type>::error,
      typename analysis::error>;
  static_assert(detail::report<error>::value);
  static constexpr bool is_valid = std::is_void_v<error>;
  using input_shape = typename analysis::input;
  using output_shape = typename analysis::output;
  using layers = typename analysis::layers;  ///< type_list of bound_layer
  static std::string param_prefix(int index) { return std::to_string(index); }
};

template <class T>
concept Network = std::is_base_of_v<detail::network_base, T>;

/// The bound layer at index I (0-based after input).
template <Network Net, int I>
using layer_at = detail::at_t<I, typename Net::layers>;
/// Number of layers after input.
template <Network Net>
inline constexpr int layer_count = static_cast<int>(Net::layers::size);

namespace detail {
// Stands in for layer I of a network that failed a rule, so queries on it add no errors of their own.
struct missing_layer {
  using output = invalid_shape;
  static constexpr std::int64_t params = 0, storage = 0, macs = 0;
};
template <class Net, int I, bool Valid = Net::is_valid>
struct layer_or_missing {
  using type = missing_layer;
};
template <class Net, int I>
struct layer_or_missing<Net, I, true> {
  using type = layer_at<Net, I>;
};
template <class Net, int I>
using layer_or_missing_t = typename layer_or_missing<Net, I>::type;
}  // namespace detail

template <Network Net>
inline constexpr auto input_shape = typename Net::input_shape{};
template <Network Net>
inline constexpr auto output_shape = typename Net::output_shape{};
/// The output shape of layer I; invalid_shape{} (no further error) when the network failed a rule.
template <Network Net, int I>
inline constexpr auto shape_after = typename detail::layer_or_missing_t<Net, I>::output{};

/// Parameters of the whole network, or of top-level entry I, as PyTorch's parameters() counts them (batch
/// norm's running statistics are buffers: stored, but not counted here).
template <Network Net>
inline constexpr std::int64_t param_count = detail::sums<typename Net::layers>::params;
/// Floats of parameter storage: every tensor a state_dict holds (parameters and buffers).
template <Network Net>
inline constexpr std::int64_t param_storage = detail::sums<typename Net::layers>::storage;
template <Network Net, int I>
inline constexpr std::int64_t layer_param_count = detail::layer_or_missing_t<Net, I>::params;
/// Multiply-adds of the conv2d and dense layers per image (padding taps included), whole network or layer I.
template <Network Net>
inline constexpr std::int64_t mac_count = detail::sums<typename Net::layers>::macs;
template <Network Net, int I>
inline constexpr std::int64_t layer_mac_count = detail::layer_or_missing_t<Net, I>::macs;

/// Bytes of all activations one image produces (input included), if every layer's output were kept.
template <Network Net>
inline constexpr std::int64_t activation_bytes = 4 * (Net::input_shape::size +
                                                      detail::sums<typename Net::layers>::activations);

/// The memory a chain of layers needs in the fused policies: two ping-pong activation buffers, each as large as the
/// largest activation (input included), per image. bytes(N) is the total for a batch of N.
template <Network Net>
struct memory_plan {
  static constexpr std::int64_t buffer_floats_per_image =
      std::max(Net::input_shape::size, detail::sums<typename Net::layers>::largest);
  static constexpr std::int64_t buffers = 2;
  static constexpr std::int64_t bytes_per_image = buffers * 4 * buffer_floats_per_image;
  static constexpr std::int64_t bytes(std::int64_t batch) { return batch * bytes_per_image; }
  static constexpr std::int64_t param_bytes = 4 * param_storage<Net>;
};

}  // namespace typenet
