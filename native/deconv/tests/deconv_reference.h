// Test oracle: float64 transposed convolution in *gather* form (each output pixel sums the
// input pixels that reach it), written independently of the scatter-form kernels under test.
#pragma once

#include <cstdint>
#include <vector>

#include "megforge/deconv.h"

namespace megforge::test {

// x: NCHW (n, C_in, h, w); weight (C_in, C_out/g, KH, KW); returns NCHW (n, C_out, oh, ow).
inline std::vector<double> deconv_reference(const mgf_deconv_desc& d, const std::vector<float>& x, int32_t n,
                                            int32_t h, int32_t w, const std::vector<float>& weight,
                                            const float* bias, int32_t oh, int32_t ow) {
  const int32_t icg = d.in_channels / d.groups, ocg = d.out_channels / d.groups;
  std::vector<double> out(size_t(n) * d.out_channels * oh * ow);
  for (int32_t b = 0; b < n; ++b)
    for (int32_t oc = 0; oc < d.out_channels; ++oc) {
      const int32_t g = oc / ocg, o = oc % ocg;
      for (int32_t y = 0; y < oh; ++y)
        for (int32_t xo = 0; xo < ow; ++xo) {
          double acc = bias ? bias[oc] : 0.0;
          for (int32_t ky = 0; ky < d.kernel_h; ++ky) {
            const int32_t ty = y + d.pad_h - ky * d.dilation_h;
            if (ty < 0 || ty % d.stride_h != 0 || ty / d.stride_h >= h) continue;
            for (int32_t kx = 0; kx < d.kernel_w; ++kx) {
              const int32_t tx = xo + d.pad_w - kx * d.dilation_w;
              if (tx < 0 || tx % d.stride_w != 0 || tx / d.stride_w >= w) continue;
              for (int32_t i = 0; i < icg; ++i) {
                const int32_t ic = g * icg + i;
                const double xv = x[((size_t(b) * d.in_channels + ic) * h + ty / d.stride_h) * w + tx / d.stride_w];
                const double wv = weight[((size_t(ic) * ocg + o) * d.kernel_h + ky) * d.kernel_w + kx];
                acc += xv * wv;
              }
            }
          }
          out[((size_t(b) * d.out_channels + oc) * oh + y) * ow + xo] = acc;
        }
    }
  return out;
}

}  // namespace megforge::test
