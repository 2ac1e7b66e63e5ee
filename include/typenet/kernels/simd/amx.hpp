// typenet/kernels/simd/amx.hpp: bf16 and int8 convolutions on AMX tiles (Sapphire Rapids and later Xeons),
// for exec::simd<Arch, precision::bf16> and exec::simd<Arch, precision::int8> where the translation unit is
// compiled with AMX (TYPENET_HAS_AMX, TYPENET_HAS_AMX_INT8).
//
// An AMX tile is a 2-D register of up to 16 rows of 64 bytes. tdpbf16ps C, A, B multiplies a 16 x 32 bf16
// tile A (rows: pixels, columns: 32 input values) by a tile B of 16 rows of 16 value pairs (row r: the pairs
// (w[o][2r], w[o][2r + 1]) of 16 output channels o) and adds the 16 x 16 products, summed over pairs in fp32,
// to the fp32 tile C: 8,192 multiply-adds in one instruction, about 8 times what vdpbf16ps does in the same
// time on these cores. tdpbusd is the same over u8 x s8 quads (A: 16 x 64 u8 values, B: 16 rows of 16 s8
// quads) into int32, exactly: twice the multiply-adds per instruction.
//
// amx_conv_plan: how both kernels run any convolution with one group, as sums of tiles A (rows: 16 output
// pixels, columns: 64 bytes of input values of their windows) times tiles B of packed weights. Four
// accumulator tiles hold 32 pixels x 32 output channels; two A and two B tiles feed four tile products per
// 64-byte step. The epilogue (bias, residual, activation, rounding or requantisation) runs in AVX-512 on the
// accumulators stored to a scratch of 4 KB. (Running each block's epilogue after the next block's tile
// products were issued, from a second scratch, so that the two might overlap, made the layers of ResNet-50
// 3 - 5 % slower: docs/performance.md.) The weights are packed per kernel row as the input stores a window's
// row: (kw, channel), rounded up to 64 bytes.
//   * Stride 1 with the stored channels whole 64-byte steps ("flat": every ResNet-50 layer of stride 1 but the
//     stem): tiles read straight from the NHWC input, one per tap (kh, kw) and step. The output pixels of an
//     image are numbered over a grid as wide as the padded input (Wp = W + 2 PW), so that pixel q's tap
//     (kh, kw) is padded input pixel q + kh Wp + kw: 16 consecutive pixels are 16 input pixels at a constant
//     stride whatever row they are in, and one tileloadd fetches them. The Wp - OW pixels past each row's end
//     are computed and dropped (7 x 7 maps: 63 computed for 49, against 7-pixel tiles row by row). The images
//     a thread reads are copied with their padding (the input's zero: 0, or the zero point) into its
//     workspace, several to a segment where a padded image is at most a quarter of it (ResNet-50's 7 x 7 to
//     28 x 28 maps), else a segment is part of one image; a 1x1 convolution without padding reads its input
//     in place, across images.
//   * Otherwise (strides, the stem's 3 channels, MobileNetV2's 24): each output pixel's window is gathered
//     into a row of the workspace, KH runs of KW Cs values each rounded up to 64 bytes (a masked load and a
//     store per 64 bytes), for a segment of pixels that every output block then reads from L2.
// A segment's input stays in the 2 MB L2 while every block of 32 output channels passes over it, each block's
// weights read once per segment: padded images up to `amx_segment_bytes` (1 MB), gathered rows or in-place
// pixels (or part of one large image) up to a quarter of that. (With the whole 1 MB for those, the layers
// whose outputs are wide, ResNet-50's 1x1 expansions, were 15 - 45 % slower: likely the outputs written
// during one pass evict the input.) Work is split between threads by output pixels, or by blocks of 32
// output channels where a batch has few pixels (amx_parts); each thread loads its tile shapes (ldtilecfg)
// and releases them when done.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../../detail/thread_pool.hpp"  // detail::split
#include "../../precision.hpp"
#include "bf16.hpp"
#include "conv2d.hpp"  // conv_geometry
#include "int8.hpp"

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

