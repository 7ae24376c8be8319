// Dense NC4HW4 register tiles: up to 8 output pixels x 2 output channel blocks (16 q-register
// accumulators), summed over taps and input channel blocks. Per (tap, input block) the tile
// loads 8 weight vectors (2 x ld1 {4 regs}) and 8 input pixels (2 x ld1 {4 regs}) and issues
// 64 `fmla v.4s, w.4s, x.s[lane]`: 4 loads per 64 FMLA. Pixels past 8 go to narrower tiles
// (7..1 pixels), so no work is wasted on a ragged end; they load the same way (weights as
// groups of 4 vectors, pixels 4 at a time), e.g. 4 loads per 56 FMLA for the 7-pixel tile that
// every phase of a 14-wide stride-2 output row runs.
#include "kernels_isa.h"

namespace megforge::deconv::MGF_ISA {

namespace {

// The main tile: 2 output blocks x 8 pixels, written out so the compiler keeps all 16
// accumulators, 8 weight vectors and 4 input pixels in the 32 vector registers.
#define MGF_FMLA_PIXEL(c0, c1, xv)                \
  c0 = fma_lane<0>(c0, wa.v[0], xv);              \
  c1 = fma_lane<0>(c1, wa.v[1], xv);              \
  c0 = fma_lane<1>(c0, wa.v[2], xv);              \
  c1 = fma_lane<1>(c1, wa.v[3], xv);              \
  c0 = fma_lane<2>(c0, wb.v[0], xv);              \
  c1 = fma_lane<2>(c1, wb.v[1], xv);              \
  c0 = fma_lane<3>(c0, wb.v[2], xv);              \
  c1 = fma_lane<3>(c1, wb.v[3], xv)

inline void dense_tile_2x8(const DenseRowArgs& a, int j0) {
  const int ntaps = a.ntaps, icb = a.icb;
  const ptrdiff_t xs = a.x_icb_stride, ps = a.out_px_stride, bs = a.out_ocb_stride;
  const float32x4_t b0 = vld1q_f32(a.bias), b1 = vld1q_f32(a.bias + 4);
  float32x4_t c00 = b0, c01 = b0, c02 = b0, c03 = b0, c04 = b0, c05 = b0, c06 = b0, c07 = b0;
  float32x4_t c10 = b1, c11 = b1, c12 = b1, c13 = b1, c14 = b1, c15 = b1, c16 = b1, c17 = b1;
  for (int t = 0; t < ntaps; ++t) {
    const float* x = a.x[t] + 4 * j0;
    const float* w = a.w[t];
    // One input block: 4 loads (ld1 x4 on arm64), 64 FMLA.
#define MGF_DENSE_BLOCK(xb0, wb0)                                                              \
  {                                                                                            \
    const f32x4x4 wa = load4_x4(wb0), wb = load4_x4((wb0) + 16); /* lanes 0,1 | 2,3 x 2 blocks */ \
    const f32x4x4 xa = load4_x4(xb0);                                                          \
    MGF_FMLA_PIXEL(c00, c10, xa.v[0]);                                                         \
    MGF_FMLA_PIXEL(c01, c11, xa.v[1]);                                                         \
    MGF_FMLA_PIXEL(c02, c12, xa.v[2]);                                                         \
    MGF_FMLA_PIXEL(c03, c13, xa.v[3]);                                                         \
    const f32x4x4 xb = load4_x4((xb0) + 16);                                                   \
    MGF_FMLA_PIXEL(c04, c14, xb.v[0]);                                                         \
    MGF_FMLA_PIXEL(c05, c15, xb.v[1]);                                                         \
    MGF_FMLA_PIXEL(c06, c16, xb.v[2]);                                                         \
    MGF_FMLA_PIXEL(c07, c17, xb.v[3]);                                                         \
  }
    for (int i = 0; i < icb; ++i, x += xs, w += 32) MGF_DENSE_BLOCK(x, w);  // (unrolling x2 spills)
#undef MGF_DENSE_BLOCK
  }
  float* o = a.out + j0 * ps;
  vst1q_f32(o, c00); vst1q_f32(o + ps, c01); vst1q_f32(o + 2 * ps, c02); vst1q_f32(o + 3 * ps, c03);
  vst1q_f32(o + 4 * ps, c04); vst1q_f32(o + 5 * ps, c05); vst1q_f32(o + 6 * ps, c06); vst1q_f32(o + 7 * ps, c07);
  o += bs;
  vst1q_f32(o, c10); vst1q_f32(o + ps, c11); vst1q_f32(o + 2 * ps, c12); vst1q_f32(o + 3 * ps, c13);
  vst1q_f32(o + 4 * ps, c14); vst1q_f32(o + 5 * ps, c15); vst1q_f32(o + 6 * ps, c16); vst1q_f32(o + 7 * ps, c17);
}
#undef MGF_FMLA_PIXEL

// Weight vector (input lane l, output block b) of one (tap, input block): [lane][block][4],
// loaded as whole groups of 4 vectors (one `ld1 {4 regs}` each).
template <int OCB>
inline float32x4_t weight(const f32x4x4 (&wg)[OCB], int l, int b) {
  const int i = l * OCB + b;
  return wg[i / 4].v[i % 4];
}

// Pixels P0 .. P0+3 of a tile: one load (ld1 with 4, 3, 2 or 1 registers), used up before the
// next group is loaded, so at most 4 input vectors are live.
template <int OCB, int PX, int P0>
inline void dense_pixels(float32x4_t (&acc)[OCB][PX], const f32x4x4 (&wg)[OCB], const float* x) {
  constexpr int N = PX - P0 < 4 ? PX - P0 : 4;
  float32x4_t xv[N];
  load_vectors<N>(x + 4 * P0, xv);
  MGF_UNROLL for (int p = 0; p < N; ++p) {
    MGF_UNROLL for (int b = 0; b < OCB; ++b) {
      acc[b][P0 + p] = fma_lane<0>(acc[b][P0 + p], weight(wg, 0, b), xv[p]);
      acc[b][P0 + p] = fma_lane<1>(acc[b][P0 + p], weight(wg, 1, b), xv[p]);
      acc[b][P0 + p] = fma_lane<2>(acc[b][P0 + p], weight(wg, 2, b), xv[p]);
      acc[b][P0 + p] = fma_lane<3>(acc[b][P0 + p], weight(wg, 3, b), xv[p]);
    }
  }
  if constexpr (P0 + 4 < PX) dense_pixels<OCB, PX, P0 + 4>(acc, wg, x);
}

// Any other tile (OCB blocks x PX pixels, PX <= 8): the ragged ends and odd block counts.
template <int OCB, int PX>
inline void dense_tile(const DenseRowArgs& a, int j0) {
  const int ntaps = a.ntaps, icb = a.icb;
  const ptrdiff_t xs = a.x_icb_stride, ps = a.out_px_stride, bs = a.out_ocb_stride;
  float32x4_t acc[OCB][PX];
  MGF_UNROLL for (int b = 0; b < OCB; ++b) {
    const float32x4_t bias = vld1q_f32(a.bias + 4 * b);
    MGF_UNROLL for (int p = 0; p < PX; ++p) acc[b][p] = bias;
  }
  for (int t = 0; t < ntaps; ++t) {
    const float* x = a.x[t] + 4 * j0;
    const float* w = a.w[t];
    for (int i = 0; i < icb; ++i) {
      f32x4x4 wg[OCB];
      wg[0] = load4_x4(w);
      w += 16;
      if constexpr (OCB == 2) {
        wg[1] = load4_x4(w);
        w += 16;
      }
      dense_pixels<OCB, PX, 0>(acc, wg, x);
      x += xs;
    }
  }
  float* out = a.out + j0 * ps;
  MGF_UNROLL for (int b = 0; b < OCB; ++b)
    MGF_UNROLL for (int p = 0; p < PX; ++p) vst1q_f32(out + b * bs + p * ps, acc[b][p]);
}

template <int OCB>
void dense_row_ocb(const DenseRowArgs& a) {
  int j = 0;
  for (; j + 8 <= a.count; j += 8) {
    if (OCB == 2)
      dense_tile_2x8(a, j);
    else
      dense_tile<OCB, 8>(a, j);
  }
  switch (a.count - j) {
    case 7: dense_tile<OCB, 7>(a, j); break;
    case 6: dense_tile<OCB, 6>(a, j); break;
    case 5: dense_tile<OCB, 5>(a, j); break;
    case 4: dense_tile<OCB, 4>(a, j); break;
    case 3: dense_tile<OCB, 3>(a, j); break;
    case 2: dense_tile<OCB, 2>(a, j); break;
    case 1: dense_tile<OCB, 1>(a, j); break;
    default: break;
  }
}

}  // namespace

void dense_row(const DenseRowArgs& a) {
  if (a.ocb == 2)
    dense_row_ocb<2>(a);
  else
    dense_row_ocb<1>(a);
}

}  // namespace megforge::deconv::MGF_ISA
