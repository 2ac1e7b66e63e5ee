// typenet/kernels/reference/join.hpp: the joins of the block combinators.
//   add:    out = a + b, element-wise (a residual block)
//   concat: per image, the inputs one after another (NCHW: along channels; flat: end to end)
#pragma once
#include <cstdint>

namespace typenet::kernels::reference {

inline void add_plain(std::int64_t count, const float* a, const float* b, float* out) {
  for (std::int64_t i = 0; i < count; ++i) out[i] = a[i] + b[i];
}

/// Copies `floats` per image of one input into its place (`at` floats in) of the joined output of
/// `joined` floats per image.
inline void concat_part(const float* in, std::int64_t floats, float* out, std::int64_t at, std::int64_t joined,
                        int batch) {
  for (int n = 0; n < batch; ++n) {
    const float* src = in + n * floats;
    float* dst = out + n * joined + at;
    for (std::int64_t i = 0; i < floats; ++i) dst[i] = src[i];
  }
}

}  // namespace typenet::kernels::reference
