// typenet/kernels/simd/amx.hpp: bf16 convolutions on AMX tiles (Sapphire Rapids and later Xeons), for
// exec::simd<Arch, precision::bf16> where the translation unit is compiled with AMX (TYPENET_HAS_AMX).
//
// An AMX tile is a 2-D register of up to 16 rows of 64 bytes; tdpbf16ps C, A, B multiplies a 16 x 32 bf16
// tile A (rows: pixels, columns: 32 input channels) by a tile B of 16 rows of 16 channel pairs (row r: the
// pairs (w[o][2r], w[o][2r + 1]) of 16 output channels o, the layout the vdpbf16ps kernels already pack) and
// adds the 16 x 16 products, summed over pairs in fp32, to the fp32 tile C: 8,192 multiply-adds in one
// instruction, about 8 times what vdpbf16ps does in the same time on these cores.
//
// conv_amx_kernel: any convolution with one group, as sums of tiles A (rows: 16 output pixels, columns: 32
// input values of their windows) times tiles B of packed weights. Four accumulator tiles hold 32 pixels x 32
// output channels; two A and two B tiles feed four tdpbf16ps per step. The epilogue (bias, residual,
// activation, rounding to bf16) runs in AVX-512 on the accumulators stored to a 4 KB scratch. The weights
// are packed per kernel row as the input stores a window's row: (kw, channel), rounded up to 32 values.
//   * Stride 1 with the stored channels a multiple of 32 ("flat": every ResNet-50 layer of stride 1 but the
//     stem): tiles read straight from the NHWC input, one per tap (kh, kw) and block of 32 channels. The
//     output pixels of an image are numbered over a grid as wide as the padded input (Wp = W + 2 PW), so
//     that pixel q's tap (kh, kw) is padded input pixel q + kh Wp + kw: 16 consecutive pixels are 16 input
//     pixels at a constant stride whatever row they are in, and one tileloadd fetches them. The Wp - OW
//     pixels past each row's end are computed and dropped (7 x 7 maps: 63 computed for 49, against 7-pixel
//     tiles row by row). The rows a thread reads are copied with their zero borders into its workspace; a
//     1x1 convolution without padding reads its input in place, across images.
//   * Otherwise (strides, the stem's 3 channels, MobileNetV2's 24): each output pixel's window is gathered
//     into a row of the workspace, KH runs of KW Cs values each rounded up to 32 with zeros (a masked load
//     and a store per 32 values), for a segment of pixels that every output block then reads from L2.
// Work is split between threads by output pixels, or by blocks of 32 output channels where a batch has few
// pixels; each thread loads its tile shapes (ldtilecfg) and releases them when done.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../../precision.hpp"
#include "bf16.hpp"
#include "conv2d.hpp"  // conv_geometry

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

/// Whether this translation unit compiles the AMX kernels: AMX_TILE and AMX_BF16 (e.g. -march=native on a
/// Sapphire Rapids or later Xeon) besides the bf16 ones; -DTYPENET_NO_AMX keeps them out.
/// (GCC spells the macros __AMX_TILE__ and __AMX_BF16__, Clang __AMXTILE__ and __AMXBF16__.)
#if TYPENET_HAS_BF16 && !defined(TYPENET_NO_AMX) && \
    ((defined(__AMX_TILE__) && defined(__AMX_BF16__)) || (defined(__AMXTILE__) && defined(__AMXBF16__)))
#define TYPENET_HAS_AMX 1
#else
#define TYPENET_HAS_AMX 0
#endif

