// NCHW <-> NC4HW4 for one image: 4 channel planes interleave into one block with `st4`
// (vst4q_f32 writes lane i of the 4 source vectors as pixel i's 4 channels), and back with `ld4`.
#include "kernels_isa.h"

namespace megforge::deconv::MGF_ISA {

void nchw_to_nc4hw4(const float* src, int32_t c, size_t hw, float* dst) {
  for (int32_t cb = 0; cb * 4 < c; ++cb, dst += hw * 4) {
    const int lanes = c - cb * 4 < 4 ? c - cb * 4 : 4;
    const float* p[4];
    for (int l = 0; l < 4; ++l) p[l] = src + size_t(cb * 4 + (l < lanes ? l : 0)) * hw;
    size_t i = 0;
    if (lanes == 4) {
      for (; i + 4 <= hw; i += 4) {
        float32x4x4_t v;
        v.val[0] = vld1q_f32(p[0] + i); v.val[1] = vld1q_f32(p[1] + i);
        v.val[2] = vld1q_f32(p[2] + i); v.val[3] = vld1q_f32(p[3] + i);
        vst4q_f32(dst + i * 4, v);
      }
    }
    for (; i < hw; ++i)
      for (int l = 0; l < 4; ++l) dst[i * 4 + l] = l < lanes ? p[l][i] : 0.f;
  }
}

void nc4hw4_to_nchw(const float* src, int32_t c, size_t hw, float* dst) {
  for (int32_t cb = 0; cb * 4 < c; ++cb, src += hw * 4) {
    const int lanes = c - cb * 4 < 4 ? c - cb * 4 : 4;
    float* p[4];
    for (int l = 0; l < lanes; ++l) p[l] = dst + size_t(cb * 4 + l) * hw;
    size_t i = 0;
    if (lanes == 4) {
      for (; i + 4 <= hw; i += 4) {
        const float32x4x4_t v = vld4q_f32(src + i * 4);
        vst1q_f32(p[0] + i, v.val[0]); vst1q_f32(p[1] + i, v.val[1]);
        vst1q_f32(p[2] + i, v.val[2]); vst1q_f32(p[3] + i, v.val[3]);
      }
    }
    for (; i < hw; ++i)
      for (int l = 0; l < lanes; ++l) p[l][i] = src[i * 4 + l];
  }
}

}  // namespace megforge::deconv::MGF_ISA
