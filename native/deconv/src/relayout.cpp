#include "relayout.h"

#include <cstddef>

#include "geometry.h"
#include "kernels.h"
#include "parallel.h"

namespace megforge::deconv {

void nchw_to_nc4hw4(const float* src, int32_t n, int32_t c, int32_t h, int32_t w, float* dst) {
  const size_t hw = size_t(h) * w, blocks = size_t(ceil_div(c, 4));
  const KernelTable& kt = kernel_table();
  parallel_for(n, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) kt.nchw_to_nc4hw4(src + size_t(b) * c * hw, c, hw, dst + size_t(b) * blocks * hw * 4);
  });
}

void nc4hw4_to_nchw(const float* src, int32_t n, int32_t c, int32_t h, int32_t w, float* dst) {
  const size_t hw = size_t(h) * w, blocks = size_t(ceil_div(c, 4));
  const KernelTable& kt = kernel_table();
  parallel_for(n, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) kt.nc4hw4_to_nchw(src + size_t(b) * blocks * hw * 4, c, hw, dst + size_t(b) * c * hw);
  });
}

}  // namespace megforge::deconv
