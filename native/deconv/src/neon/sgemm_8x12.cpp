// Packed, register-blocked sgemm for the NCHW baseline: C (8 x n) = A_panel (8 x k) * B (k x n).
// A is pre-packed once per plan as [k][8]; B is packed per call into panels [k][12] (8, 4 at
// the ragged end). The 8x12 tile keeps 24 accumulators + 2 A + 3 B vectors in registers and
// issues 24 `fmla v.4s, b.4s, a.s[lane]` per k step against 3 loads.
#include <cstring>

#include "kernels_isa.h"

namespace megforge::deconv::MGF_ISA {

namespace {

template <int NR>
inline void sgemm_tile(int k, const float* a, const float* b, float* c, ptrdiff_t ldc, int rows, int cols) {
  constexpr int NV = NR / 4;
  float32x4_t acc[8][NV];
  MGF_UNROLL for (int i = 0; i < 8; ++i) MGF_UNROLL for (int j = 0; j < NV; ++j) acc[i][j] = vdupq_n_f32(0.f);
  auto step = [&](const float* ak, const float* bk) {
    const float32x4_t a0 = vld1q_f32(ak), a1 = vld1q_f32(ak + 4);
    float32x4_t bv[NV];
    MGF_UNROLL for (int j = 0; j < NV; ++j) bv[j] = vld1q_f32(bk + 4 * j);
    MGF_UNROLL for (int j = 0; j < NV; ++j) {
      acc[0][j] = fma_lane<0>(acc[0][j], bv[j], a0);
      acc[1][j] = fma_lane<1>(acc[1][j], bv[j], a0);
      acc[2][j] = fma_lane<2>(acc[2][j], bv[j], a0);
      acc[3][j] = fma_lane<3>(acc[3][j], bv[j], a0);
      acc[4][j] = fma_lane<0>(acc[4][j], bv[j], a1);
      acc[5][j] = fma_lane<1>(acc[5][j], bv[j], a1);
      acc[6][j] = fma_lane<2>(acc[6][j], bv[j], a1);
      acc[7][j] = fma_lane<3>(acc[7][j], bv[j], a1);
    }
  };
  int kk = 0;
  for (; kk + 4 <= k; kk += 4, a += 32, b += 4 * NR) {  // unrolled: one loop branch per 4 k steps
    step(a, b);
    step(a + 8, b + NR);
    step(a + 16, b + 2 * NR);
    step(a + 24, b + 3 * NR);
  }
  for (; kk < k; ++kk, a += 8, b += NR) step(a, b);
  if (rows == 8 && cols == NR) {
    MGF_UNROLL for (int i = 0; i < 8; ++i) MGF_UNROLL for (int j = 0; j < NV; ++j) vst1q_f32(c + i * ldc + 4 * j, acc[i][j]);
    return;
  }
  // Ragged edge: spill the tile and copy the valid part.
  float tile[8][NR];
  MGF_UNROLL for (int i = 0; i < 8; ++i) MGF_UNROLL for (int j = 0; j < NV; ++j) vst1q_f32(&tile[i][4 * j], acc[i][j]);
  for (int i = 0; i < rows; ++i) std::memcpy(c + i * ldc, tile[i], sizeof(float) * size_t(cols));
}

}  // namespace

void sgemm_pack_b(const float* b, ptrdiff_t ldb, int k, int n, float* packed) {
  for (int n0 = 0; n0 < n; ) {
    const int width = sgemm_panel_width(n - n0), cols = n - n0 < width ? n - n0 : width;
    const float* src = b + n0;
    if (cols == width && width == 12) {
      for (int kk = 0; kk < k; ++kk, src += ldb, packed += 12) {
        vst1q_f32(packed, vld1q_f32(src));
        vst1q_f32(packed + 4, vld1q_f32(src + 4));
        vst1q_f32(packed + 8, vld1q_f32(src + 8));
      }
    } else {
      for (int kk = 0; kk < k; ++kk, src += ldb, packed += width) {
        int j = 0;
        for (; j < cols; ++j) packed[j] = src[j];
        for (; j < width; ++j) packed[j] = 0.f;
      }
    }
    n0 += width;
  }
}

void sgemm_8xn(int k, const float* a_panel, const float* b_packed, int n, float* c, ptrdiff_t ldc, int rows) {
  for (int n0 = 0; n0 < n; ) {
    const int width = sgemm_panel_width(n - n0), cols = n - n0 < width ? n - n0 : width;
    if (width == 12)
      sgemm_tile<12>(k, a_panel, b_packed, c + n0, ldc, rows, cols);
    else if (width == 8)
      sgemm_tile<8>(k, a_panel, b_packed, c + n0, ldc, rows, cols);
    else
      sgemm_tile<4>(k, a_panel, b_packed, c + n0, ldc, rows, cols);
    b_packed += size_t(k) * width;
    n0 += width;
  }
}

}  // namespace megforge::deconv::MGF_ISA
