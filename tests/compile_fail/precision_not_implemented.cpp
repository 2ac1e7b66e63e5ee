// Rule precision_not_implemented: exec::simd with a precision it has no kernels for.
// EXPECT: precision_not_implemented
// EXPECT-ARGS: precision_not_implemented<[^\n]*fp8 ?>
#include <typenet/exec/simd.hpp>
#include <typenet/typenet.hpp>
namespace tn = typenet;

/// A number format typenet has no kernels for.
struct fp8 {
  static constexpr const char* name = "fp8";
};

#ifdef TYPENET_SHOULD_FAIL
using policy = tn::exec::simd<xsimd::sse2, fp8>;
#else
using policy = tn::exec::simd<xsimd::sse2, tn::precision::f32>;
#endif

int main() {
  policy p;
  return p.threads == 1 ? 0 : 1;
}