/// Whether this translation unit compiles the bf16 AMX kernels: AMX_TILE and AMX_BF16 (e.g. -march=native on
/// a Sapphire Rapids or later Xeon) besides the bf16 ones; -DTYPENET_NO_AMX keeps them out.
/// (GCC spells the macros __AMX_TILE__ and __AMX_BF16__, Clang __AMXTILE__ and __AMXBF16__.)
#if TYPENET_HAS_BF16 && !defined(TYPENET_NO_AMX) && \
    ((defined(__AMX_TILE__) && defined(__AMX_BF16__)) || (defined(__AMXTILE__) && defined(__AMXBF16__)))
#define TYPENET_HAS_AMX 1
#else
#define TYPENET_HAS_AMX 0
#endif

/// Whether it compiles the int8 AMX kernels too: the above, AMX_INT8 and the int8 (VNNI) kernels.
#if TYPENET_HAS_AMX && TYPENET_HAS_VNNI && (defined(__AMX_INT8__) || defined(__AMXINT8__))
#define TYPENET_HAS_AMX_INT8 1
#else
#define TYPENET_HAS_AMX_INT8 0
#endif

/// Bytes of input a segment of an AMX convolution holds (see the top of this file); a build may set it.
#ifndef TYPENET_AMX_SEGMENT_BYTES
#define TYPENET_AMX_SEGMENT_BYTES (1 << 20)
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

/// Whether the running CPU has AMX_TILE, AMX_BF16 and AMX_INT8 (CPUID leaf 7: EDX bit 25 too).
inline bool cpu_has_amx_int8() noexcept {
#if defined(__x86_64__) || defined(_M_X64)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return cpu_has_amx_bf16() && ((d >> 25) & 1u);
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
/// Whether conv_amx_int8_kernel does: compiled with AMX_INT8, one group, and the reduction (the gathered row,
/// rounded up to 64) within max_reduction, so that its int32 sums are exact.
template <class Geo>
inline constexpr bool amx_int8_suits = TYPENET_HAS_AMX_INT8 != 0 && Geo::g == 1 &&
                                       Geo::kh* ceil_div(Geo::kw* quad_channels(Geo::c), 64) * 64 <= max_reduction;

/// Bytes of input per segment of an AMX convolution.
inline constexpr std::int64_t amx_segment_bytes = TYPENET_AMX_SEGMENT_BYTES;

/// Runs an AMX convolution (Kernel: conv_amx_kernel or conv_amx_int8_kernel) over a batch on the pool's
/// threads: part(workspace, begin, end, ob0, ob1) on each (declared in every build, so that the executors'
/// AMX branches compile where the kernels are left out). Output pixels are split between the threads;
/// where they are few (small maps at small batches), blocks of 32 output channels instead, so that each
/// thread reads only its share of the weights. Gathered layers always by pixels: by blocks they were 0 - 5 %
/// slower (ResNet-50 bf16, batch 1 / 2 threads). workspace: Kernel::workspace_floats per thread.
template <class Kernel, class Pool, class Part>
void amx_parts(Pool& pool, int batch, float* workspace, Part&& part) {
  const std::int64_t units = Kernel::units(batch);
  const int n = pool.size();
  const bool by_pixels = !Kernel::flat || n == 1 || units >= 128 * n || Kernel::blocks < 2 * n;
  auto each = [&](int t, int parts) {
    float* ws = workspace + std::size_t(t) * Kernel::workspace_floats;
    if (by_pixels) {
      const auto r = typenet::detail::split(units, t, parts);
      part(ws, r.begin, r.end, 0, Kernel::blocks);
    } else {
      const auto r = typenet::detail::split(Kernel::blocks, t, parts);
      part(ws, std::int64_t{0}, units, int(r.begin), int(r.end));
    }
  };
  pool.run(each);
}

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

// Tile c += a b: tdpbusd (u8 x s8 -> int32) where Int8, else tdpbf16ps (bf16 -> fp32). (GCC's intrinsics
// are macros that paste the tile numbers into the instruction, so they take literals.)
#if TYPENET_HAS_AMX_INT8
#define TYPENET_AMX_PRODUCT(c, a, b) \
  if constexpr (Int8)                \
    _tile_dpbusd(c, a, b);           \
  else                               \
    _tile_dpbf16ps(c, a, b)
#else
#define TYPENET_AMX_PRODUCT(c, a, b) _tile_dpbf16ps(c, a, b)
#endif

/// acc[m][32] (32-bit lanes) = sum over taps t and 64-byte steps c of A(t, c) B(t, c): the m (configured in
/// `tiles`) pixels' A tiles start at a + tap[t] + 64 c bytes, one pixel every `stride` bytes; w holds the
/// block's B tiles, [t][c][16 rows][32 outputs][64 / 32 bytes]. Int8: tdpbusd (u8 x s8 -> int32), else
/// tdpbf16ps (bf16 -> fp32). acc: 32 rows of 32 lanes.
template <bool Two, bool Int8>
TYPENET_ALWAYS_INLINE void tile_sums(const char* a, long stride, const std::size_t* tap, int taps, int steps,
                                     const char* w, void* acc) noexcept {
  // GCC 12's tileloadd names no memory operand: this barrier keeps the stores of the input copy and of the
  // packed weights before the loads.
  __asm__ volatile("" ::: "memory");
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (Two) {
    _tile_zero(2);
    _tile_zero(3);
  }
  const char* wp = w;
  for (int t = 0; t < taps; ++t) {
    const char* at = a + tap[t];
    for (int c = 0; c < steps; ++c, at += 64, wp += 2048) {
      _tile_loadd(4, at, stride);
      _tile_loadd(6, wp, 128);
      _tile_loadd(7, wp + 64, 128);
      TYPENET_AMX_PRODUCT(0, 4, 6);
      TYPENET_AMX_PRODUCT(1, 4, 7);
      if constexpr (Two) {
        _tile_loadd(5, at + 16 * stride, stride);
        TYPENET_AMX_PRODUCT(2, 5, 6);
        TYPENET_AMX_PRODUCT(3, 5, 7);
      }
    }
  }
  float* out = static_cast<float*>(acc);
  _tile_stored(0, out, 128);
  _tile_stored(1, out + 16, 128);
  if constexpr (Two) {
    _tile_stored(2, out + 16 * 32, 128);
    _tile_stored(3, out + 16 * 32 + 16, 128);
  }
}
#undef TYPENET_AMX_PRODUCT

}  // namespace amx_detail

