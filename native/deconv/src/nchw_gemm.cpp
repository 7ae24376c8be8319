// NCHW baseline, the way MegEngine runs fp32 NCHW deconvolution: per image and group,
//   col (C_out/g*KH*KW x H*W) = W^T (C_out/g*KH*KW x C_in/g) * x (C_in/g x H*W),  then col2im.
// W^T is packed once per plan into 8-row panels ([panel][k][8]); x is packed per call into
// 12-column panels; the 8x12 NEON tile (sgemm_8x12.cpp) fills col. To keep col in cache, the
// input rows are processed in chunks (GEMM + col2im per chunk). Threads split the GEMM by
// 8-row panels and the col2im by output channel.
#include <algorithm>
#include <memory>
#include <vector>

#include "kernel.h"
#include "kernels.h"
#include "parallel.h"

namespace megforge::deconv {

namespace {

constexpr size_t kColBudget = size_t(1) << 18;  // floats of col per chunk (1 MiB)
constexpr int32_t kMinChunkColumns = 96;        // keep GEMM panels full on narrow images

class NchwGemmKernel final : public Kernel {
 public:
  NchwGemmKernel(const Geometry& g, const float* weight, const float* bias)
      : g_(g), m_(g.oc_per_group * g.d.kernel_h * g.d.kernel_w), k_(g.ic_per_group) {
    panels_ = ceil_div(m_, 8);
    a_.assign(size_t(g.d.groups) * panels_ * k_ * 8, 0.f);
    // weight rows (one per input channel) are W^T's columns: A[m][k] = weight[g*K + k][m].
    for (int32_t grp = 0; grp < g.d.groups; ++grp)
      for (int32_t k = 0; k < k_; ++k) {
        const float* row = weight + size_t(grp * k_ + k) * m_;
        for (int32_t m = 0; m < m_; ++m) a_[((size_t(grp) * panels_ + m / 8) * k_ + k) * 8 + m % 8] = row[m];
      }
    if (bias) bias_.assign(bias, bias + g.d.out_channels);
  }

  int algo() const override { return MGF_ALGO_NCHW; }
  bool accepts_layout(int layout) const override { return layout == MGF_LAYOUT_NCHW; }
  int preferred_layout() const override { return MGF_LAYOUT_NCHW; }
  const char* name(int32_t, int32_t) const override { return "nchw-gemm-col2im"; }

  void run(int, const float* src, int32_t n, int32_t h, int32_t w, float* dst, int32_t oh,
           int32_t ow) const override {
    const mgf_deconv_desc& d = g_.d;
    const KernelTable& kt = kernel_table();
    const size_t hw = size_t(h) * w, ohw = size_t(oh) * ow;
    const int32_t ocg = g_.oc_per_group;
    int32_t chunk_rows = int32_t(std::max<size_t>(1, kColBudget / (size_t(panels_) * 8 * w)));
    chunk_rows = std::min(h, std::max(chunk_rows, ceil_div(kMinChunkColumns, w)));
    const size_t max_cols = size_t(chunk_rows) * w;
    std::unique_ptr<float[]> col(new float[size_t(m_) * max_cols]);
    std::unique_ptr<float[]> bpack(new float[size_t(k_) * (max_cols + 12)]);
    for (int32_t b = 0; b < n; ++b)
      for (int32_t grp = 0; grp < d.groups; ++grp) {
        const float* x = src + (size_t(b) * d.in_channels + size_t(grp) * k_) * hw;
        float* out = dst + (size_t(b) * d.out_channels + size_t(grp) * ocg) * ohw;
        parallel_for(ocg, [&](int64_t begin, int64_t end) {
          for (int64_t oc = begin; oc < end; ++oc)
            std::fill(out + oc * ohw, out + (oc + 1) * ohw, bias_.empty() ? 0.f : bias_[grp * ocg + oc]);
        });
        const float* a = a_.data() + size_t(grp) * panels_ * k_ * 8;
        for (int32_t iy0 = 0; iy0 < h; iy0 += chunk_rows) {
          const int32_t iy1 = std::min(h, iy0 + chunk_rows);
          const int32_t cols = (iy1 - iy0) * w;
          kt.sgemm_pack_b(x + size_t(iy0) * w, ptrdiff_t(hw), k_, cols, bpack.get());
          parallel_for(panels_, [&](int64_t begin, int64_t end) {
            for (int64_t p = begin; p < end; ++p)
              kt.sgemm_8xn(k_, a + size_t(p) * k_ * 8, bpack.get(), cols, col.get() + size_t(p) * 8 * cols, cols,
                           std::min<int32_t>(8, m_ - int32_t(p) * 8));
          });
          parallel_for(ocg, [&](int64_t begin, int64_t end) {
            Col2imArgs c;
            c.col = col.get();
            c.ldcol = cols;
            c.oc_begin = int(begin);
            c.oc_end = int(end);
            c.out = out;
            c.iy0 = iy0; c.iy1 = iy1; c.h = h; c.w = w; c.oh = oh; c.ow = ow;
            c.kh = d.kernel_h; c.kw = d.kernel_w; c.sh = d.stride_h; c.sw = d.stride_w;
            c.ph = d.pad_h; c.pw = d.pad_w; c.dh = d.dilation_h; c.dw = d.dilation_w;
            kt.col2im_nchw(c);
          });
        }
      }
  }

 private:
  Geometry g_;
  int32_t m_, k_, panels_ = 0;  // GEMM rows (C_out/g*KH*KW), depth (C_in/g), 8-row panels
  std::vector<float> a_;        // [group][panel][k][8]
  std::vector<float> bias_;     // empty when there is no bias
};

}  // namespace

std::unique_ptr<Kernel> make_nchw_gemm_kernel(const Geometry& g, const float* weight, const float* bias) {
  return std::make_unique<NchwGemmKernel>(g, weight, bias);
}

}  // namespace megforge::deconv