namespace typenet::kernels::simd {

/// Whether the running CPU has AMX_TILE and AMX_BF16 (CPUID leaf 7: EDX bits 24 and 22).
inline bool cpu_has_amx_bf16() noexcept {
#if defined(__x86_64__) || defined(_M_X64)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return ((d >> 24) & 1u) && ((d >> 22) & 1u);
#else
  return false;
#endif
}

/// Asks Linux for the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA; once per process,
/// for all its threads). True when the CPU has AMX and the kernel grants it.
inline bool amx_enable() noexcept {
#if defined(__linux__) && (defined(__x86_64__) || defined(_M_X64))
  static const bool granted = [] {
    if (!cpu_has_amx_bf16()) return false;
    constexpr long arch_req_xcomp_perm = 0x1023, xfeature_xtiledata = 18;
    return syscall(SYS_arch_prctl, arch_req_xcomp_perm, xfeature_xtiledata) == 0;
  }();
  return granted;
#else
  return false;
#endif
}

/// Whether conv_amx_kernel serves a convolution (Geo: conv_geometry): compiled with AMX, one group.
template <class Geo>
inline constexpr bool amx_suits = TYPENET_HAS_AMX != 0 && Geo::g == 1;

#if TYPENET_HAS_AMX

namespace amx_detail {

/// The tile shapes of one thread: tiles 0 - 3 accumulate 32 pixels x 32 outputs (0, 1: pixels 0 - 15; 2, 3:
/// pixels 16 - 31), 4 and 5 are the A tiles of those pixels, 6 and 7 the B tiles of outputs 0 - 15 and
/// 16 - 31. `shape(m)` configures m (1 - 32) pixels, reloading the configuration only when m's split changes;
/// the destructor releases the tiles.
class tiles {
 public:
  tiles() = default;
  tiles(const tiles&) = delete;
  tiles& operator=(const tiles&) = delete;
  ~tiles() {
    if (m0_ >= 0) _tile_release();
  }
  void shape(int m) noexcept {
    const int m0 = std::min(m, 16), m1 = m - m0;
    if (m0 == m0_ && m1 == m1_) return;
    config c{};
    c.palette = 1;
    const auto set = [&](int t, int rows) {
      c.rows[t] = static_cast<std::uint8_t>(rows);
      c.colsb[t] = rows > 0 ? 64 : 0;
    };
    set(0, m0), set(1, m0), set(4, m0);
    set(2, m1), set(3, m1), set(5, m1);
    set(6, 16), set(7, 16);
    // GCC 12's _tile_loadconfig names only the first 8 bytes as read, so the stores of the rest could be
    // dropped: the whole structure is the operand here.
    __asm__ volatile("ldtilecfg %0" ::"m"(c));
    m0_ = m0, m1_ = m1;
  }

 private:
  struct alignas(64) config {
    std::uint8_t palette, start_row;
    std::uint8_t reserved[14];
    std::uint16_t colsb[16];
    std::uint8_t rows[16];
  };
  int m0_ = -1, m1_ = -1;
};

/// acc[m][32] = sum over taps t and channel blocks c of A(t, c) B(t, c): the m (configured in `tiles`)
/// pixels' A tiles start at a + tap[t] + 32 c, one pixel every `step` elements; w holds the block's B
/// tiles, [t][c][16 pairs][32 outputs][2]. acc: 32 rows of 32 floats.
template <bool Two>
TYPENET_ALWAYS_INLINE void tile_sums(const bf16_t* a, std::size_t step, const std::size_t* tap, int taps, int csteps,
                                     const bf16_t* w, float* acc) noexcept {
  const long stride = static_cast<long>(step * sizeof(bf16_t));
  // GCC 12's tileloadd names no memory operand: this barrier keeps the stores of the input copy and of the
  // packed weights before the loads.
  __asm__ volatile("" ::: "memory");
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (Two) {
    _tile_zero(2);
    _tile_zero(3);
  }
  const bf16_t* wp = w;
  for (int t = 0; t < taps; ++t) {
    const bf16_t* at = a + tap[t];
    for (int c = 0; c < csteps; ++c, at += 32, wp += 16 * 64) {
      _tile_loadd(4, at, stride);
      _tile_loadd(6, wp, 128);
      _tile_loadd(7, wp + 32, 128);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      if constexpr (Two) {
        _tile_loadd(5, at + 16 * step, stride);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
      }
    }
  }
  _tile_stored(0, acc, 128);
  _tile_stored(1, acc + 16, 128);
  if constexpr (Two) {
    _tile_stored(2, acc + 16 * 32, 128);
    _tile_stored(3, acc + 16 * 32 + 16, 128);
  }
}

}  // namespace amx_detail

/// The convolution on AMX tiles (see the top of this file); the interface of conv_bf16_kernel with a
/// workspace of `workspace_floats` per thread instead of the zero row. Geo: conv_geometry (conv2d.hpp);
/// in: stored NHWC bf16 (stored_channels(C) per pixel); out: F floats or stored_channels(F) bf16 per pixel.
template <class Geo, class Out>
struct conv_amx_kernel {
  static_assert(amx_suits<Geo>, "typenet: conv_amx_kernel: a convolution with one group");
  static constexpr int C = Geo::c, H = Geo::h, W = Geo::w, F = Geo::f, OH = Geo::oh, OW = Geo::ow;
  static constexpr int KH = Geo::kh, KW = Geo::kw, SH = Geo::sh, SW = Geo::sw, PH = Geo::ph, PW = Geo::pw;
  static constexpr int Cs = stored_channels(C);
  static constexpr int Fs = std::is_same_v<Out, float> ? F : stored_channels(F);
  static constexpr int blocks = ceil_div(Fs, 32);  ///< blocks of 32 output channels (the last zero-padded)
  /// Stride 1 and whole blocks of 32 channels: tiles read from the input (or its padded copy) in place.
  /// Otherwise each pixel's window is gathered into a row of the workspace first.
  static constexpr bool flat = SH == 1 && SW == 1 && Cs % 32 == 0;
  /// One kernel row's window (KW pixels of Cs channels), rounded up to whole blocks of 32 values.
  static constexpr int Kw = ceil_div(KW * Cs, 32) * 32;
  static constexpr int Kp = KH * Kw;  ///< a gathered row: KH windows

