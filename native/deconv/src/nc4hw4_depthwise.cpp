// Depthwise NC4HW4 deconvolution (C_in = C_out = groups): the stride-phase decomposition
// (phase.h) per channel block, each output pixel a sum of weight vector x input vector over
// its phase's taps. Choice rule: plans with finite weights and a common geometry (dilation 1,
// square (k, s) in {(2,2), (3,1), (3,2), (4,2), (5,1), (5,2)}, rows wide enough for the edge
// tiles: dw_plane_covers in kernels.h) run whole planes straight from the input in tiles that
// mix the phases (dw_plane); others run per phase and row on a zero-column-padded copy of the
// input (dw_row).
// Packed weights: [channel block][ky][kx][4], zero past C; bias: [channel block][16 copies][4].
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernel.h"
#include "kernels.h"
#include "padded_input.h"
#include "parallel.h"
#include "phase.h"

namespace megforge::deconv {

namespace {

class DepthwiseNc4hw4Kernel final : public Kernel {
 public:
  DepthwiseNc4hw4Kernel(const Geometry& g, const float* weight, const float* bias)
      : g_(g), ty_(g.d.kernel_h, g.d.stride_h, g.d.dilation_h), tx_(g.d.kernel_w, g.d.stride_w, g.d.dilation_w) {
    const mgf_deconv_desc& d = g.d;
    cb_ = ceil_div(d.out_channels, 4);
    const size_t taps = size_t(d.kernel_h) * d.kernel_w;
    w_.assign(size_t(cb_) * taps * 4, 0.f);
    for (int32_t c = 0; c < d.out_channels; ++c)  // weight (C, 1, KH, KW)
      for (size_t t = 0; t < taps; ++t) w_[((c / 4) * taps + t) * 4 + c % 4] = weight[c * taps + t];
    bias_.assign(size_t(cb_) * 4, 0.f);
    if (bias) std::copy(bias, bias + d.out_channels, bias_.begin());
    bias16_.resize(size_t(cb_) * 64);
    for (size_t i = 0; i < bias16_.size(); ++i) bias16_[i] = bias_[i / 64 * 4 + i % 4];
    // dw_plane multiplies weights by zero rows above and below the input: exact only for
    // finite weights (inf * 0 is NaN), so other plans run per phase.
    const bool finite = std::all_of(weight, weight + d.out_channels * taps, [](float v) { return std::isfinite(v); });
    planes_ = finite && d.kernel_h == d.kernel_w && d.stride_h == d.stride_w && d.pad_h == d.pad_w &&
              d.dilation_h == 1 && d.dilation_w == 1;
  }

  int algo() const override { return MGF_ALGO_NC4HW4; }
  bool accepts_layout(int layout) const override { return layout == MGF_LAYOUT_NC4HW4; }
  int preferred_layout() const override { return MGF_LAYOUT_NC4HW4; }
  const char* name(int32_t, int32_t) const override { return "nc4hw4-depthwise-phase"; }

  void run(int, const float* src, int32_t n, int32_t h, int32_t w, float* dst, int32_t oh,
           int32_t ow) const override {
    const mgf_deconv_desc& d = g_.d;
    if (planes_ && dw_plane_covers(d.kernel_h, d.stride_h, d.pad_h, w, ow))
      run_planes(src, n, h, w, dst, oh, ow);
    else
      run_phases(src, n, h, w, dst, oh, ow);
  }

