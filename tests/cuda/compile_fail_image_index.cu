// Compile-fail subject (tests/cuda/compile_fail.cmake): exec::cuda indexes within one image with 32-bit
// integers, so a convolution whose input or output holds 2^31 floats or more per image must not compile.
// With TYPENET_BAD: 1 x 46341 x 46341 = 2,147,488,281 floats; without: the seed AlexNet's conv1 (the good
// twin, which must compile).
#include <typenet/kernels/cuda/gemm.hpp>

#ifdef TYPENET_BAD
using geometry = typenet::kernels::cuda::conv_geometry<1, 46341, 46341, 1, 1, 1, 1, 1, 0, 0, 1, 46341, 46341>;
#else
using geometry = typenet::kernels::cuda::conv_geometry<3, 227, 227, 96, 11, 11, 4, 4, 0, 0, 1, 55, 55>;
#endif
static_assert(geometry::k > 0);  // instantiates the geometry

int main() {}