  // Flat: whether the input is copied with its zero borders (all but a 1x1 convolution without padding).
  static constexpr bool copy = flat && !(KH == 1 && KW == 1 && PH == 0 && PW == 0);
  static constexpr int Hp = H + 2 * PH, Wp = W + 2 * PW;
  /// Work units per image: flat, pixels of the Wp-wide grid (the last Wp - OW of each row dropped);
  /// gathered, output pixels.
  static constexpr std::int64_t per_image = flat ? std::int64_t{OH} * Wp : std::int64_t{OH} * OW;

  static constexpr std::size_t block_elems = std::size_t{Kp} * 32;
  static constexpr std::size_t packed_elems = std::size_t{blocks} * block_elems;
  static constexpr std::size_t packed_bias_floats = std::size_t{blocks} * 32;
  /// Pixels per segment: a segment's input stays in L2 (about 256 KB) while every output block passes over it.
  static constexpr std::int64_t cap = std::max<std::int64_t>(32, (std::int64_t{1} << 17) / (flat ? Cs : Kp) / 32 * 32);
  /// Flat: the padded input copy, Hp rows of Wp pixels, then KW zero pixels that the last row's dropped
  /// pixels read. Gathered: `cap` rows of Kp values.
  static constexpr std::size_t input_elems = copy ? (std::size_t{Hp} * Wp + KW) * Cs : flat ? 0 : std::size_t(cap) * Kp;
  static constexpr std::size_t acc_floats = 32 * 32;
  static constexpr std::size_t workspace_floats = acc_floats + (input_elems / 2 + 15) / 16 * 16;

  /// Packs PyTorch weights [F][C][KH][KW] and bias [F] as [block][kh][Kw / 2][32][2], the Kw values of a
  /// kernel row ordered (kw, channel) as the input stores them, zero past C, KW Cs and F.
  TYPENET_NO_VECTORIZE static void pack(const float* w, const float* bias, bf16_t* packed, float* packed_bias) {
    for (int ob = 0; ob < blocks; ++ob)
      for (int j = 0; j < 32; ++j) {
        const int oc = ob * 32 + j;
        for (int kh = 0; kh < KH; ++kh)
          for (int k = 0; k < Kw; ++k) {
            const int kw = k / Cs, ic = k % Cs;
            const float v = oc < F && kw < KW && ic < C ? w[((std::size_t(oc) * C + ic) * KH + kh) * KW + kw] : 0.f;
            packed[((std::size_t(ob) * KH + kh) * (Kw / 2) + k / 2) * 64 + j * 2 + k % 2] = bf16_round(v);
          }
        packed_bias[oc] = oc < F ? bias[oc] : 0.f;
      }
  }

  /// Work units of a batch: pixels of the Wp-wide grid (flat) or output pixels.
  static constexpr std::int64_t units(int batch) noexcept { return std::int64_t{batch} * per_image; }

