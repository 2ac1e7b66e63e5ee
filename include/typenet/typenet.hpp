// typenet/typenet.hpp: the umbrella header for host code (layers, networks, plans, reference policy).
// The SIMD policy is <typenet/exec/simd.hpp>, the CUDA policy <typenet/cuda.hpp> (nvcc only),
// file I/O <typenet/io.hpp>.
#pragma once
#include "config.hpp"
#include "core/model.hpp"
#include "core/network.hpp"
#include "core/params.hpp"
#include "core/plan.hpp"
#include "core/prefix.hpp"
#include "core/shape.hpp"
#include "diag/print.hpp"
#include "diag/rules.hpp"
#include "exec/reference.hpp"
#include "fusion/plan.hpp"
#include "layers.hpp"
