// typenet/kernels/simd/eltwise.hpp: element-wise kernels of the graph networks, vectorised along the
// contiguous dimension: an epilogue on its own (relu6), a per-channel affine map (a batch norm that no
// convolution absorbed), the residual join (a + b, then an epilogue) and the NHWC concat join.
// Each works on a range [begin, end) so that a policy can split it over threads.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common.hpp"
#include "dense.hpp"  // epilogues, detail::load_first / store_first

namespace typenet::kernels::simd {

/// y[i] = Epilogue(x[i]) for i in [begin, end).
template <class Epilogue, class Arch>
void epilogue_range(const float* x, float* y, std::int64_t begin, std::int64_t end) {
  using vec = xsimd::batch<float, Arch>;
  constexpr std::int64_t V = vec::size;
  std::int64_t i = begin;
  for (; i + V <= end; i += V) detail::apply_epilogue<Epilogue>(vec::load_unaligned(x + i)).store_unaligned(y + i);
  if (i < end)
    detail::store_first(detail::apply_epilogue<Epilogue>(detail::load_first<vec>(x + i, int(end - i))), y + i,
                        int(end - i));
}

/// y[i] = Epilogue(a[i] + b[i]) for i in [begin, end).
template <class Epilogue, class Arch>
void add_range(const float* a, const float* b, float* y, std::int64_t begin, std::int64_t end) {
  using vec = xsimd::batch<float, Arch>;
  constexpr std::int64_t V = vec::size;
  std::int64_t i = begin;
  for (; i + V <= end; i += V)
    detail::apply_epilogue<Epilogue>(vec::load_unaligned(a + i) + vec::load_unaligned(b + i)).store_unaligned(y + i);
  if (i < end) {
    const int n = int(end - i);
    detail::store_first(
        detail::apply_epilogue<Epilogue>(detail::load_first<vec>(a + i, n) + detail::load_first<vec>(b + i, n)), y + i,
        n);
  }
}

/// y[p][c] = Epilogue(x[p][c] * scale[c] + shift[c]) for the pixels p in [begin, end) of C channels each
/// (NHWC, or a flat vector of C values per image). scale and shift hold C floats (more may follow).
template <class Epilogue, class Arch>
void affine_pixels(const float* x, float* y, const float* scale, const float* shift, int C, std::int64_t begin,
                   std::int64_t end) {
  using vec = xsimd::batch<float, Arch>;
  constexpr int V = static_cast<int>(vec::size);
  for (std::int64_t p = begin; p < end; ++p) {
    const float* xp = x + p * C;
    float* yp = y + p * C;
    int c = 0;
    for (; c + V <= C; c += V)
      detail::apply_epilogue<Epilogue>(
          xsimd::fma(vec::load_unaligned(xp + c), vec::load_unaligned(scale + c), vec::load_unaligned(shift + c)))
          .store_unaligned(yp + c);
    if (c < C) {
      const int n = C - c;
      detail::store_first(detail::apply_epilogue<Epilogue>(xsimd::fma(detail::load_first<vec>(xp + c, n),
                                                                      detail::load_first<vec>(scale + c, n),
                                                                      detail::load_first<vec>(shift + c, n))),
                          yp + c, n);
    }
  }
}

/// The NHWC join along channels: for the pixels [begin, end), input k's channels[k] floats per pixel go to
/// y's channels [sum of the earlier channels, + channels[k]) of `total`.
inline void concat_pixels(const float* const* in, const int* channels, int count, int total, float* y,
                          std::int64_t begin, std::int64_t end) {
  for (std::int64_t p = begin; p < end; ++p) {
    float* yp = y + p * total;
    for (int k = 0; k < count; ++k) {
      std::memcpy(yp, in[k] + p * channels[k], sizeof(float) * std::size_t(channels[k]));
      yp += channels[k];
    }
  }
}

}  // namespace typenet::kernels::simd
