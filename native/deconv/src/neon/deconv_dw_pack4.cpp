// Depthwise NC4HW4 tiles (one channel block = 4 channels, one weight vector per tap).
//
// dw_row: up to 8 output pixels of one stride phase, `fmla v.4s` per (pixel, tap) - any geometry,
// on the zero-column-padded input of nc4hw4_depthwise.cpp.
//
// dw_plane: a whole output plane for the common geometries (kernels.h: dw_plane_covers), read
// straight from the unpadded input plane. Each output row is cut into tiles of consecutive
// output pixels that mix the stride phases, with a compile-time tap pattern per pixel, so one
// window of input columns per kernel row feeds the whole tile and the results leave with
// contiguous stores:
//     [left edge: 4] [16] [16] ... [8] [4] [2] [1] [right edge: 4]
// The edge tiles exist only where some of their taps fall outside the input row; those window
// columns are left out at compile time (dw_plane_edges), so there is no input padding, no bounds
// check and no partial store. Kernel rows whose input row is outside the input are left out per
// output row (R = the kernel rows that remain).
// Per output vector: one fmla per tap, half an `ldp` to start from the bias (copies of it at
// distinct addresses, so the loads are not merged), half an `stp`, and the window loaded 4
// columns per `ld1`. (GCC 12 copies accumulators loaded or stored with ld1/st1 {4 regs} through
// extra `mov`s, so those forms are used for the window and the weights only.)
#include "kernels_isa.h"

