// ODR test, first translation unit: the program links (no duplicate symbols from the header-only library)
// and both units agree on what they computed, including the address of an inline variable.
#include <typenet/typenet.hpp>
#include <typenet/zoo/networks.hpp>

#include <cstdint>
#include <cstdio>
#include <string>

namespace tn = typenet;

std::string describe_in_other_tu();
std::int64_t params_in_other_tu();
const void* address_in_other_tu();
std::int64_t tensor_count_in_other_tu();

int main() {
  int failures = 0;
  auto expect = [&](bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "odr test: %s\n", what);
      ++failures;
    }
  };
  expect(describe_in_other_tu() == tn::describe<tn::zoo::seed_alexnet>(), "describe differs between the units");
  expect(params_in_other_tu() == 60'965'224, "caffe_alexnet parameter count in the other unit");
  expect(address_in_other_tu() == &tn::param_count<tn::zoo::caffe_alexnet>, "inline variable has two addresses");
  tn::params<tn::zoo::lenet5> p;
  expect(tensor_count_in_other_tu() == static_cast<std::int64_t>(p.tensors().size()) && p.tensors().size() == 10,
         "lenet5 tensor count");
  if (failures == 0) std::printf("odr test: both translation units agree\n");
  return failures == 0 ? 0 : 1;
}
