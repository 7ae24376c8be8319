// NCHW <-> NC4HW4 relayout. NC4HW4 = (N, ceil(C/4), H, W, 4): channel c at block c/4, lane c%4.
#pragma once

#include <cstdint>

namespace megforge::deconv {

// Pads the lanes past c with zeros.
void nchw_to_nc4hw4(const float* src, int32_t n, int32_t c, int32_t h, int32_t w, float* dst);
// Ignores the lanes past c.
void nc4hw4_to_nchw(const float* src, int32_t n, int32_t c, int32_t h, int32_t w, float* dst);

}  // namespace megforge::deconv
