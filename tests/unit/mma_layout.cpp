// The fragment layout of exec::cuda's fp16 and bf16 tensor-core products (kernels/mma_layout.hpp), checked on
// the host: against the PTX ISA's element tables for mma.m16n8k16 with 16-bit operands (written here as
// the ISA states them, per element index rather than per register and half), by coverage (every element of
// A, B and C held by exactly one lane, register and half), and by emulating one product from the fragments
// a warp's lanes load.
#include <doctest/doctest.h>

#include <array>
#include <random>

#include <typenet/kernels/mma_layout.hpp>

namespace L = typenet::kernels::mma_k16;

namespace {
// The PTX ISA (mma.m16n8k16, .f16/.bf16 A and B, .f32 C): groupID = lane / 4, threadID_in_group = lane % 4.
// A elements a0..a7: row groupID for i < 2 and 4 <= i < 6, else groupID + 8; column
// threadID_in_group * 2 + (i & 1), plus 8 for i >= 4.
int ptx_a_row(int lane, int i) { return (i < 2 || (i >= 4 && i < 6)) ? lane / 4 : lane / 4 + 8; }
int ptx_a_col(int lane, int i) { return (lane % 4) * 2 + (i & 1) + (i >= 4 ? 8 : 0); }
// B elements b0..b3: row threadID_in_group * 2 + (i & 1), plus 8 for i >= 2; column groupID.
int ptx_b_row(int lane, int i) { return (lane % 4) * 2 + (i & 1) + (i >= 2 ? 8 : 0); }
int ptx_b_col(int lane) { return lane / 4; }
// C elements c0..c3: row groupID for i < 2, else groupID + 8; column threadID_in_group * 2 + (i & 1).
int ptx_c_row(int lane, int i) { return i < 2 ? lane / 4 : lane / 4 + 8; }
int ptx_c_col(int lane, int i) { return (lane % 4) * 2 + (i & 1); }
}  // namespace

TEST_CASE("mma m16n8k16 layout: registers and halves are the ISA's element order") {
  for (int lane = 0; lane < 32; ++lane) {
    CAPTURE(lane);
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < 2; ++h) {
        const int i = 2 * r + h;  // a register holds elements 2r (low half) and 2r + 1 (high half)
        CHECK(L::a_row(lane, r) == ptx_a_row(lane, i));
        CHECK(L::a_k(lane, r, h) == ptx_a_col(lane, i));
      }
    for (int r = 0; r < 2; ++r)
      for (int h = 0; h < 2; ++h) {
        CHECK(L::b_k(lane, r, h) == ptx_b_row(lane, 2 * r + h));
        CHECK(L::b_col(lane) == ptx_b_col(lane));
      }
    for (int i = 0; i < 4; ++i) {
      CHECK(L::c_row(lane, i) == ptx_c_row(lane, i));
      CHECK(L::c_col(lane, i) == ptx_c_col(lane, i));
    }
  }
  // Two lanes as the ISA's figures draw them: lane 0 and lane 5 (group 1, thread 1).
  CHECK((L::a_row(0, 0) == 0 && L::a_k(0, 0, 0) == 0 && L::a_k(0, 0, 1) == 1));
  CHECK((L::a_row(0, 1) == 8 && L::a_row(0, 2) == 0 && L::a_k(0, 2, 0) == 8 && L::a_k(0, 3, 1) == 9));
  CHECK((L::a_row(5, 0) == 1 && L::a_k(5, 0, 0) == 2 && L::a_row(5, 3) == 9 && L::a_k(5, 3, 1) == 11));
  CHECK((L::b_col(5) == 1 && L::b_k(5, 0, 0) == 2 && L::b_k(5, 1, 1) == 11));
  CHECK((L::c_row(5, 0) == 1 && L::c_col(5, 1) == 3 && L::c_row(5, 2) == 9));
}

TEST_CASE("mma m16n8k16 layout: every element of A, B and C belongs to exactly one lane, register and half") {
  std::array<int, 16 * 16> a{};
  std::array<int, 16 * 8> b{}, c{};
  for (int lane = 0; lane < 32; ++lane) {
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < 2; ++h) ++a[static_cast<std::size_t>(L::a_row(lane, r) * 16 + L::a_k(lane, r, h))];
    for (int r = 0; r < 2; ++r)
      for (int h = 0; h < 2; ++h) ++b[static_cast<std::size_t>(L::b_k(lane, r, h) * 8 + L::b_col(lane))];
    for (int i = 0; i < 4; ++i) ++c[static_cast<std::size_t>(L::c_row(lane, i) * 8 + L::c_col(lane, i))];
  }
  for (int n : a) CHECK(n == 1);
  for (int n : b) CHECK(n == 1);
  for (int n : c) CHECK(n == 1);
}

TEST_CASE("mma m16n8k16 layout: a product emulated from the fragments the lanes load") {
  // The kernel's tiles in shared memory are k-major: A at [k][m], B at [k][n]. Each lane loads its
  // fragments by mma_layout.hpp; the emulated instruction decodes them by the ISA's tables above and
  // multiplies; each lane's accumulators must equal the product of the tiles at c_row/c_col.
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> small(-8, 8);  // exact in float: no rounding to hide a swap
  float as[16][16], bs[16][8];                      // [k][m], [k][n]
  for (auto& row : as)
    for (float& v : row) v = static_cast<float>(small(rng));
  for (auto& row : bs)
    for (float& v : row) v = static_cast<float>(small(rng));
  float af[32][4][2], bf[32][2][2];
  for (int lane = 0; lane < 32; ++lane) {
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < 2; ++h) af[lane][r][h] = as[L::a_k(lane, r, h)][L::a_row(lane, r)];
    for (int r = 0; r < 2; ++r)
      for (int h = 0; h < 2; ++h) bf[lane][r][h] = bs[L::b_k(lane, r, h)][L::b_col(lane)];
  }
  float a[16][16] = {}, b[16][8] = {};  // [m][k], [k][n], rebuilt from the fragments
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 8; ++i) a[ptx_a_row(lane, i)][ptx_a_col(lane, i)] = af[lane][i / 2][i % 2];
    for (int i = 0; i < 4; ++i) b[ptx_b_row(lane, i)][ptx_b_col(lane)] = bf[lane][i / 2][i % 2];
  }
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      const int m = ptx_c_row(lane, i), n = ptx_c_col(lane, i);
      float d = 0.f, want = 0.f;
      for (int k = 0; k < 16; ++k) {
        d += a[m][k] * b[k][n];
        want += as[k][m] * bs[k][n];
      }
      CAPTURE(lane);
      CAPTURE(i);
      CHECK(m == L::c_row(lane, i));
      CHECK(n == L::c_col(lane, i));
      CHECK(d == want);
    }
}