namespace megforge::deconv::MGF_ISA {

namespace {

// ---- dw_row: one stride phase, any geometry --------------------------------------------------

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

// ---- dw_plane: mixed-phase tiles -------------------------------------------------------------

// T consecutive outputs of a row whose first output has column phase F: output i has phase
// (F + i) % S, and its tap kx = (F + i) % S + S*q (q = 0, 1, .. while kx < K) reads window column
// (F + i) / S + Q - q. Window column 0 is the input column Q left of output 0's own column.
template <int K, int S, int T, int F>
struct Mixed {
  static constexpr int Q = (K - 1) / S;
  static constexpr int NW = (F + T - 1) / S + Q + 1;  // window columns
  static constexpr int col(int i, int q) { return (F + i) / S + Q - q; }
  static constexpr int tap(int i, int q) { return (F + i) % S + S * q; }
};

// Window columns [C0, HI) of one kernel row, 4 per load, each group used up before the next is
// loaded; x -> column C0 on entry, is advanced past column HI - 1 (post-indexed loads).
template <int K, int S, int T, int F, int C0, int HI>
MGF_ALWAYS_INLINE void mixed_columns(float32x4_t (&acc)[T], const float32x4_t (&wr)[K], const float*& x) {
  using M = Mixed<K, S, T, F>;
  constexpr int N = HI - C0 < 4 ? HI - C0 : 4;
  float32x4_t win[N];
  load_vectors<N>(x, win);
  x = advance(x, 4 * N);
  MGF_UNROLL for (int i = 0; i < T; ++i) {
    MGF_UNROLL for (int q = 0; q <= M::Q; ++q) {
      const int t = M::col(i, q) - C0;
      if (M::tap(i, q) < K && t >= 0 && t < N) acc[i] = vfmaq_f32(acc[i], win[t], wr[M::tap(i, q)]);
    }
  }
  if constexpr (C0 + 4 < HI) mixed_columns<K, S, T, F, C0 + 4, HI>(acc, wr, x);
}

// The K weight vectors of each of the R kernel rows reaching one output row. Kept in registers
// for the whole row when they fit beside a 16-output tile; otherwise (K = 5, where 25 or 15 taps
// per output dwarf the extra loads) loaded per tile, one kernel row at a time.
template <int K, int R>
struct RowWeights {
  static constexpr bool kInRegs = R * K <= 12;
  const float* const* rows;
  float32x4_t w[kInRegs && R > 0 ? R : 1][K];
  explicit RowWeights(const float* const* wrows) : rows(wrows) {
    if constexpr (kInRegs) {
      MGF_UNROLL for (int r = 0; r < R; ++r) load_vectors<K>(wrows[r], w[r]);
    }
  }
};

// One tile of T outputs at `out`, reading window columns [LZ, NW - TZ) (the others lie outside
// the input row). x[r] -> window column LZ of kernel row r on entry, advanced past the window.
template <int K, int S, int R, int T, int F, int LZ, int TZ>
MGF_ALWAYS_INLINE void mixed_tile(const float** x, const RowWeights<K, R>& wt, const float* bias, float* out) {
  constexpr int HI = Mixed<K, S, T, F>::NW - TZ;
  float32x4_t acc[T];
  MGF_UNROLL for (int i = 0; i < T; ++i) acc[i] = vld1q_f32(bias + 4 * i);
  MGF_UNROLL for (int r = 0; r < R; ++r) {
    if constexpr (HI > LZ) {
      const float*& xr = x[r];
      if constexpr (RowWeights<K, R>::kInRegs) {
        mixed_columns<K, S, T, F, LZ, HI>(acc, wt.w[r], xr);
      } else {
        float32x4_t wr[K];
        load_vectors<K>(wt.rows[r], wr);
        mixed_columns<K, S, T, F, LZ, HI>(acc, wr, xr);
      }
    }
  }
  MGF_UNROLL for (int i = 0; i < T; ++i) vst1q_f32(out + 4 * i, acc[i]);
}

// mixed_tile for the tile whose window column 0 is input column `col` of each row x[r].
template <int K, int S, int R, int T, int F, int LZ, int TZ>
MGF_ALWAYS_INLINE void mixed_tile_at(const float* const* x, int col, const RowWeights<K, R>& wt, const float* bias,
                                     float* out) {
  const float* xw[R > 0 ? R : 1];
  MGF_UNROLL for (int r = 0; r < R; ++r) xw[r] = x[r] + 4 * (col + LZ);
  mixed_tile<K, S, R, T, F, LZ, TZ>(xw, wt, bias, out);
}

// The layout of every output row of a plane.
struct RowLayout {
  int ow, p;
  DwEdges edges;  // window columns the edge tiles leave out (0: no edge tile on that side)
  int f_right;    // column phase of the right edge tile's first output
};

// Left edge tile (outputs 0..3, phase F) leaving out `lz` columns.
template <int K, int S, int R, int F>
inline void mixed_left(const float* const* x, int col, int lz, const RowWeights<K, R>& wt, const float* bias,
                       float* out) {
  constexpr int Q = (K - 1) / S;
  switch (lz) {
    case 1: mixed_tile_at<K, S, R, 4, F, 1, 0>(x, col, wt, bias, out); break;
    case 2: if constexpr (Q >= 2) mixed_tile_at<K, S, R, 4, F, 2, 0>(x, col, wt, bias, out); break;
    case 3: if constexpr (Q >= 3) mixed_tile_at<K, S, R, 4, F, 3, 0>(x, col, wt, bias, out); break;
    case 4: if constexpr (Q >= 4) mixed_tile_at<K, S, R, 4, F, 4, 0>(x, col, wt, bias, out); break;
    default: break;
  }
}

// Right edge tile (outputs ow-4 .. ow-1, phase F) leaving out `tz` columns (up to Q + 1 with
// output padding).
template <int K, int S, int R, int F>
inline void mixed_right(const float* const* x, int col, int tz, const RowWeights<K, R>& wt, const float* bias,
                        float* out) {
  constexpr int Q = (K - 1) / S;
  switch (tz) {
    case 1: mixed_tile_at<K, S, R, 4, F, 0, 1>(x, col, wt, bias, out); break;
    case 2: if constexpr (Q + 1 >= 2) mixed_tile_at<K, S, R, 4, F, 0, 2>(x, col, wt, bias, out); break;
    case 3: if constexpr (Q + 1 >= 3) mixed_tile_at<K, S, R, 4, F, 0, 3>(x, col, wt, bias, out); break;
    case 4: if constexpr (Q + 1 >= 4) mixed_tile_at<K, S, R, 4, F, 0, 4>(x, col, wt, bias, out); break;
    default: break;
  }
}

// One output row: R kernel rows reach it (x: their input rows, w: their [k][4] weight rows);
// F0 = p % S is the column phase of output 0 (and of every tile but the right edge tile).
template <int K, int S, int R, int F0>
void mixed_row(const float* const* x, const float* const* w, const RowLayout& L, const float* bias, float* out) {
  constexpr int Q = (K - 1) / S;
  const RowWeights<K, R> wt(w);
  const int base = (L.p - F0) / S - Q;  // window column 0 of the tile at output 0 (+ ox/S elsewhere)
  int ox = 0;
  if (L.edges.left) {
    mixed_left<K, S, R, F0>(x, base, L.edges.left, wt, bias, out);
    ox = 4;
  }
  const int end = L.edges.right ? L.ow - 4 : L.ow;
  // Every tile start here is even, so every tile has phase F0.
  if (ox + 16 <= end) {
    // 16-output tiles: one window pointer per kernel row walks along the row.
    constexpr int kStep = 16 / S - Mixed<K, S, 16, F0>::NW;  // columns from one window's end to the next's start
    const float* xw[R > 0 ? R : 1];
    MGF_UNROLL for (int r = 0; r < R; ++r) xw[r] = x[r] + 4 * (base + ox / S);
    const int tiles = (end - ox) / 16;
    for (float *o = out + 4 * ox, *o_end = o + 64 * tiles; o != o_end; o += 64) {
      mixed_tile<K, S, R, 16, F0, 0, 0>(xw, wt, bias, o);
      MGF_UNROLL for (int r = 0; r < R; ++r) xw[r] += 4 * kStep;
    }
    ox += 16 * tiles;
  }
  if (ox + 8 <= end) {
    mixed_tile_at<K, S, R, 8, F0, 0, 0>(x, base + ox / S, wt, bias, out + 4 * ox);
    ox += 8;
  }
  if (ox + 4 <= end) {
    mixed_tile_at<K, S, R, 4, F0, 0, 0>(x, base + ox / S, wt, bias, out + 4 * ox);
    ox += 4;
  }
  if (ox + 2 <= end) {
    mixed_tile_at<K, S, R, 2, F0, 0, 0>(x, base + ox / S, wt, bias, out + 4 * ox);
    ox += 2;
  }
  if (ox < end) mixed_tile_at<K, S, R, 1, F0, 0, 0>(x, base + ox / S, wt, bias, out + 4 * ox);
  if (L.edges.right) {
    ox = L.ow - 4;
    const int col = (ox + L.p) / S - Q;
    if (L.f_right == 0)
      mixed_right<K, S, R, 0>(x, col, L.edges.right, wt, bias, out + 4 * ox);
    else if constexpr (S > 1)
      mixed_right<K, S, R, 1>(x, col, L.edges.right, wt, bias, out + 4 * ox);
  }
}

template <int K, int S, int F0>
void mixed_plane(const DwPlaneArgs& a) {
  constexpr int kRows = (K + S - 1) / S;  // kernel rows of the largest row phase
  const int h = a.h, p = a.p;
  RowLayout L;
  L.ow = a.ow;
  L.p = p;
  L.edges = dw_plane_edges(K, S, p, a.w, a.ow);
  L.f_right = (a.ow - 4 + p) % S;
  const size_t row_stride = size_t(a.w) * 4;
  float* out = a.out;
  for (int oy = 0; oy < a.oh; ++oy, out += size_t(a.ow) * 4) {
    // Kernel rows reaching this output row, and their input rows.
    const float* x[kRows];
    const float* w[kRows];
    int rows = 0;
    const int ry = (oy + p) % S, jy = (oy + p) / S;
    for (int k = ry, m = 0; k < K; k += S, ++m)
      if (jy - m >= 0 && jy - m < h) {
        x[rows] = a.in + size_t(jy - m) * row_stride;
        w[rows++] = a.wt + k * K * 4;
      }
    switch (rows) {
      case 0: mixed_row<K, S, 0, F0>(x, w, L, a.bias, out); break;
      case 1: mixed_row<K, S, 1, F0>(x, w, L, a.bias, out); break;
      case 2: if constexpr (kRows >= 2) mixed_row<K, S, 2, F0>(x, w, L, a.bias, out); break;
      case 3: if constexpr (kRows >= 3) mixed_row<K, S, 3, F0>(x, w, L, a.bias, out); break;
      case 4: if constexpr (kRows >= 4) mixed_row<K, S, 4, F0>(x, w, L, a.bias, out); break;
      default: if constexpr (kRows >= 5) mixed_row<K, S, 5, F0>(x, w, L, a.bias, out); break;
    }
  }
}

template <int K, int S>
void mixed_plane(const DwPlaneArgs& a) {
  if (a.p % S == 0)
    mixed_plane<K, S, 0>(a);
  else if constexpr (S > 1)
    mixed_plane<K, S, 1>(a);
}

}  // namespace

bool dw_plane(const DwPlaneArgs& a) {
  if (!dw_plane_covers(a.k, a.s, a.p, a.w, a.ow)) return false;
  switch (a.k * 10 + a.s) {
    case 22: mixed_plane<2, 2>(a); return true;
    case 31: mixed_plane<3, 1>(a); return true;
    case 32: mixed_plane<3, 2>(a); return true;
    case 42: mixed_plane<4, 2>(a); return true;
    case 51: mixed_plane<5, 1>(a); return true;
    case 52: mixed_plane<5, 2>(a); return true;
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
