// typenet/kernels/reference/copy.hpp: the copy of whole images that the identity layers (flatten,
// dropout) and an empty network make.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace typenet::kernels::reference {

/// Copies batch images of n floats each. The programs check the batch before any layer runs; the count is
/// formed from an unsigned batch so that the compiler, too, sees a non-negative, bounded size (GCC 12's
/// -Wstringop-overflow otherwise reports a "negative" size after inlining, depending on what it inlined).
inline void copy_images(const float* in, float* out, int batch, std::int64_t n) {
  if (batch <= 0) return;
  std::copy_n(in, static_cast<std::size_t>(static_cast<unsigned>(batch)) * static_cast<std::size_t>(n), out);
}

}  // namespace typenet::kernels::reference
