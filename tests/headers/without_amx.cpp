// The SIMD policies as a build without AMX sees them (TYPENET_NO_AMX: what a CPU without AMX compiles): on a
// machine with AMX the other builds compile only the AMX branches' names, so a name those branches use that
// exists only with AMX would otherwise first fail on another machine.
#define TYPENET_NO_AMX 1
#include <typenet/exec/simd.hpp>
#include <typenet/kernels/simd/amx.hpp>

static_assert(TYPENET_HAS_AMX == 0 && TYPENET_HAS_AMX_INT8 == 0, "TYPENET_NO_AMX leaves the AMX kernels out");
