// ODR test, second translation unit: the same headers, the same inline functions and variables.
#include <typenet/typenet.hpp>
#include <typenet/zoo/networks.hpp>

#include <cstdint>
#include <string>

namespace tn = typenet;

std::string describe_in_other_tu() { return tn::describe<tn::zoo::seed_alexnet>(); }
std::int64_t params_in_other_tu() { return tn::param_count<tn::zoo::caffe_alexnet>; }
const void* address_in_other_tu() { return &tn::param_count<tn::zoo::caffe_alexnet>; }
std::int64_t tensor_count_in_other_tu() {
  tn::params<tn::zoo::lenet5> p;
  return static_cast<std::int64_t>(p.tensors().size());
}