/// How an AMX convolution walks its input (see the top of this file), for stored elements T: bf16_t (channels
/// stored as stored_channels) or std::uint8_t (quad_channels), with segments of about Segment bytes of input
/// (a test sets it small to run many segments on small maps). The kernels add their packing and epilogue.
template <class Geo, class T, std::int64_t Segment = amx_segment_bytes>
struct amx_conv_plan {
  static_assert(Geo::g == 1, "typenet: amx_conv_plan: a convolution with one group");
  static constexpr bool int8 = std::is_same_v<T, std::uint8_t>;
  static constexpr int C = Geo::c, H = Geo::h, W = Geo::w, F = Geo::f, OH = Geo::oh, OW = Geo::ow;
  static constexpr int KH = Geo::kh, KW = Geo::kw, SH = Geo::sh, SW = Geo::sw, PH = Geo::ph, PW = Geo::pw;
  static constexpr int Cs = int8 ? quad_channels(C) : stored_channels(C);
  static constexpr int per_step = 64 / int(sizeof(T));  ///< input values per 64-byte step
  /// Stride 1 and whole steps of channels: tiles read from the input (or its padded copy) in place.
  /// Otherwise each pixel's window is gathered into a row of the workspace first.
  static constexpr bool flat = SH == 1 && SW == 1 && Cs % per_step == 0;
  /// One kernel row's window (KW pixels of Cs channels), rounded up to whole steps.
  static constexpr int Kw = ceil_div(KW * Cs, per_step) * per_step;
  static constexpr int Kp = KH * Kw;  ///< a gathered row: KH windows
  /// Packed weights of one block of 32 output channels, in elements of T: Kp x 32.
  static constexpr std::size_t block_elems = std::size_t{Kp} * 32;

