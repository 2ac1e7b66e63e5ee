// typenet/config.hpp: version and portability macros shared by every header.
#pragma once

#define TYPENET_VERSION_MAJOR 0
#define TYPENET_VERSION_MINOR 1
#define TYPENET_VERSION_PATCH 0

// Functions usable from both host code and CUDA device code (shapes, counts, plans).
#if defined(__CUDACC__)
#define TYPENET_HOST_DEVICE __host__ __device__
#else
#define TYPENET_HOST_DEVICE
#endif

// Code that many instantiations call and that must stay one out-of-line copy (a thread pool's fork-join, a
// kernel's row loop called from two thread splits): inlining it everywhere only multiplies the compile time.
#if defined(__GNUC__)
#define TYPENET_NOINLINE __attribute__((noinline))
#else
#define TYPENET_NOINLINE
#endif
