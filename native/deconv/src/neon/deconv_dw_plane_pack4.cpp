// Depthwise NC4HW4 output planes for the common geometries (kernels.h: dw_plane_covers), read
// straight from the unpadded input planes. One channel block = 4 channels, one weight vector
// per tap.
//
// Tiles: T consecutive output pixels of a row, mixing the stride phases with a compile-time tap
// pattern per pixel, so one window of input columns per kernel row feeds the whole tile and the
// results leave with contiguous stores. Every row of a plane is cut the same way: into equal
// 14-wide tiles (K = 3, S = 1 and K = 4, S = 2) where the row is a multiple of 14 and that is the
// fewest tiles no wider than 16 (28 = 14 + 14 rather than 8 + 8 + 8 + 4; a 14-wide row in one
// tile with both edges), else
//     [left edge: 16/8/4] [16] [16] ... [8] [4] [2] [1] [right edge: 16/8/4]
// The edge tiles exist only where some of their taps fall outside the input row; those window
// columns are left out at compile time (dw_plane_edges), so there is no input padding, no bounds
// check and no partial store.
//
// Strips: one column tile over all output rows of one row phase (rows S apart, reached by the
// kernel rows ky = phase + S*r), for a chunk of planes. The tile's setup (weights in registers,
// tap pattern, edge masks) is paid once per plane; each row then costs its FMLAs plus
//   accumulators from the bias: T/2 `ldp` (copies of the bias at distinct addresses, so the loads
//   are not merged); results: T/2 `stp`; window: 4 columns per `ld1` per kernel row; a few adds.
// Interior rows (every kernel row's input row exists) walk one pointer per kernel row down the
// plane; for K = 3, S = 1 in row pairs, which share two of their three input rows. A boundary
// row reads a zero row for each input row outside the input (so the tap pattern never changes;
// the plan takes this path only for finite weights, where those products are exact zeros).
// (GCC 12 copies accumulators loaded or stored with ld1/st1 {4 regs} through extra `mov`s, so those
// forms serve the window and the weights only: bench/deconv/README.md gives the resulting bound.)
#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels_isa.h"