  // Flat: whether the input is copied with its padding (all but a 1x1 convolution without padding).
  static constexpr bool copy = flat && !(KH == 1 && KW == 1 && PH == 0 && PW == 0);
  static constexpr int Hp = H + 2 * PH, Wp = W + 2 * PW;
  /// Work units per image: flat, pixels of the Wp-wide grid (the last Wp - OW of each row dropped);
  /// gathered, output pixels.
  static constexpr std::int64_t per_image = flat ? std::int64_t{OH} * Wp : std::int64_t{OH} * OW;
  /// Copy: one image padded, Hp rows of Wp pixels.
  static constexpr std::size_t image_elems = std::size_t{Hp} * Wp * Cs;
  /// Copy: whole images per segment where a padded image is at most a quarter of Segment bytes (else 0: a
  /// segment is part of one image, `cap` units).
  static constexpr std::int64_t images_per_segment = copy && std::int64_t(image_elems * sizeof(T)) <= Segment / 4
                                                         ? Segment / std::int64_t(image_elems * sizeof(T))
                                                         : 0;
  /// Units per segment where a segment is not whole images (a multiple of 32, at least 32).
  static constexpr std::int64_t cap =
      std::max<std::int64_t>(32, Segment / 4 / std::int64_t(sizeof(T)) / (flat ? Cs : Kp) / 32 * 32);
  /// Copy: the padded images, then KW pixels that the last row's dropped pixels read. Gathered: `cap` rows
  /// of Kp values.
  static constexpr std::size_t input_elems =
      copy   ? std::size_t(std::max<std::int64_t>(1, images_per_segment)) * image_elems + std::size_t{KW} * Cs
      : flat ? 0
             : std::size_t(cap) * Kp;
  /// The scratch of 32 x 32 accumulators the epilogue reads.
  static constexpr std::size_t acc_floats = 32 * 32;
  static constexpr std::size_t workspace_floats = acc_floats + (input_elems * sizeof(T) / 4 + 15) / 16 * 16;

  /// Work units of a batch: pixels of the Wp-wide grid (flat) or output pixels.
  static constexpr std::int64_t units(int batch) noexcept { return std::int64_t{batch} * per_image; }

  /// The output pixel (image-major) of unit v, or -1 for a dropped grid pixel.
  static constexpr std::int64_t pixel_of(std::int64_t v) noexcept {
    if constexpr (copy) {
      const std::int64_t n = v / per_image, q = v % per_image, oh = q / Wp, ow = q % Wp;
      return ow < OW ? (n * OH + oh) * OW + ow : -1;
    } else {
      return v;
    }
  }

