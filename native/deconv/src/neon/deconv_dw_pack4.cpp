// Depthwise NC4HW4 rows for any geometry (one channel block = 4 channels, one weight vector per
// tap): up to 8 output pixels of one stride phase, `fmla v.4s` per (pixel, tap), on the
// zero-column-padded input of nc4hw4_depthwise.cpp. The common geometries run whole planes
// instead (deconv_dw_plane_pack4.cpp).
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

}  // namespace

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
