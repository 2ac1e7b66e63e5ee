// typenet/detail/type_list.hpp: the minimal type list the layer plan is stored in.
#pragma once
#include <cstddef>
#include <type_traits>

namespace typenet {

template <class... Ts>
struct type_list {
  static constexpr std::size_t size = sizeof...(Ts);
};

namespace detail {

template <class List, class T>
struct push_back;
template <class... Ts, class T>
struct push_back<type_list<Ts...>, T> {
  using type = type_list<Ts..., T>;
};
template <class List, class T>
using push_back_t = typename push_back<List, T>::type;

template <std::size_t I, class List>
struct at;
template <std::size_t I, class T, class... Ts>
struct at<I, type_list<T, Ts...>> : at<I - 1, type_list<Ts...>> {};
template <class T, class... Ts>
struct at<0, type_list<T, Ts...>> {
  using type = T;
};
template <std::size_t I, class List>
using at_t = typename at<I, List>::type;

template <class T>
struct always_false : std::false_type {};

}  // namespace detail
}  // namespace typenet