  /// Units [begin, end) x output blocks [ob0, ob1) of a batch: for each block of m (1 - 32) units from unit v
  /// and output block ob, the accumulators (acc: m rows of 32 lanes, fp32 or int32) go to
  /// finish(acc, ob, m, v). fill: the byte that padding holds (the input's zero). workspace: workspace_floats,
  /// 64-byte aligned; or null where that is only the accumulators (acc_floats: a 1x1 convolution without
  /// padding and with whole steps of channels), which then live on the stack.
  template <class Finish>
  static void drive(const T* packed, const T* in, int fill, float* workspace, std::int64_t begin, std::int64_t end,
                    int ob0, int ob1, Finish&& finish) {
    if (begin >= end || ob0 >= ob1) return;
    alignas(64) float own[input_elems == 0 ? acc_floats : 1];
    float* acc = workspace != nullptr ? workspace : own;
    T* buf = reinterpret_cast<T*>(acc + acc_floats);  // one past own[] where there is no workspace
    if constexpr (copy) {
      const std::size_t tail = std::size_t(std::max<std::int64_t>(1, images_per_segment)) * image_elems;
      std::memset(buf + tail, fill, sizeof(T) * KW * Cs);
    }
    amx_detail::tiles tiles;
    const auto step = [&](const T* a, std::size_t pixel_elems, const std::size_t* taps, int tap_count, int ob, int m,
                          std::int64_t v) {
      tiles.shape(m);
      const char* w = reinterpret_cast<const char*>(packed + std::size_t(ob) * block_elems);
      const char* x = reinterpret_cast<const char*>(a);
      const long stride = static_cast<long>(pixel_elems * sizeof(T));
      const int steps = (tap_count == 1 ? Kp : Cs) / per_step;
      if (m > 16)
        amx_detail::tile_sums<true, int8>(x, stride, taps, tap_count, steps, w, acc);
      else
        amx_detail::tile_sums<false, int8>(x, stride, taps, tap_count, steps, w, acc);
      finish(static_cast<const void*>(acc), ob, m, v);
    };
    for (std::int64_t u = begin; u < end;) {
      const std::int64_t n0 = u / per_image;
      // A segment: units [u, e).
      std::int64_t e = 0;
      if constexpr (copy)
        e = images_per_segment > 0 ? std::min(end, (n0 + images_per_segment) * per_image)
                                   : std::min({end, (n0 + 1) * per_image, u + cap});
      else
        e = std::min(end, u + cap);
      if constexpr (copy) {
        // Image n's units in the segment, [q0, q1) of its grid, from its padded copy in slot n - n0.
        const auto each_image = [&](auto&& f) {
          for (std::int64_t n = n0; n * per_image < e; ++n) {
            const std::int64_t q0 = std::max(u, n * per_image) - n * per_image;
            const std::int64_t q1 = std::min(e, (n + 1) * per_image) - n * per_image;
            f(n, buf + std::size_t(n - n0) * image_elems, q0, q1);
          }
        };
        each_image([&](std::int64_t n, T* slot, std::int64_t q0, std::int64_t q1) {
          fill_rows(in + std::size_t(n) * H * W * Cs, slot, fill, static_cast<int>(q0 / Wp), last_row(q1));
        });
        for (int ob = ob0; ob < ob1; ++ob)
          each_image([&](std::int64_t n, T* slot, std::int64_t q0, std::int64_t q1) {
            for (std::int64_t q = q0; q < q1; q += 32)
              step(slot + std::size_t(q) * Cs, Cs, tap_offsets.data(), KH * KW, ob,
                   static_cast<int>(std::min<std::int64_t>(32, q1 - q)), n * per_image + q);
          });
      } else if constexpr (flat) {
        static constexpr std::size_t at_zero[1] = {0};
        for (int ob = ob0; ob < ob1; ++ob)
          for (std::int64_t v = u; v < e; v += 32)
            step(in + std::size_t(v) * Cs, Cs, at_zero, 1, ob, static_cast<int>(std::min<std::int64_t>(32, e - v)), v);
      } else {
        for (std::int64_t v = u; v < e; ++v) gather(in, buf + std::size_t(v - u) * Kp, fill, v);
        static constexpr std::size_t at_zero[1] = {0};
        for (int ob = ob0; ob < ob1; ++ob)
          for (std::int64_t v = u; v < e; v += 32)
            step(buf + std::size_t(v - u) * Kp, Kp, at_zero, 1, ob, static_cast<int>(std::min<std::int64_t>(32, e - v)),
                 v);
      }
      u = e;
    }
  }

 private:
  /// Flat: tap (kh, kw)'s offset from the pixel's first tap in the padded input, in bytes.
  static constexpr std::array<std::size_t, std::size_t{KH}* KW> tap_offsets = [] {
    std::array<std::size_t, std::size_t{KH} * KW> o{};
    for (int kh = 0; kh < KH; ++kh)
      for (int kw = 0; kw < KW; ++kw) o[std::size_t(kh * KW + kw)] = (std::size_t(kh) * Wp + kw) * Cs * sizeof(T);
    return o;
  }();

  /// Copy: the last padded row that grid pixels [.., q1) read.
  static constexpr int last_row(std::int64_t q1) noexcept {
    const std::int64_t r = (q1 - 1 + std::int64_t{KH - 1} * Wp + KW - 1) / Wp;
    return static_cast<int>(std::min<std::int64_t>(r, Hp - 1));
  }