  /// out = Epilogue(conv(in) + bias [+ residual]) for units [begin, end) and output blocks [ob0, ob1) of a
  /// batch (with Add, residual has out's layout and is added in fp32 before the epilogue). workspace: this
  /// thread's workspace_floats, 64-byte aligned; or null where that is only the accumulators (acc_floats: a
  /// 1x1 convolution without padding and with whole blocks of 32 channels), which then live on the stack.
  template <class Epilogue, bool Add = false>
  static void run(const bf16_t* packed, const float* bias, const bf16_t* in, Out* out, float* workspace,
                  std::int64_t begin, std::int64_t end, int ob0, int ob1, const Out* residual = nullptr) {
    if (begin >= end || ob0 >= ob1) return;
    alignas(64) float own[input_elems == 0 ? acc_floats : 1];
    float* acc = workspace != nullptr ? workspace : own;
    bf16_t* buf = reinterpret_cast<bf16_t*>(acc + acc_floats);  // one past own[] where there is no workspace
    if constexpr (copy) std::memset(buf + std::size_t{Hp} * Wp * Cs, 0, sizeof(bf16_t) * KW * Cs);
    amx_detail::tiles tiles;
    for (std::int64_t u = begin; u < end;) {
      const std::int64_t n = u / per_image, q0 = u % per_image;
      // A segment: units [u, e), within one image where the input is copied.
      const std::int64_t e = std::min({end, copy ? (n + 1) * per_image : end, u + cap});
      if constexpr (flat) {
        const std::int64_t q1 = q0 + (e - u);
        const bf16_t* src = in + std::size_t(n) * H * W * Cs;
        if constexpr (copy) {
          fill_rows(src, buf, static_cast<int>(q0 / Wp), last_row(q1));
          src = buf;
        }
        for (int ob = ob0; ob < ob1; ++ob)
          for (std::int64_t q = q0; q < q1; q += 32) {
            const int m = static_cast<int>(std::min<std::int64_t>(32, q1 - q));
            block(tiles, src + std::size_t(q) * Cs, Cs, tap_offsets.data(), KH * KW, Cs / 32, ob, packed, acc, m);
            epilogue<Epilogue, Add>(acc, bias, out, residual, ob, m, [&](int r) -> std::int64_t {
              const std::int64_t v = q + r;
              if constexpr (copy) {
                const std::int64_t oh = v / Wp, ow = v % Wp;
                return ow < OW ? (n * OH + oh) * OW + ow : -1;
              } else {
                return n * per_image + v;
              }
            });
          }
      } else {
        for (std::int64_t v = u; v < e; ++v) gather(in, buf + std::size_t(v - u) * Kp, v);
        static constexpr std::size_t at_zero[1] = {0};
        for (int ob = ob0; ob < ob1; ++ob)
          for (std::int64_t v = u; v < e; v += 32) {
            const int m = static_cast<int>(std::min<std::int64_t>(32, e - v));
            block(tiles, buf + std::size_t(v - u) * Kp, Kp, at_zero, 1, Kp / 32, ob, packed, acc, m);
            epilogue<Epilogue, Add>(acc, bias, out, residual, ob, m, [&](int r) -> std::int64_t { return v + r; });
          }
      }
      u = e;
    }
  }

 private:
  /// Flat: tap (kh, kw)'s offset from the pixel's first tap in the (padded) input, in elements.
  static constexpr std::array<std::size_t, std::size_t{KH}* KW> tap_offsets = [] {
    std::array<std::size_t, std::size_t{KH} * KW> o{};
    for (int kh = 0; kh < KH; ++kh)
      for (int kw = 0; kw < KW; ++kw) o[std::size_t(kh * KW + kw)] = (std::size_t(kh) * Wp + kw) * Cs;
    return o;
  }();

  /// Flat: the last padded row that grid pixels [.., q1) read.
  static constexpr int last_row(std::int64_t q1) noexcept {
    const std::int64_t r = (q1 - 1 + std::int64_t{KH - 1} * Wp + KW - 1) / Wp;
    return static_cast<int>(std::min<std::int64_t>(r, Hp - 1));
  }

  /// Flat: padded rows [r0, r1] of one image from its stored input x: zero rows above and below, zero
  /// columns either side.
  static void fill_rows(const bf16_t* x, bf16_t* pad, int r0, int r1) noexcept {
    for (int r = r0; r <= r1; ++r) {
      bf16_t* row = pad + std::size_t(r) * Wp * Cs;
      const int ih = r - PH;
      if (ih < 0 || ih >= H) {
        std::memset(row, 0, sizeof(bf16_t) * Wp * Cs);
        continue;
      }
      std::memset(row, 0, sizeof(bf16_t) * PW * Cs);
      std::memcpy(row + std::size_t(PW) * Cs, x + std::size_t(ih) * W * Cs, sizeof(bf16_t) * W * Cs);
      std::memset(row + std::size_t(PW + W) * Cs, 0, sizeof(bf16_t) * PW * Cs);
    }
  }

