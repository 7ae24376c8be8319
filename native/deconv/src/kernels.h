// The compute routines every ISA variant provides (NEON source; arm64 natively, x86 through
// SIMDe as an SSE2 and an AVX2+FMA build), and the table that picks one variant at run time.
// Orchestration (weight packing, padding, threading) lives in ISA-neutral files and calls
// these through kernel_table(). Arguments are plain structs: layouts are stated per field.
#pragma once

#include <cstddef>
#include <cstdint>

namespace megforge::deconv {

// One run of `count` output pixels of a dense NC4HW4 convolution (a stride phase, or a GEMM row):
//   out[b][j] = bias[b] + sum_t sum_i W_t[i] (4x4 per block b) * x_t[i][j],   j in [0, count)
// x[t] + i*x_icb_stride + 4*j  -> input pixel j of channel block i for tap t (4 lanes)
// w[t] + (i*4 + lane)*4*ocb + 4*b -> the 4 output channels of block b fed by input lane `lane`
// out + b*out_ocb_stride + j*out_px_stride -> output pixel j of block b (4 lanes)
struct DenseRowArgs {
  int ntaps;
  const float* const* x;
  const float* const* w;
  int icb;                 // input channel blocks summed per tap
  ptrdiff_t x_icb_stride;  // floats
  int ocb;                 // output channel blocks: 1 or 2
  const float* bias;       // 4*ocb floats
  int count;
  float* out;
  ptrdiff_t out_px_stride, out_ocb_stride;  // floats
};

// One run of `count` output pixels of a depthwise NC4HW4 convolution (one channel block):
//   out[j] = bias + sum_t w[t] (4 lanes) * x[t][4*j ..]
struct DwRowArgs {
  int ntaps;
  const float* const* x;
  const float* const* w;
  const float* bias;  // 4 floats
  int count;
  float* out;
  ptrdiff_t out_px_stride;  // floats
};

// Consecutive depthwise NC4HW4 output planes (one image, consecutive channel blocks), read
// straight from the unpadded input planes, when dw_plane_covers() holds: dilation 1, square
// kernel and stride with (k, s) in {(2,2), (3,1), (3,2), (4,2), (5,1), (5,2)}, square padding,
// and rows wide enough for the edge tiles. Tiles of consecutive output pixels mix the stride
// phases (neon/deconv_dw_plane_pack4.cpp). Lanes past C must be zero in `in` (the caller cleans
// a partial block). Returns false (nothing written) for a geometry it does not cover.
struct DwPlaneArgs {
  const float* in;    // planes x (h, w, 4)
  const float* wt;    // planes x [k][k][4]
  const float* bias;  // planes x (the block's 4 bias values, repeated 16 times: 64 floats)
  float* out;         // planes x (oh, ow, 4)
  int planes;
  int h, w, oh, ow, k, s, p;
};

// Window columns the dw_plane edge tiles leave out because they fall outside the input row:
// `left` at the start of the tile that begins at output 0, `right` at the end of the tile that
// ends at output ow - 1 (0: no edge tile on that side). Output ox reads input columns
// (ox + p)/s - q, q = 0 .. (k-1)/s. dw_plane_covers: 4-wide edge tiles fit, each missing
// columns on its own side only.
struct DwEdges {
  int left, right;
};
inline DwEdges dw_plane_edges(int k, int s, int p, int w, int ow) {
  const int q = (k - 1) / s;
  const int left = q - p / s, right = (ow - 1 + p) / s - (w - 1);
  return {left > 0 ? left : 0, right > 0 ? right : 0};
}
inline bool dw_plane_covers(int k, int s, int p, int w, int ow) {
  const bool ks = (k == 2 && s == 2) || (k == 3 && (s == 1 || s == 2)) || (k == 4 && s == 2) ||
                  (k == 5 && (s == 1 || s == 2));
  if (!ks || p < 0) return false;
  const DwEdges e = dw_plane_edges(k, s, p, w, ow);
  const int q = (k - 1) / s;
  if (ow < 4 * ((e.left > 0) + (e.right > 0))) return false;
  if (e.left && (3 + p) / s > w - 1) return false;
  if (e.right && (ow - 4 + p) / s - q < 0) return false;
  return true;
}

// NCHW col2im of one chunk of input rows [iy0, iy1) for local output channels [oc_begin, oc_end):
//   out[oc][oy][ox] += col[(oc*kh + ky)*kw + kx][(iy - iy0)*w + ix]   (oy = iy*sh - ph + ky*dh, ...)
struct Col2imArgs {
  const float* col;
  ptrdiff_t ldcol;  // floats per col row (= (iy1 - iy0) * w)
  int oc_begin, oc_end;
  float* out;  // plane of local output channel 0: (oh, ow)
  int iy0, iy1, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
};

// Panel widths of the packed GEMM B operand: 12 while possible, then 8 or 4 (zero-padded).
static inline int sgemm_panel_width(int remaining) { return remaining > 8 ? 12 : remaining > 4 ? 8 : 4; }

struct KernelTable {
  const char* isa;  // "neon", "sse2", "avx2"
  void (*dense_row)(const DenseRowArgs&);
  void (*dw_row)(const DwRowArgs&);
  bool (*dw_plane)(const DwPlaneArgs&);
  // B (k x n, row stride ldb) -> panels [panel][k][width] (widths per sgemm_panel_width).
  void (*sgemm_pack_b)(const float* b, ptrdiff_t ldb, int k, int n, float* packed);
  // C[rows<=8][n] = A_panel ([k][8]) x B_packed; C row stride ldc.
  void (*sgemm_8xn)(int k, const float* a_panel, const float* b_packed, int n, float* c, ptrdiff_t ldc, int rows);
  void (*col2im_nchw)(const Col2imArgs&);
  // One image: NCHW (c, hw) <-> NC4HW4 (ceil(c/4), hw, 4); padding lanes written as zero.
  void (*nchw_to_nc4hw4)(const float* src, int32_t c, size_t hw, float* dst);
  void (*nc4hw4_to_nchw)(const float* src, int32_t c, size_t hw, float* dst);
};

// The variant for this CPU: arm64 -> neon; x86 -> avx2 when the CPU has AVX2+FMA, else sse2.
// MGF_DECONV_ISA=<name> (read once) forces an available variant (tests, benchmarks).
const KernelTable& kernel_table();

}  // namespace megforge::deconv