  /// Copy: padded rows [r0, r1] of one image from its stored input x: rows above and below and columns
  /// either side hold `fill` bytes.
  static void fill_rows(const T* x, T* pad, int fill, int r0, int r1) noexcept {
    for (int r = r0; r <= r1; ++r) {
      T* row = pad + std::size_t(r) * Wp * Cs;
      const int ih = r - PH;
      if (ih < 0 || ih >= H) {
        std::memset(row, fill, sizeof(T) * Wp * Cs);
        continue;
      }
      std::memset(row, fill, sizeof(T) * PW * Cs);
      std::memcpy(row + std::size_t(PW) * Cs, x + std::size_t(ih) * W * Cs, sizeof(T) * W * Cs);
      std::memset(row + std::size_t(PW + W) * Cs, fill, sizeof(T) * PW * Cs);
    }
  }

  /// n values (n > 0) from src to dst, then zeros up to the step's 64 bytes (one masked load and one store).
  TYPENET_ALWAYS_INLINE static void copy_step(const T* src, T* dst, int n) noexcept {
    const int bytes = n * int(sizeof(T));
    const __mmask64 m = bytes >= 64 ? ~__mmask64{0} : (__mmask64{1} << bytes) - 1;
    _mm512_storeu_si512(dst, _mm512_maskz_loadu_epi8(m, src));
  }

  /// Gathered: output pixel v's row: for each kernel row, the KW input pixels of its window (`fill` bytes
  /// where they are padding), then zeros up to Kw (their weights are zero).
  static void gather(const T* in, T* row, int fill, std::int64_t v) noexcept {
    const std::int64_t n = v / per_image;
    const int p = static_cast<int>(v % per_image), oh = p / OW, ow = p % OW;
    const T* img = in + std::size_t(n) * H * W * Cs;
    const int iw0 = ow * SW - PW;
    const bool inside = iw0 >= 0 && iw0 + KW <= W;
    for (int kh = 0; kh < KH; ++kh, row += Kw) {
      const int ih = oh * SH - PH + kh;
      if (ih < 0 || ih >= H) {
        std::memset(row, fill, sizeof(T) * Kw);
      } else if (inside) {
        const T* x = img + (std::size_t(ih) * W + iw0) * Cs;
        for (int k = 0; k < Kw; k += per_step) copy_step(x + k, row + k, KW * Cs - k);
      } else {
        std::memset(row, fill, sizeof(T) * Kw);
        for (int kw = 0; kw < KW; ++kw) {
          const int iw = iw0 + kw;
          if (iw >= 0 && iw < W) std::memcpy(row + kw * Cs, img + (std::size_t(ih) * W + iw) * Cs, sizeof(T) * Cs);
        }
      }
    }
  }
};

/// The bf16 convolution on AMX tiles (see the top of this file); the interface of conv_bf16_kernel with a
/// workspace of `workspace_floats` per thread instead of the zero row. Geo: conv_geometry (conv2d.hpp);
/// in: stored NHWC bf16 (stored_channels(C) per pixel); out: F floats or stored_channels(F) bf16 per pixel.
template <class Geo, class Out, std::int64_t Segment = amx_segment_bytes>
struct conv_amx_kernel : amx_conv_plan<Geo, bf16_t, Segment> {
  static_assert(amx_suits<Geo>, "typenet: conv_amx_kernel: a convolution with one group");
  using plan = amx_conv_plan<Geo, bf16_t, Segment>;
  using plan::C, plan::F, plan::KH, plan::KW, plan::Cs, plan::Kw, plan::block_elems;
  static constexpr int Fs = std::is_same_v<Out, float> ? F : stored_channels(F);
  static constexpr int blocks = ceil_div(Fs, 32);  ///< blocks of 32 output channels (the last zero-padded)
  static constexpr std::size_t packed_elems = std::size_t{blocks} * block_elems;
  static constexpr std::size_t packed_bias_floats = std::size_t{blocks} * 32;

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

