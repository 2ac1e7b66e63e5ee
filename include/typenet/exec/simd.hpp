// typenet/exec/simd.hpp: exec::simd, the fused, packed, vectorised and threaded CPU policy, in every
// precision (fp32, bf16, int8). The code is in exec/simd/: policy.hpp (the policy type and the staged
// program for chains), graph.hpp (the program for networks with blocks), reduced.hpp and reduced_graph.hpp
// (what the bf16 and int8 programs share), bf16.hpp, bf16_graph.hpp, int8.hpp and int8_graph.hpp.
#pragma once
#include "simd/policy.hpp"
