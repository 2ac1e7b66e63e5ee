// typenet/zoo/networks.hpp: the networks typenet ships, declared layer for layer like their PyTorch twins.
// One header per family, all included here: zoo/alexnet.hpp (seed_alexnet, torchvision_alexnet,
// caffe_alexnet), zoo/lenet.hpp (lenet5), zoo/resnet.hpp (resnet18, resnet50), zoo/mobilenet.hpp
// (mobilenet_v2), zoo/squeezenet.hpp (squeezenet1_1). Declaring a network runs its checks at compile time,
// so including all of them costs seconds: include only the one you use.
#pragma once

#include "alexnet.hpp"
#include "lenet.hpp"
#include "mobilenet.hpp"
#include "resnet.hpp"
#include "squeezenet.hpp"