  /// out = Epilogue(conv(in) + bias [+ residual]) for units [begin, end) and output blocks [ob0, ob1) of a
  /// batch (with Add, residual has out's layout and is added in fp32 before the epilogue). workspace: as
  /// amx_conv_plan::drive.
  template <class Epilogue, bool Add = false>
  static void run(const bf16_t* packed, const float* bias, const bf16_t* in, Out* out, float* workspace,
                  std::int64_t begin, std::int64_t end, int ob0, int ob1, const Out* residual = nullptr) {
    plan::drive(packed, in, 0, workspace, begin, end, ob0, ob1, [&](const void* acc, int ob, int m, std::int64_t v) {
      epilogue<Epilogue, Add>(static_cast<const float*>(acc), bias, out, residual, ob, m, v);
    });
  }

 private:
  /// Rows [0, m) of acc (units v, v + 1, ...) to their output pixels, through the epilogue.
  template <class Epilogue, bool Add>
  TYPENET_ALWAYS_INLINE static void epilogue(const float* acc, const float* bias, Out* out, const Out* residual, int ob,
                                             int m, std::int64_t v) {
    const int c0 = ob * 32;
    const int n0 = std::min(16, Fs - c0), n1 = std::min(16, Fs - c0 - 16);
    const __m512 b0 = _mm512_loadu_ps(bias + c0), b1 = _mm512_loadu_ps(bias + c0 + 16);
    for (int r = 0; r < m; ++r) {
      const std::int64_t px = plan::pixel_of(v + r);
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

#if TYPENET_HAS_AMX_INT8

/// The int8 convolution on AMX tiles (tdpbusd): the number format and epilogue of conv_int8_kernel (int8.hpp),
/// the walk of amx_conv_plan. Padding holds the input's zero point, so every tap is read and the zero point's
/// share is one per output channel: acc - z sum(wq) over the whole kernel. Geo: conv_geometry; in: stored NHWC
/// u8 (quad_channels(C) per pixel); out: F floats or quad_channels(F) u8 per pixel (the extra channels z').
template <class Geo, class Out, std::int64_t Segment = amx_segment_bytes>
struct conv_amx_int8_kernel : amx_conv_plan<Geo, std::uint8_t, Segment> {
  static_assert(amx_int8_suits<Geo>, "typenet: conv_amx_int8_kernel: one group, a reduction within int32");
  using plan = amx_conv_plan<Geo, std::uint8_t, Segment>;
  using plan::C, plan::F, plan::KH, plan::KW, plan::Cs, plan::Kw, plan::block_elems;
  static constexpr int Fs = std::is_same_v<Out, float> ? F : quad_channels(F);
  static constexpr int blocks = ceil_div(Fs, 32);  ///< blocks of 32 output channels (the last zero-padded)
  static constexpr std::size_t packed_bytes = std::size_t{blocks} * block_elems;
  static constexpr std::size_t sum_ints = std::size_t{blocks} * 32;        ///< sum of wq per output channel
  static constexpr std::size_t channel_floats = std::size_t{blocks} * 32;  ///< mul, bias

  /// Packs PyTorch weights [F][C][KH][KW] and bias [F], for an input quantised with scale in_scale, as s8
  /// [block][kh][Kw / 4][32][4] (the Kw values of a kernel row ordered (kw, channel)), zero past C, KW Cs and
  /// F; per output channel sum(wq), mul = in_scale * sw and the bias.
  TYPENET_NO_VECTORIZE static void pack(const float* w, const float* bias, float in_scale, std::int8_t* packed,
                                        std::int32_t* sums, float* mul, float* packed_bias) {
    constexpr std::size_t per_output = std::size_t{C} * KH * KW;
    for (int ob = 0; ob < blocks; ++ob)
      for (int j = 0; j < 32; ++j) {
        const int oc = ob * 32 + j;
        const bool real = oc < F;
        const float* wo = real ? w + std::size_t(oc) * per_output : nullptr;
        const float sw = real ? weight_scale(wo, per_output) : 1.0f;
        std::int32_t sum = 0;
        for (int kh = 0; kh < KH; ++kh)
          for (int k = 0; k < Kw; ++k) {
            const int kw = k / Cs, ic = k % Cs;
            const std::int8_t q =
                real && kw < KW && ic < C ? quantize_s8(wo[(std::size_t(ic) * KH + kh) * KW + kw], 1.0f / sw) : 0;
            packed[((std::size_t(ob) * KH + kh) * (Kw / 4) + k / 4) * 128 + j * 4 + k % 4] = q;
            sum += q;
          }
        sums[oc] = sum;
        mul[oc] = real ? in_scale * sw : 0.0f;
        packed_bias[oc] = real ? bias[oc] : 0.0f;
      }
  }

  /// out = Epilogue(conv(in) + bias [+ residual]) for units [begin, end) and output blocks [ob0, ob1) of a
  /// batch, as conv_int8_kernel::run computes it: in_zero is the input's zero point, q the output's
  /// quantisation (u8 Out); with Add, res holds the residual in the output's stored u8 layout, quantised as
  /// rq. workspace: as amx_conv_plan::drive.
  template <class Epilogue, bool Add = false>
  static void run(const int8_weights& k, const std::uint8_t* in, int in_zero, Out* out, const out_quant& q,
                  float* workspace, std::int64_t begin, std::int64_t end, int ob0, int ob1,
                  const std::uint8_t* res = nullptr, const act_quant& rq = {}) {
    const int8_detail::out_stage<Epilogue, Out> st(q);
    const __m512i z = _mm512_set1_epi32(in_zero), rz = _mm512_set1_epi32(rq.zero);
    const __m512 rs = st.fold_scale(_mm512_set1_ps(rq.scale));
    plan::drive(reinterpret_cast<const std::uint8_t*>(k.w), in, in_zero, workspace, begin, end, ob0, ob1,
                [&](const void* acc, int ob, int m, std::int64_t v) {
                  const int c0 = ob * 32;
                  const int n0 = std::min(16, Fs - c0), n1 = std::min(16, Fs - c0 - 16);
                  __m512i comp[2];
                  __m512 mul[2], bias[2];
                  for (int h = 0; h < 2; ++h) {
                    comp[h] = _mm512_mullo_epi32(_mm512_loadu_si512(k.sums + c0 + 16 * h), z);
                    mul[h] = _mm512_loadu_ps(k.mul + c0 + 16 * h);
                    bias[h] = _mm512_loadu_ps(k.bias + c0 + 16 * h);
                    st.fold(mul[h], bias[h]);
                  }
                  const std::int32_t* a = static_cast<const std::int32_t*>(acc);
                  for (int r = 0; r < m; ++r) {
                    const std::int64_t px = plan::pixel_of(v + r);
                    if (px < 0) continue;
                    const std::size_t at = std::size_t(px) * Fs + c0;
                    for (int h = 0; h < 2; ++h) {
                      const int n = h == 0 ? n0 : n1;
                      if (n <= 0) break;
                      const __v16si s = __v16si(_mm512_load_si512(a + r * 32 + 16 * h));
                      if constexpr (Add)
                        int8_detail::finish_add(s, comp[h], mul[h], bias[h], res + at + 16 * h, rz, rs,
                                                out + at + 16 * h, n, st);
                      else
                        int8_detail::finish(s, comp[h], mul[h], bias[h], out + at + 16 * h, n, st);
                    }
                  }
                });
  }
};

#endif  // TYPENET_HAS_AMX_INT8

#endif  // TYPENET_HAS_AMX

#if TYPENET_HAS_VNNI
/// The int8 convolution kernel of a layer (Geo, Out as conv_int8_kernel's): `tiles` (conv_amx_int8_kernel)
/// where amx_int8_suits, else `direct` (conv_int8_kernel); the other an empty stand-in whose sizes are 0.
template <class Geo, class Out>
struct int8_conv_kernels {
  static constexpr bool amx = amx_int8_suits<Geo>;
  struct none {
    static constexpr std::size_t packed_bytes = 0, sum_ints = 0, channel_floats = 0, pad_bytes = 0,
                                 workspace_floats = 0;
  };
  using direct = std::conditional_t<amx, none, conv_int8_kernel<Geo, Out>>;
#if TYPENET_HAS_AMX_INT8
  using tiles = std::conditional_t<amx, conv_amx_int8_kernel<Geo, Out>, none>;
#else
  using tiles = none;
#endif
};
#endif

}  // namespace typenet::kernels::simd
