#include "relayout.h"

#include <cstddef>

#include "geometry.h"

namespace megforge::deconv {

void nchw_to_nc4hw4(const float* src, int32_t n, int32_t c, int32_t h, int32_t w, float* dst) {
  const size_t hw = size_t(h) * w;
  const int32_t blocks = ceil_div(c, 4);
  for (int32_t b = 0; b < n; ++b) {
    for (int32_t cb = 0; cb < blocks; ++cb) {
      float* out = dst + (size_t(b) * blocks + cb) * hw * 4;
      for (int32_t lane = 0; lane < 4; ++lane) {
        const int32_t ch = cb * 4 + lane;
        if (ch < c) {
          const float* in = src + (size_t(b) * c + ch) * hw;
          for (size_t i = 0; i < hw; ++i) out[i * 4 + lane] = in[i];
        } else {
          for (size_t i = 0; i < hw; ++i) out[i * 4 + lane] = 0.f;
        }
      }
    }
  }
}

void nc4hw4_to_nchw(const float* src, int32_t n, int32_t c, int32_t h, int32_t w, float* dst) {
  const size_t hw = size_t(h) * w;
  const int32_t blocks = ceil_div(c, 4);
  for (int32_t b = 0; b < n; ++b) {
    for (int32_t ch = 0; ch < c; ++ch) {
      const float* in = src + (size_t(b) * blocks + ch / 4) * hw * 4 + ch % 4;
      float* out = dst + (size_t(b) * c + ch) * hw;
      for (size_t i = 0; i < hw; ++i) out[i] = in[i * 4];
    }
  }
}

}  // namespace megforge::deconv