namespace megforge::deconv::MGF_ISA {

namespace {

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

// Output rows per strip step: 2 for K = 3, S = 1, where two consecutive output rows share two of
// their three input rows (one window load feeds both; 16 accumulators + 9 weights still fit);
// else 1.
template <int K, int S>
constexpr int kPair = K == 3 && S == 1 ? 2 : 1;
// Widest tile: 16 outputs (edge tiles too); 8 for row pairs; for K = 5, whose 15 or 25 taps per
// output dwarf the per-tile loads and stores, 8 (edge tiles 4).
template <int K, int S>
constexpr int kMaxTile = K == 5 || kPair<K, S> == 2 ? 8 : 16;
template <int K, int S>
constexpr int kMaxEdge = K == 5 ? 4 : kMaxTile<K, S>;
// The equal-cut width (0: none), compiled with every edge combination: for the common decoder
// (k3s1) and bilinear-upsampling (k4s2) geometries, whose rows of 14, 28, 56 .. pixels would
// otherwise end in a narrow tile (three times the other instructions per output of a full one). A 14-wide
// k3s1 tile runs single rows (2 x 14 accumulators do not fit): its 16-column windows are 4 full
// loads per input row, fewer other instructions per output than 8-wide row pairs.
template <int K, int S>
constexpr int kEqualTile = (K == 3 && S == 1) || (K == 4 && S == 2) ? 14 : 0;
template <int K, int S, int T>
constexpr int kPairT = kPair<K, S> == 2 && 2 * T <= 16 ? 2 : 1;

// Window columns read beyond a tile's own, so that its window is whole loads of 4: a 14-wide
// k3s1 tile with its left edge has 15 columns, so it reads one more on the right, the
// neighbouring tile's (column_tiles takes the cut only where that column exists): 1, else 0.
// (With 4+4+4+3 columns GCC 12 adds 2 `mov`s per row to that tile; one more column on the left
// of the right-edge tile made it add 8, so that tile keeps its 15.)
constexpr int window_extra(int k, int s, int t, int lz, int tz) {
  return k == 3 && s == 1 && t == 14 && lz == 1 && tz == 0 ? 1 : 0;
}

// The order of one window group's FMLAs: tap by tap (q up or down, each over the whole tile) or
// output by output. Results depend on it only through rounding (kTapDown sums an output's taps
// in the other order); GCC 12's register allocation of the tile depends on it, measured with
// bench/deconv (profile.py --blocks): k3s1 taps up (14-wide left-edge tile: 5 -> 0 `mov`s per
// row with window_extra) but its right-edge tile output by output (2 -> 1); k4s2 taps down
// (7x7: 55.8% -> 58.4% FMLA); the geometries outside the benchmark keep output order.
enum FmlaOrder { kTapUp, kTapDown, kOutputs };
constexpr FmlaOrder fmla_order(int k, int s, int t, int lz, int tz) {
  if (k == 4 && s == 2) return kTapDown;
  if (k == 3 && s == 1) return t == 14 && lz == 0 && tz == 1 ? kOutputs : kTapUp;
  return kOutputs;
}

// Window columns [C0, HI) of one input row, 4 per load, each group used up before the next is
// loaded; x -> column C0 on entry, advanced past column HI - 1 (post-indexed loads). The row
// feeds output row 0 of the tile through weights wa (if UA) and output row 1 through wb (if UB).
template <int K, int S, int T, int F, int C0, int HI, bool UA, bool UB, int RB, FmlaOrder Ord>
MGF_ALWAYS_INLINE void mixed_columns(float32x4_t (&acc)[RB][T], const float32x4_t (&wa)[K], const float32x4_t (&wb)[K],
                                     const float*& x) {
  using M = Mixed<K, S, T, F>;
  constexpr int N = HI - C0 < 4 ? HI - C0 : 4;
  float32x4_t win[N];
  load_vectors<N>(x, win);
  x = advance(x, 4 * N);
  constexpr bool kByOutput = Ord == kOutputs;
  MGF_UNROLL for (int a1 = 0; a1 < (kByOutput ? T : M::Q + 1); ++a1) {
    MGF_UNROLL for (int a2 = 0; a2 < (kByOutput ? M::Q + 1 : T); ++a2) {
      const int i = kByOutput ? a1 : a2, j = kByOutput ? a2 : a1;
      const int q = Ord == kTapDown ? M::Q - j : j;
      const int t = M::col(i, q) - C0;
      if (M::tap(i, q) < K && t >= 0 && t < N) {
        if constexpr (UA) acc[0][i] = vfmaq_f32(acc[0][i], win[t], wa[M::tap(i, q)]);
        if constexpr (UB && RB > 1) acc[RB - 1][i] = vfmaq_f32(acc[RB - 1][i], win[t], wb[M::tap(i, q)]);
      }
    }
  }
  if constexpr (C0 + 4 < HI) mixed_columns<K, S, T, F, C0 + 4, HI, UA, UB, RB, Ord>(acc, wa, wb, x);
}

// Input rows U .. R of a row pair (input row U feeds row 0 through kernel row U - 1, row 1
// through kernel row U), each pointer moved on by its step after its window.
template <int K, int S, int R, int T, int F, int LZ, int HI, FmlaOrder Ord, int U>
MGF_ALWAYS_INLINE void pair_rows(float32x4_t (&acc)[2][T], const float32x4_t (&wk)[R][K], const float* (&xr)[R + 1],
                                 ptrdiff_t step) {
  constexpr int MA = U >= 1 ? U - 1 : 0, MB = U < R ? U : 0;
  mixed_columns<K, S, T, F, LZ, HI, (U >= 1), (U < R), 2, Ord>(acc, wk[MA], wk[MB], xr[U]);
  xr[U] += step;
  if constexpr (U < R) pair_rows<K, S, R, T, F, LZ, HI, Ord, U + 1>(acc, wk, xr, step);
}

// One strip: a column tile of the n output rows of one row phase (out_rows floats apart), in
// each of `planes` consecutive planes (in_plane / K*K*4 / 64 / out_plane floats apart). Kernel row
// r (weights w + r*S*K*4, [K][4]) of output row i reads input row jy0 + i - r at column `col`
// (the tile's window column LZ). An input row outside [0, h) reads `zeros` instead: the tap
// pattern stays the same on every row (the plan takes this path only for finite weights, so the
// products are exact zeros).
struct StripArgs {
  const float* in;     // plane 0, row 0, column 0
  const float* w;
  const float* zeros;  // >= w*4 zero floats
  const float* bias;   // 64 floats per plane: the block's bias 16 times
  float* out;          // plane 0, the strip's first output
  ptrdiff_t col, in_row, in_plane, out_rows, out_plane;
  int jy0, h, planes, n;
};
using StripFn = void (*)(const StripArgs&);

// The tile of a strip with R kernel rows, reading window columns [LZ, NW - TZ) (the others fall
// outside the input row). Weights stay in registers for a whole plane where they fit beside the
// tile (R*K <= 12), else they are loaded per output row, one kernel row at a time. Rows run in
// runs that share one input-row pattern: every run of interior rows (all R input rows exist)
// walks its input-row pointers down the plane, in row pairs where kPair says so; each boundary
// row is a run of its own.
template <int K, int S, int R, int T, int F, int LZ, int TZ>
void mixed_strip(const StripArgs& a) {
  constexpr FmlaOrder kOrd = fmla_order(K, S, T, LZ, TZ);
  constexpr int LO = LZ, HI = Mixed<K, S, T, F>::NW - TZ + window_extra(K, S, T, LZ, TZ);  // columns loaded
  constexpr bool kInRegs = R * K <= 12;
  constexpr ptrdiff_t kRowW = S * K * 4, kWindow = 4 * (HI - LO);
  const ptrdiff_t in_row = a.in_row, out_rows = a.out_rows;
  const int h = a.h, n = a.n, jy0 = a.jy0;
  const float* const zeros = a.zeros;
  for (int c = 0; c < a.planes; ++c) {
    const float* const wt = a.w + c * ptrdiff_t(K * K * 4);
    const float* const in = a.in + c * a.in_plane + a.col;
    const float* const bias = a.bias + c * 64;
    float* out = a.out + c * a.out_plane;
    float32x4_t wk[kInRegs ? R : 1][K];
    if constexpr (kInRegs) {
      MGF_UNROLL for (int r = 0; r < R; ++r) MGF_UNROLL for (int t = 0; t < K; ++t) wk[r][t] = vld1q_f32(wt + r * kRowW + 4 * t);
    }
    for (int i = 0; i < n;) {
      const int jy = jy0 + i;
      const bool interior = jy - (R - 1) >= 0 && jy < h;
      const int run = interior ? std::min(n - i, h - jy) : 1;
      if constexpr (kPairT<K, S, T> == 2) {
        if (run >= 2) {  // pairs: input rows jy + 1 - u, u = 0 .. R, two output rows per step
          const float* xr[R + 1];
          MGF_UNROLL for (int u = 0; u <= R; ++u) xr[u] = in + (jy + 1 - u) * in_row;
          const int pairs = run / 2;
          for (int k = 0; k < pairs; ++k, out += 2 * out_rows) {
            float32x4_t acc[2][T];
            const float* b = advance(bias, 0);  // (opaque, so GCC keeps one base and pairs the loads)
            MGF_UNROLL for (int t = 0; t < T; ++t) acc[0][t] = vld1q_f32(b + 4 * t);
            static_assert(2 * T <= 16, "row pairs start from 2*T of the 16 bias copies");
            MGF_UNROLL for (int t = 0; t < T; ++t) acc[1][t] = vld1q_f32(b + 4 * (T + t));
            pair_rows<K, S, R, T, F, LO, HI, kOrd, 0>(acc, wk, xr, 2 * in_row - kWindow);
            float* o1 = advance(out, out_rows);
            MGF_UNROLL for (int t = 0; t < T; ++t) vst1q_f32(out + 4 * t, acc[0][t]);
            MGF_UNROLL for (int t = 0; t < T; ++t) vst1q_f32(o1 + 4 * t, acc[1][t]);
          }
          i += 2 * pairs;
          continue;
        }
      }
      const float* xr[R];
      ptrdiff_t step[R];  // from the end of one window to the start of the next
      MGF_UNROLL for (int r = 0; r < R; ++r) {
        const bool real = jy - r >= 0 && jy - r < h;
        xr[r] = real ? in + (jy - r) * in_row : zeros;
        step[r] = real ? in_row - kWindow : -kWindow;
      }
      // Where row pairs exist, a boundary row leaves out the kernel rows that read the zero row
      // (decided per row run, so interior runs of single rows pay no test).
      auto rows = [&](auto skip_zeros) {
        for (float* const end = out + run * out_rows; out != end; out += out_rows) {
          float32x4_t acc[1][T];
          const float* b = advance(bias, 0);
          MGF_UNROLL for (int t = 0; t < T; ++t) acc[0][t] = vld1q_f32(b + 4 * t);
          MGF_UNROLL for (int r = 0; r < R; ++r) {
            if (decltype(skip_zeros)::value && xr[r] == zeros) continue;
            if constexpr (kInRegs) {
              mixed_columns<K, S, T, F, LO, HI, true, false, 1, kOrd>(acc, wk[r], wk[r], xr[r]);
            } else {
              float32x4_t wrow[K];
              MGF_UNROLL for (int t = 0; t < K; ++t) wrow[t] = vld1q_f32(wt + r * kRowW + 4 * t);
              mixed_columns<K, S, T, F, LO, HI, true, false, 1, kOrd>(acc, wrow, wrow, xr[r]);
            }
            xr[r] += step[r];
          }
          MGF_UNROLL for (int t = 0; t < T; ++t) vst1q_f32(out + 4 * t, acc[0][t]);
        }
      };
      if (kPair<K, S> == 2 && !interior)
        rows(std::true_type{});
      else
        rows(std::false_type{});
      i += run;
    }
  }
}

// The strip function for a tile of width T, phase F, leaving out lz (<= Q) or tz (<= Q + 1, with
// output padding) window columns; nullptr for a combination that is not compiled.
template <int K, int S, int R, int T, int F, int LZ = 0>
StripFn strip_fn_both(int lz, int tz) {
  constexpr int Q = (K - 1) / S;
  if (lz != LZ) {
    if constexpr (LZ < Q) return strip_fn_both<K, S, R, T, F, LZ + 1>(lz, tz);
    return nullptr;
  }
  switch (tz) {
    case 0: return &mixed_strip<K, S, R, T, F, LZ, 0>;
    case 1: return &mixed_strip<K, S, R, T, F, LZ, 1>;
    case 2: if constexpr (Q + 1 >= 2) return &mixed_strip<K, S, R, T, F, LZ, 2>; break;
    case 3: if constexpr (Q + 1 >= 3) return &mixed_strip<K, S, R, T, F, LZ, 3>; break;
    default: break;
  }
  return nullptr;
}

template <int K, int S, int R, int T, int F>
StripFn strip_fn_tf(int lz, int tz) {
  constexpr int Q = (K - 1) / S;
  if constexpr (T == kEqualTile<K, S>) return strip_fn_both<K, S, R, T, F>(lz, tz);
  if (lz == 0 && tz == 0) return &mixed_strip<K, S, R, T, F, 0, 0>;
  if constexpr (T >= 4 && T <= kMaxEdge<K, S>) {
    if (tz == 0) {
      switch (lz) {
        case 1: return &mixed_strip<K, S, R, T, F, 1, 0>;
        case 2: if constexpr (Q >= 2) return &mixed_strip<K, S, R, T, F, 2, 0>; break;
        case 3: if constexpr (Q >= 3) return &mixed_strip<K, S, R, T, F, 3, 0>; break;
        case 4: if constexpr (Q >= 4) return &mixed_strip<K, S, R, T, F, 4, 0>; break;
        default: break;
      }
    } else if (lz == 0) {
      switch (tz) {
        case 1: return &mixed_strip<K, S, R, T, F, 0, 1>;
        case 2: if constexpr (Q + 1 >= 2) return &mixed_strip<K, S, R, T, F, 0, 2>; break;
        case 3: if constexpr (Q + 1 >= 3) return &mixed_strip<K, S, R, T, F, 0, 3>; break;
        case 4: if constexpr (Q + 1 >= 4) return &mixed_strip<K, S, R, T, F, 0, 4>; break;
        case 5: if constexpr (Q + 1 >= 5) return &mixed_strip<K, S, R, T, F, 0, 5>; break;
        default: break;
      }
    }
  }
  return nullptr;
}

template <int K, int S, int R, int F>
StripFn strip_fn_f(int t, int lz, int tz) {
  switch (t) {
    case 16: if constexpr (kMaxTile<K, S> >= 16) return strip_fn_tf<K, S, R, 16, F>(lz, tz); break;
    case 14: if constexpr (kEqualTile<K, S> == 14) return strip_fn_tf<K, S, R, 14, F>(lz, tz); break;
    case 8: return strip_fn_tf<K, S, R, 8, F>(lz, tz);
    case 4: return strip_fn_tf<K, S, R, 4, F>(lz, tz);
    case 2: return strip_fn_tf<K, S, R, 2, F>(lz, tz);
    case 1: return strip_fn_tf<K, S, R, 1, F>(lz, tz);
    default: break;
  }
  return nullptr;
}

// The column tiles of every output row: [ox, ox + t) with phase f, window column 0 at input
// column col, leaving out lz / tz window columns.
struct ColumnTile {
  int ox, t, f, col, lz, tz;
};

template <int K, int S, int R>
StripFn strip_fn(const ColumnTile& t) {
  if (t.f == 0) return strip_fn_f<K, S, R, 0>(t.t, t.lz, t.tz);
  if constexpr (S > 1) return strip_fn_f<K, S, R, 1>(t.t, t.lz, t.tz);
  return nullptr;
}

// The tile [ox, ox + t): its phase, its window's input column 0, and the window columns left out
// at either end because they fall outside the input row.
template <int K, int S>
ColumnTile column_tile(int ox, int t, int p, int w) {
  constexpr int Q = (K - 1) / S;
  const int f = (ox + p) % S, col = (ox + p) / S - Q, nw = (f + t - 1) / S + Q + 1;
  return {ox, t, f, col, std::max(0, -col), std::max(0, col + nw - w)};
}

// Kernel rows of row phase ry (ky = ry + S*r); at least 1, so a phase without rows (K < S) still
// names a compiled strip.
template <int K, int S>
constexpr int kRows(int ry) {
  return ry == 0 ? (K + S - 1) / S : std::max(1, K / S);
}

// The strip function of tile t in row phase ry; nullptr where that tile is not compiled.
template <int K, int S>
StripFn phase_strip_fn(int ry, const ColumnTile& t) {
  if (ry == 0) return strip_fn<K, S, kRows<K, S>(0)>(t);
  return strip_fn<K, S, kRows<K, S>(1)>(t);
}

// The equal cut where kEqualTile applies and every one of its tiles is compiled for both row
// phases; else the widest edge tiles that keep to their own side (width 4 always does:
// dw_plane_covers), kMaxTile-wide tiles between them, then 8, 4, 2, 1.
template <int K, int S>
std::vector<ColumnTile> column_tiles(int p, int w, int ow) {
  constexpr int Q = (K - 1) / S;
  constexpr int E = kEqualTile<K, S>;
  std::vector<ColumnTile> tiles;
  if (E && ow % E == 0 && ow / E == (ow + 15) / 16) {
    bool ok = true;
    for (int ox = 0; ox < ow && ok; ox += E) {
      tiles.push_back(column_tile<K, S>(ox, E, p, w));
      const ColumnTile& t = tiles.back();
      for (int ry = 0; ry < S; ++ry) ok = ok && phase_strip_fn<K, S>(ry, t) != nullptr;
      const int nw = (t.f + E - 1) / S + Q + 1;  // window columns; the extra ones must exist
      ok = ok && t.col + nw - t.tz + window_extra(K, S, E, t.lz, t.tz) <= w;
    }
    if (ok) return tiles;
    tiles.clear();
  }
  const DwEdges e = dw_plane_edges(K, S, p, w, ow);
  auto add = [&](int ox, int t, int lz, int tz) { tiles.push_back({ox, t, (ox + p) % S, (ox + p) / S - Q, lz, tz}); };
  int left = 0, right = 0;
  for (int t : {16, 8, 4})
    if (!left && e.left && t <= kMaxEdge<K, S> && t + 4 * (e.right > 0) <= ow && (t - 1 + p) / S <= w - 1) left = t;
  for (int t : {16, 8, 4})
    if (!right && e.right && t <= kMaxEdge<K, S> && left + t <= ow && (ow - t + p) / S - Q >= 0) right = t;
  if (left) add(0, left, e.left, 0);
  int ox = left;
  const int end = ow - right;
  for (; ox + kMaxTile<K, S> <= end; ox += kMaxTile<K, S>) add(ox, kMaxTile<K, S>, 0, 0);
  for (int t : {8, 4, 2, 1})
    if (t < kMaxTile<K, S> && ox + t <= end) add(ox, t, 0, 0), ox += t;
  if (right) add(ow - right, right, 0, e.right);
  return tiles;
}

// The strips of one output plane: one per (row phase, column tile).
struct Strip {
  StripFn fn;
  ptrdiff_t col, w, out;  // floats: input column, weights of the phase's first kernel row, first output
  int jy0, n;
};

template <int K, int S>
std::vector<Strip> plane_strips(int w, int oh, int ow, int p) {
  const ptrdiff_t out_row = ptrdiff_t(ow) * 4;
  const std::vector<ColumnTile> tiles = column_tiles<K, S>(p, w, ow);
  std::vector<Strip> plan;
  for (int ry = 0; ry < S; ++ry) {
    const int oy = ((ry - p) % S + S) % S;  // first output row of the phase; ky = ry + S*r
    if (oy >= oh) continue;
    const int n = (oh - oy + S - 1) / S;
    for (const ColumnTile& t : tiles) {
      Strip st;
      st.fn = phase_strip_fn<K, S>(ry, t);
      st.col = 4 * (t.col + t.lz);
      st.w = ptrdiff_t(ry) * K * 4;
      st.out = oy * out_row + 4 * t.ox;
      st.jy0 = (oy + p) / S;
      st.n = n;
      plan.push_back(st);
    }
  }
  return plan;
}

// Planes in chunks of about 128 KiB of input + output, each chunk through every strip.
template <int K, int S>
void mixed_planes(const DwPlaneArgs& a) {
  const std::vector<Strip> plan = plane_strips<K, S>(a.w, a.oh, a.ow, a.p);
  const std::vector<float> zeros(size_t(a.w) * 4, 0.f);
  StripArgs s;
  s.zeros = zeros.data();
  s.in_row = ptrdiff_t(a.w) * 4;
  s.in_plane = ptrdiff_t(a.h) * s.in_row;
  s.out_rows = ptrdiff_t(S) * a.ow * 4;
  s.out_plane = ptrdiff_t(a.oh) * a.ow * 4;
  s.h = a.h;
  const int chunk = int(std::max<ptrdiff_t>(1, 32768 / (s.in_plane + s.out_plane)));
  for (int c0 = 0; c0 < a.planes; c0 += chunk) {
    s.planes = std::min(chunk, a.planes - c0);
    s.in = a.in + c0 * s.in_plane;
    s.bias = a.bias + size_t(c0) * 64;
    for (const Strip& st : plan) {
      s.w = a.wt + size_t(c0) * K * K * 4 + st.w;
      s.out = a.out + c0 * s.out_plane + st.out;
      s.col = st.col;
      s.jy0 = st.jy0;
      s.n = st.n;
      st.fn(s);
    }
  }
}

// Calls f(K, S) (std::integral_constant arguments) for the (k, s) the plane kernels are compiled
// for; false for any other.
template <class F>
bool with_kernel_stride(int k, int s, F&& f) {
  using std::integral_constant;
  switch (k * 10 + s) {
    case 22: f(integral_constant<int, 2>{}, integral_constant<int, 2>{}); return true;
    case 31: f(integral_constant<int, 3>{}, integral_constant<int, 1>{}); return true;
    case 32: f(integral_constant<int, 3>{}, integral_constant<int, 2>{}); return true;
    case 42: f(integral_constant<int, 4>{}, integral_constant<int, 2>{}); return true;
    case 51: f(integral_constant<int, 5>{}, integral_constant<int, 1>{}); return true;
    case 52: f(integral_constant<int, 5>{}, integral_constant<int, 2>{}); return true;
    default: return false;
  }
}

}  // namespace

int dw_plane_tile_widths(int k, int s, int p, int w, int ow, int* widths, int cap) {
  if (!dw_plane_covers(k, s, p, w, ow)) return 0;
  std::vector<ColumnTile> tiles;
  with_kernel_stride(k, s, [&](auto K, auto S) {
    tiles = column_tiles<decltype(K)::value, decltype(S)::value>(p, w, ow);
  });
  for (size_t i = 0; i < tiles.size() && int(i) < cap; ++i) widths[i] = tiles[i].t;
  return int(tiles.size());
}

bool dw_plane(const DwPlaneArgs& a) {
  if (!dw_plane_covers(a.k, a.s, a.p, a.w, a.ow)) return false;
  return with_kernel_stride(a.k, a.s, [&](auto K, auto S) { mixed_planes<decltype(K)::value, decltype(S)::value>(a); });
}

}  // namespace megforge::deconv::MGF_ISA
