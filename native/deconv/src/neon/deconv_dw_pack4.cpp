// Depthwise NC4HW4 tiles (one channel block = 4 channels, one weight vector per tap).
// dw_row: up to 8 output pixels of one stride phase, `fmla v.4s` per (pixel, tap) - any geometry.
// dw_plane: a whole output plane for the common dilation-1 geometries, in tiles of 8 consecutive
// output pixels that mix the stride phases (compile-time tap pattern per pixel), so one input
// window per kernel row feeds all 8 and the results leave with contiguous stores.
#include "kernels_isa.h"

namespace megforge::deconv::MGF_ISA {

namespace {

template <int PX>
inline void dw_tile(const DwRowArgs& a, int j0) {
  const ptrdiff_t ps = a.out_px_stride;
  const float32x4_t bias = vld1q_f32(a.bias);
  float32x4_t acc[PX];
  MGF_UNROLL for (int p = 0; p < PX; ++p) acc[p] = bias;
  for (int t = 0; t < a.ntaps; ++t) {
    const float* x = a.x[t] + 4 * j0;
    const float32x4_t w = vld1q_f32(a.w[t]);
    MGF_UNROLL for (int p = 0; p < PX; ++p) acc[p] = vfmaq_f32(acc[p], vld1q_f32(x + 4 * p), w);
  }
  float* out = a.out + j0 * ps;
  MGF_UNROLL for (int p = 0; p < PX; ++p) vst1q_f32(out + p * ps, acc[p]);
}

// 8 consecutive outputs ox0..ox0+7 of row oy, (ox0 + p) % S == 0 (ox0 may be < 0 or run past the
// row: the caller pads the input with 8 extra zero columns on the right): output i has phase i % S,
// input column base J0 + i / S and taps kx = i % S + S*q reading column J0 + i / S - q.
template <int K, int S, int R>
inline void dw_tile_mixed(const float* const* xrow, const float32x4_t (&wk)[R > 0 ? R : 1][K], int j0,
                          const float32x4_t bias, float* out) {
  constexpr int Q = (K - 1) / S;      // largest column offset
  constexpr int NW = 8 / S + Q;       // input window
  float32x4_t acc[8];
  MGF_UNROLL for (int i = 0; i < 8; ++i) acc[i] = bias;
  MGF_UNROLL for (int r = 0; r < R; ++r) {
    const float* x = xrow[r] + 4 * (j0 - Q);
    float32x4_t win[NW];
    MGF_UNROLL for (int t = 0; t < NW; ++t) win[t] = vld1q_f32(x + 4 * t);
    MGF_UNROLL for (int i = 0; i < 8; ++i) {
      MGF_UNROLL for (int q = 0; q <= Q; ++q) {
        if (i % S + S * q < K) acc[i] = vfmaq_f32(acc[i], win[i / S - q + Q], wk[r][i % S + S * q]);
      }
    }
  }
  MGF_UNROLL for (int i = 0; i < 8; ++i) vst1q_f32(out + 4 * i, acc[i]);
}

// One output row with R kernel rows reaching it; weights stay in registers across the row.
template <int K, int S, int R>
void dw_row_mixed(const float* const* xrow, const float* const* wrow, int ox_start, int ow, int p,
                  const float32x4_t bias, float* out) {
  float32x4_t wk[R > 0 ? R : 1][K];
  MGF_UNROLL for (int r = 0; r < R; ++r) MGF_UNROLL for (int t = 0; t < K; ++t) wk[r][t] = vld1q_f32(wrow[r] + 4 * t);
  int ox0 = ox_start;
  for (; ox0 < 0; ox0 += 8) {  // left edge
    float tile[32];
    dw_tile_mixed<K, S, R>(xrow, wk, (ox0 + p) / S, bias, tile);
    for (int i = -ox0; i < 8 && ox0 + i < ow; ++i)
      for (int l = 0; l < 4; ++l) out[(ox0 + i) * 4 + l] = tile[i * 4 + l];
  }
  for (; ox0 + 8 <= ow; ox0 += 8) dw_tile_mixed<K, S, R>(xrow, wk, (ox0 + p) / S, bias, out + ox0 * 4);
  if (ox0 < ow) {  // right edge
    float tile[32];
    dw_tile_mixed<K, S, R>(xrow, wk, (ox0 + p) / S, bias, tile);
    for (int i = 0; ox0 + i < ow; ++i)
      for (int l = 0; l < 4; ++l) out[(ox0 + i) * 4 + l] = tile[i * 4 + l];
  }
}

template <int K, int S>
void dw_plane_mixed(const DwPlaneArgs& a) {
  if (a.oh <= 0) return;  // a probe (see nc4hw4_depthwise.cpp)
  constexpr int kRows = (K + S - 1) / S;
  const int oh = a.oh, ow = a.ow, h = a.h, p = a.p;
  const float* const in = a.in + 4 * a.pad_l;
  const float* const wt = a.wt;
  const ptrdiff_t stride = a.in_row_stride;
  const float32x4_t bias = vld1q_f32(a.bias);
  const int first = (S - p % S) % S;  // first ox with (ox + p) % S == 0
  int ox_start = first;
  while (ox_start > 0) ox_start -= S;  // the tile holding ox = 0 (reads stay in the zero columns)
  float* out = a.out;
  for (int oy = 0; oy < oh; ++oy, out += size_t(ow) * 4) {
    // Kernel rows reaching this output row: their input rows and weight rows.
    const float* xrow[kRows];
    const float* wrow[kRows];
    int rows = 0;
    const int ry = (oy + p) % S, jy = (oy + p) / S;
    for (int k = ry, m = 0; k < K; k += S, ++m)
      if (jy - m >= 0 && jy - m < h) {
        xrow[rows] = in + (jy - m) * stride;
        wrow[rows++] = wt + k * K * 4;
      }
    switch (rows) {
      case 0: dw_row_mixed<K, S, 0>(xrow, wrow, ox_start, ow, p, bias, out); break;
      case 1: dw_row_mixed<K, S, 1>(xrow, wrow, ox_start, ow, p, bias, out); break;
      case 2: dw_row_mixed<K, S, 2>(xrow, wrow, ox_start, ow, p, bias, out); break;
      case 3: if constexpr (kRows >= 3) dw_row_mixed<K, S, 3>(xrow, wrow, ox_start, ow, p, bias, out); break;
      case 4: if constexpr (kRows >= 4) dw_row_mixed<K, S, 4>(xrow, wrow, ox_start, ow, p, bias, out); break;
      default: if constexpr (kRows >= 5) dw_row_mixed<K, S, 5>(xrow, wrow, ox_start, ow, p, bias, out); break;
    }
  }
}

}  // namespace

bool dw_plane(const DwPlaneArgs& a) {
  switch (a.k * 10 + a.s) {
    case 22: dw_plane_mixed<2, 2>(a); return true;
    case 31: dw_plane_mixed<3, 1>(a); return true;
    case 32: dw_plane_mixed<3, 2>(a); return true;
    case 42: dw_plane_mixed<4, 2>(a); return true;
    case 51: dw_plane_mixed<5, 1>(a); return true;
    case 52: dw_plane_mixed<5, 2>(a); return true;
    default: return false;
  }
}

void dw_row(const DwRowArgs& a) {
  int j = 0;
  for (; j + 8 <= a.count; j += 8) dw_tile<8>(a, j);
  switch (a.count - j) {
    case 7: dw_tile<7>(a, j); break;
    case 6: dw_tile<6>(a, j); break;
    case 5: dw_tile<5>(a, j); break;
    case 4: dw_tile<4>(a, j); break;
    case 3: dw_tile<3>(a, j); break;
    case 2: dw_tile<2>(a, j); break;
    case 1: dw_tile<1>(a, j); break;
    default: break;
  }
}

}  // namespace megforge::deconv::MGF_ISA
