// typenet/cuda.hpp: the umbrella header for the CUDA policy exec::cuda. Include it only from .cu files
// compiled by nvcc; host-only code includes <typenet/typenet.hpp>, which pulls in nothing from CUDA.
#pragma once
#if !defined(__CUDACC__)
#error "<typenet/cuda.hpp> is for .cu files compiled by nvcc; host-only code includes <typenet/typenet.hpp>"
#endif
#include "exec/cuda.hpp"
#include "typenet.hpp"
