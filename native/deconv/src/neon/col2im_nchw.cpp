// NCHW col2im, as MegEngine's fallback deconvolution does it: for every (output channel, ky, kx)
// row of the GEMM result, add each input row's span into the output row it lands on. The span
// is contiguous in col; in the output it steps by the stride (stride 1: contiguous, vectorised
// by the compiler; otherwise a strided scalar loop).
#include "kernels_isa.h"

namespace megforge::deconv::MGF_ISA {

namespace {

// First / one-past-last input column whose output column o = ix*s - p + k*d lies in [0, out).
inline void valid_span(int in, int out, int s, int p, int kd, int& lo, int& hi) {
  const int first = p - kd;  // ix*s >= first
  lo = first <= 0 ? 0 : (first + s - 1) / s;
  const int last = out - 1 + p - kd;  // ix*s <= last
  hi = last < 0 ? 0 : last / s + 1;
  if (hi > in) hi = in;
  if (lo > hi) lo = hi;
}

}  // namespace

void col2im_nchw(const Col2imArgs& a) {
  const size_t plane = size_t(a.oh) * a.ow;
  for (int oc = a.oc_begin; oc < a.oc_end; ++oc) {
    float* out = a.out + oc * plane;
    for (int ky = 0; ky < a.kh; ++ky) {
      int iy_lo, iy_hi;
      valid_span(a.h, a.oh, a.sh, a.ph, ky * a.dh, iy_lo, iy_hi);
      if (iy_lo < a.iy0) iy_lo = a.iy0;
      if (iy_hi > a.iy1) iy_hi = a.iy1;
      for (int kx = 0; kx < a.kw; ++kx) {
        const float* col = a.col + ((size_t(oc) * a.kh + ky) * a.kw + kx) * a.ldcol;
        int ix_lo, ix_hi;
        valid_span(a.w, a.ow, a.sw, a.pw, kx * a.dw, ix_lo, ix_hi);
        const int n = ix_hi - ix_lo;
        if (n <= 0) continue;
        for (int iy = iy_lo; iy < iy_hi; ++iy) {
          const float* src = col + size_t(iy - a.iy0) * a.w + ix_lo;
          float* dst = out + size_t(iy * a.sh - a.ph + ky * a.dh) * a.ow + (ix_lo * a.sw - a.pw + kx * a.dw);
          if (a.sw == 1) {
            for (int i = 0; i < n; ++i) dst[i] += src[i];
          } else {
            const int s = a.sw;
            for (int i = 0; i < n; ++i) dst[i * s] += src[i];
          }
        }
      }
    }
  }
}

}  // namespace megforge::deconv::MGF_ISA
