// Scalar reference transposed convolution (the oracle for every optimised kernel).
// Scatter form: each input pixel adds weight * x into a kernel-sized window of the output.
// Reads and writes NCHW or NC4HW4 directly through index helpers; parallel over (batch, C_out).
#include <cstring>
#include <vector>

#include "kernel.h"
#include "parallel.h"

namespace megforge::deconv {

namespace {

// Offset of element (b, c, y, x) of a (n, channels, h, w) tensor in `layout`.
inline size_t offset(int layout, int32_t channels, int32_t h, int32_t w, int32_t b, int32_t c, int32_t y, int32_t x) {
  if (layout == MGF_LAYOUT_NC4HW4) {
    const size_t blocks = size_t(ceil_div(channels, 4));
    return (((size_t(b) * blocks + c / 4) * h + y) * w + x) * 4 + c % 4;
  }
  return ((size_t(b) * channels + c) * h + y) * w + x;
}

class NaiveKernel final : public Kernel {
 public:
  NaiveKernel(const Geometry& g, const float* weight, const float* bias)
      : g_(g), weight_(weight, weight + g.weight_elems()), bias_(bias ? bias : nullptr, bias ? bias + g.d.out_channels : nullptr) {}

  int algo() const override { return MGF_ALGO_NAIVE; }
  bool accepts_layout(int) const override { return true; }
  int preferred_layout() const override { return MGF_LAYOUT_NCHW; }
  const char* name(int32_t, int32_t) const override { return "naive-scatter"; }

  void run(int layout, const float* src, int32_t n, int32_t h, int32_t w, float* dst, int32_t oh,
           int32_t ow) const override {
    const mgf_deconv_desc& d = g_.d;
    const int32_t oc_total = d.out_channels;
    if (layout == MGF_LAYOUT_NC4HW4) {  // padding lanes of the last block must read as zero
      std::memset(dst, 0, sizeof(float) * size_t(n) * ceil_div(oc_total, 4) * 4 * oh * ow);
    }
    parallel_for(int64_t(n) * oc_total, [&](int64_t begin, int64_t end) {
      for (int64_t job = begin; job < end; ++job) {
        const int32_t b = int32_t(job / oc_total), oc = int32_t(job % oc_total);
        const int32_t group = oc / g_.oc_per_group, ocg = oc % g_.oc_per_group;
        const float init = bias_.empty() ? 0.f : bias_[oc];
        for (int32_t y = 0; y < oh; ++y)
          for (int32_t x = 0; x < ow; ++x) dst[offset(layout, oc_total, oh, ow, b, oc, y, x)] = init;
        for (int32_t icg = 0; icg < g_.ic_per_group; ++icg) {
          const int32_t ic = group * g_.ic_per_group + icg;
          const float* wk = weight_.data() + (size_t(ic) * g_.oc_per_group + ocg) * d.kernel_h * d.kernel_w;
          for (int32_t iy = 0; iy < h; ++iy)
            for (int32_t ix = 0; ix < w; ++ix) {
              const float v = src[offset(layout, d.in_channels, h, w, b, ic, iy, ix)];
              for (int32_t ky = 0; ky < d.kernel_h; ++ky) {
                const int32_t y = iy * d.stride_h - d.pad_h + ky * d.dilation_h;
                if (y < 0 || y >= oh) continue;
                for (int32_t kx = 0; kx < d.kernel_w; ++kx) {
                  const int32_t x = ix * d.stride_w - d.pad_w + kx * d.dilation_w;
                  if (x < 0 || x >= ow) continue;
                  dst[offset(layout, oc_total, oh, ow, b, oc, y, x)] += v * wk[ky * d.kernel_w + kx];
                }
              }
            }
        }
      }
    });
  }

 private:
  Geometry g_;
  std::vector<float> weight_;  // as given: (C_in, C_out/groups, KH, KW)
  std::vector<float> bias_;    // empty when there is no bias
};

}  // namespace

std::unique_ptr<Kernel> make_naive_kernel(const Geometry& g, const float* weight, const float* bias) {
  return std::make_unique<NaiveKernel>(g, weight, bias);
}

}  // namespace megforge::deconv