 private:
  // dw_row per (image, channel block, output row, column phase) on a zero-column-padded copy.
  void run_phases(const float* src, int32_t n, int32_t h, int32_t w, float* dst, int32_t oh, int32_t ow) const {
    const mgf_deconv_desc& d = g_.d;
    std::vector<PhaseRange> xr;
    int32_t pad_r = 0;
    for (int r = 0; r < tx_.s; ++r) {
      xr.emplace_back(ow, d.stride_w, d.pad_w, r);
      if (xr.back().n > 0) pad_r = std::max(pad_r, xr.back().j_lo + xr.back().n - w);
    }
    const KernelTable& kt = kernel_table();
    const PaddedInput in(src, n, d.in_channels, h, w, tx_.m_max, pad_r);
    const size_t max_taps = ty_.max_taps * tx_.max_taps;
    parallel_for(int64_t(n) * cb_ * oh, [&](int64_t begin, int64_t end) {
      std::vector<const float*> xs(max_taps), ws(max_taps);
      for (int64_t job = begin; job < end; ++job) {
        const int32_t b = int32_t(job / (int64_t(cb_) * oh)), c = int32_t((job / oh) % cb_), oy = int32_t(job % oh);
        const int ry = (oy + d.pad_h) % d.stride_h, jy = (oy + d.pad_h) / d.stride_h;
        float* out_row = dst + ((size_t(b) * cb_ + c) * oh + oy) * size_t(ow) * 4;
        const float* wc = w_.data() + size_t(c) * d.kernel_h * d.kernel_w * 4;
        for (int rx = 0; rx < tx_.s; ++rx) {
          if (xr[rx].n == 0) continue;
          int ntaps = 0;
          for (size_t a = 0; a < ty_.k[ry].size(); ++a) {
            const int32_t iy = jy - ty_.m[ry][a];
            if (iy < 0 || iy >= h) continue;
            for (size_t t = 0; t < tx_.k[rx].size(); ++t, ++ntaps) {
              xs[ntaps] = in.at(b, iy, c, xr[rx].j_lo - tx_.m[rx][t]);
              ws[ntaps] = wc + (size_t(ty_.k[ry][a]) * d.kernel_w + tx_.k[rx][t]) * 4;
            }
          }
          DwRowArgs args;
          args.ntaps = ntaps;
          args.x = xs.data();
          args.w = ws.data();
          args.bias = bias_.data() + c * 4;
          args.count = xr[rx].n;
          args.out = out_row + size_t(d.stride_w * xr[rx].j_lo + rx - d.pad_w) * 4;
          args.out_px_stride = d.stride_w * 4;
          kt.dw_row(args);
        }
      }
    });
  }

  // dw_plane over runs of consecutive planes (image, channel block). A partial last block runs
  // alone, on a copy with its lanes past C zeroed (the caller may leave garbage there).
  void run_planes(const float* src, int32_t n, int32_t h, int32_t w, float* dst, int32_t oh, int32_t ow) const {
    const mgf_deconv_desc& d = g_.d;
    const KernelTable& kt = kernel_table();
    const size_t in_plane = size_t(h) * w * 4, out_plane = size_t(oh) * ow * 4, wt_plane = size_t(d.kernel_h) * d.kernel_w * 4;
    const int32_t last_lanes = d.in_channels - (cb_ - 1) * 4;
    parallel_for(int64_t(n) * cb_, [&](int64_t begin, int64_t end) {
      std::vector<float> clean;
      for (int64_t job = begin; job < end;) {
        const int32_t c = int32_t(job % cb_);
        const bool partial = c == cb_ - 1 && last_lanes < 4;
        // Up to the end of this image's blocks, short of a partial last block.
        const int64_t run_end = std::min<int64_t>(end, job - c + cb_ - (last_lanes < 4 && !partial ? 1 : 0));
        DwPlaneArgs a;
        a.in = src + size_t(job) * in_plane;
        if (partial) {
          clean.assign(a.in, a.in + in_plane);
          for (size_t i = 0; i < in_plane; i += 4)
            for (int32_t l = last_lanes; l < 4; ++l) clean[i + l] = 0.f;
          a.in = clean.data();
        }
        a.wt = w_.data() + size_t(c) * wt_plane;
        a.bias = bias16_.data() + size_t(c) * 64;
        a.out = dst + size_t(job) * out_plane;
        a.planes = partial ? 1 : int(run_end - job);
        a.h = h; a.w = w; a.oh = oh; a.ow = ow; a.k = d.kernel_h; a.s = d.stride_h; a.p = d.pad_h;
        kt.dw_plane(a);
        job += a.planes;
      }
    });
  }

  Geometry g_;
  AxisTaps ty_, tx_;
  int32_t cb_ = 0;
  bool planes_ = false;  // finite weights, dilation 1, square kernel / stride / padding: dw_plane may apply
  std::vector<float> w_, bias_, bias16_;
};

}  // namespace

std::unique_ptr<Kernel> make_nc4hw4_depthwise_kernel(const Geometry& g, const float* weight, const float* bias) {
  return std::make_unique<DepthwiseNc4hw4Kernel>(g, weight, bias);
}

}  // namespace megforge::deconv
