// typenet/exec/cuda.hpp: exec::cuda, the GPU policy (nvcc only; include <typenet/cuda.hpp> from a .cu file).
// The code is in exec/cuda/: policy.hpp (the policy type and the staged program for chains) and graph.hpp
// (the program for networks with blocks).
#pragma once
#include "cuda/policy.hpp"
