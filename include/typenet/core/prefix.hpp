// typenet/core/prefix.hpp: the first layers of a network as a network of their own, to read an
// intermediate activation.
//
//   using head = tn::first_layers<tn::zoo::resnet18, 3>;        // conv1, bn1, relu, maxpool: 64 x 56 x 56
//   tn::params<head> hp = tn::prefix_params<head>(p);            // the first tensors of p's, same names
//   tn::model<head, tn::exec::simd<>> m(hp, 8);                  // any policy
//
// first_layers<Net, Last> is the network of Net's input and its top-level entries 0..Last (a block counts
// as one entry), with Net's parameter names; its output is shape_after<Net, Last>. Its parameters are the
// first param_storage<head> floats of Net's, in the same order, so prefix_params copies them (or load the
// head from Net's checkpoint with io::load_weights(path, hp, io::extra_tensors::ignore)).
#pragma once
#include <algorithm>
#include <string>
#include <type_traits>
#include <utility>

#include "../detail/type_list.hpp"
#include "network.hpp"
#include "params.hpp"

namespace typenet {

namespace detail {
template <class List, class Seq>
struct take_front;
template <class List, std::size_t... I>
struct take_front<List, std::index_sequence<I...>> {
  using type = type_list<at_t<I, List>...>;
};

template <class Net, class Entries>
struct prefix_network;
template <class Net, class... E>
struct prefix_network<Net, type_list<E...>> : network<E...> {
  using whole = Net;  ///< the network this one is the beginning of
  static std::string param_prefix(int index) { return Net::param_prefix(index); }
};
}  // namespace detail

/// The network of Net's input and its top-level entries 0..Last (see above).
template <Network Net, int Last>
requires(Last >= 0 && Last < layer_count<Net>) using first_layers = detail::prefix_network<
    Net, typename detail::take_front<typename Net::entries, std::make_index_sequence<Last + 2>>::type>;

/// The parameters of Head = first_layers<Net, Last>, copied from Net's (the first param_storage<Head>
/// floats: the same tensors under the same names).
template <Network Head, Network Net>
requires std::is_same_v<typename Head::whole, Net> params<Head> prefix_params(const params<Net>& p) {
  params<Head> out;
  const std::span<const float> from = p.span();
  std::copy(from.begin(), from.begin() + params<Head>::count, out.span().begin());
  return out;
}

}  // namespace typenet
