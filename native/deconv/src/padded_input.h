// Per-call copy of an NC4HW4 input into the layout the NC4HW4 phase kernels read:
// (n, h, cb, pad_l + w + pad_r, 4) with zero columns on both sides. Rows stay unpadded (the
// kernels skip taps whose input row falls outside [0, h)); zero columns let one run of output
// pixels read every tap without bounds checks. Channel blocks of a row sit together, so the
// taps of one output row read a few contiguous slabs. Lanes past `channels` (which callers may
// leave as garbage) are written as zeros.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>

#include "parallel.h"

namespace megforge::deconv {

struct PaddedInput {
  int32_t h = 0, cb = 0, pad_l = 0, wp = 0;
  std::unique_ptr<float[]> data;

  size_t row_stride() const { return size_t(cb) * wp * 4; }  // floats between input rows
  size_t block_stride() const { return size_t(wp) * 4; }     // floats between channel blocks
  // Pixel (iy, ix) of block b in image n; ix may be in [-pad_l, w + pad_r).
  const float* at(int32_t n, int32_t iy, int32_t b, int32_t ix) const {
    return data.get() + (size_t(n) * h + iy) * row_stride() + size_t(b) * block_stride() + size_t(pad_l + ix) * 4;
  }

  PaddedInput(const float* src, int32_t n, int32_t channels, int32_t height, int32_t width, int32_t left,
              int32_t right)
      : h(height), cb((channels + 3) / 4), pad_l(left), wp(left + width + right),
        data(new float[size_t(n) * height * size_t((channels + 3) / 4) * (left + width + right) * 4]) {
    const int32_t last_lanes = channels - (cb - 1) * 4;
    const size_t in_row = size_t(width) * 4;
    parallel_for(int64_t(n) * h, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t b = row / h, iy = row % h;
        float* dst = data.get() + size_t(row) * row_stride();
        for (int32_t c = 0; c < cb; ++c, dst += block_stride()) {
          const float* s = src + ((size_t(b) * cb + c) * h + iy) * in_row;
          std::memset(dst, 0, sizeof(float) * 4 * size_t(pad_l));
          std::memcpy(dst + 4 * size_t(pad_l), s, sizeof(float) * in_row);
          std::memset(dst + 4 * size_t(pad_l) + in_row, 0, sizeof(float) * 4 * size_t(right));
          if (c == cb - 1 && last_lanes < 4)
            for (int32_t ix = 0; ix < width; ++ix)
              for (int32_t l = last_lanes; l < 4; ++l) dst[4 * size_t(pad_l + ix) + l] = 0.f;
        }
      }
    });
  }
};

}  // namespace megforge::deconv