  /// n (0 - 32) values from src to dst, then zeros up to 32 (one masked load and one store).
  TYPENET_ALWAYS_INLINE static void copy32(const bf16_t* src, bf16_t* dst, int n) noexcept {
    const __mmask32 m = n >= 32 ? ~__mmask32{0} : (__mmask32{1} << n) - 1;
    _mm512_storeu_si512(dst, _mm512_maskz_loadu_epi16(m, src));
  }

  /// Gathered: output pixel v's row: for each kernel row, the KW input pixels of its window (zero where
  /// they are padding), then zeros up to Kw.
  static void gather(const bf16_t* in, bf16_t* row, std::int64_t v) noexcept {
    const std::int64_t n = v / per_image;
    const int p = static_cast<int>(v % per_image), oh = p / OW, ow = p % OW;
    const bf16_t* img = in + std::size_t(n) * H * W * Cs;
    const int iw0 = ow * SW - PW;
    const bool inside = iw0 >= 0 && iw0 + KW <= W;
    for (int kh = 0; kh < KH; ++kh, row += Kw) {
      const int ih = oh * SH - PH + kh;
      if (ih < 0 || ih >= H) {
        std::memset(row, 0, sizeof(bf16_t) * Kw);
      } else if (inside) {
        const bf16_t* x = img + (std::size_t(ih) * W + iw0) * Cs;
        for (int k = 0; k < Kw; k += 32) copy32(x + k, row + k, KW * Cs - k);
      } else {
        std::memset(row, 0, sizeof(bf16_t) * Kw);
        for (int kw = 0; kw < KW; ++kw) {
          const int iw = iw0 + kw;
          if (iw >= 0 && iw < W) std::memcpy(row + kw * Cs, img + (std::size_t(ih) * W + iw) * Cs, sizeof(bf16_t) * Cs);
        }
      }
    }
  }

  static void block(amx_detail::tiles& tiles, const bf16_t* a, std::size_t step, const std::size_t* taps, int tap_count,
                    int csteps, int ob, const bf16_t* packed, float* acc, int m) {
    tiles.shape(m);
    const bf16_t* w = packed + std::size_t(ob) * block_elems;
    if (m > 16)
      amx_detail::tile_sums<true>(a, step, taps, tap_count, csteps, w, acc);
    else
      amx_detail::tile_sums<false>(a, step, taps, tap_count, csteps, w, acc);
  }

  /// Rows [0, m) of acc to their output pixels (pixel(r), or -1 for a dropped one), through the epilogue.
  template <class Epilogue, bool Add, class Pixel>
  TYPENET_ALWAYS_INLINE static void epilogue(const float* acc, const float* bias, Out* out, const Out* residual, int ob,
                                             int m, Pixel&& pixel) {
    const int c0 = ob * 32;
    const int n0 = std::min(16, Fs - c0), n1 = std::min(16, Fs - c0 - 16);
    const __m512 b0 = _mm512_loadu_ps(bias + c0), b1 = _mm512_loadu_ps(bias + c0 + 16);
    for (int r = 0; r < m; ++r) {
      const std::int64_t px = pixel(r);
      if (px < 0) continue;
      const std::size_t at = std::size_t(px) * Fs + c0;
      __m512 v0 = _mm512_add_ps(_mm512_load_ps(acc + r * 32), b0);
      if constexpr (Add) v0 = _mm512_add_ps(v0, bf16_detail::load_first(residual + at, n0));
      bf16_detail::store_first(avx512::activation<Epilogue>(v0), out + at, n0);
      if (n1 > 0) {
        __m512 v1 = _mm512_add_ps(_mm512_load_ps(acc + r * 32 + 16), b1);
        if constexpr (Add) v1 = _mm512_add_ps(v1, bf16_detail::load_first(residual + at + 16, n1));
        bf16_detail::store_first(avx512::activation<Epilogue>(v1), out + at + 16, n1);
      }
    }
  }
};

#endif  // TYPENET_HAS_AMX

}  // namespace typenet::kernels::simd
