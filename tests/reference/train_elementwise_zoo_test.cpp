// The element-wise training program (train/elementwise.hpp, exec::cuda's) on the host executor against
// the reference trainer on the zoo networks (label slow; train_elementwise_test.cpp has the small ones), with
// double window sums, which repeat the reference's arithmetic term for term, so they are held to 1e-5 even
// where float32 programs are 1e-3 to 1e-2 away (ResNet-18 and MobileNetV2 at batch 2: deep networks with
// batch norm, where a float32 forward pass puts some ReLU or max-pool decisions on the other side).
#include <doctest/doctest.h>

#include <typenet/zoo/alexnet.hpp>
#include <typenet/zoo/mobilenet.hpp>
#include <typenet/zoo/resnet.hpp>
#include <typenet/zoo/squeezenet.hpp>

#include "train_elementwise.hpp"

namespace tn = typenet;
using train_elementwise::compare;

TEST_CASE("element-wise training matches the reference: the zoo, double window sums") {
  compare<tn::zoo::seed_alexnet, double>(2, 11, 1e-5);
  compare<tn::zoo::resnet18, double>(2, 12, 1e-5);
  compare<tn::zoo::mobilenet_v2, double>(2, 13, 1e-5);
  compare<tn::zoo::squeezenet1_1, double>(2, 14, 1e-5);
}
