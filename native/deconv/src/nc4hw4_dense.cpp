// Dense (non-depthwise) NC4HW4 deconvolution. Two loop nests share one weight packing:
//
// * direct-phase: the stride-phase decomposition (phase.h). For every output row and column
//   residue, the outputs are a small correlation of the zero-column-padded input with that
//   phase's taps, computed in registers (dense_row: 8 pixels x 8 output channels) and stored
//   once. No column buffer, no col2im, no read-modify-write of the output.
// * gemm-col2im: per kernel tap, a packed GEMM over all input pixels (the same dense_row tile
//   with one tap), then an NC4HW4 col2im that adds the tile into the output. Used when the
//   direct form would waste work on zero padding (inputs much smaller than the kernel).
//
// Choice rule (per call, from the input size): direct-phase evaluates every (output pixel,
// tap) pair whose input row exists, zero columns included; gemm-col2im evaluates exactly the
// H*W*KH*KW (input pixel, tap) pairs plus a col2im pass costing about one more input block.
// Take direct-phase when its pair count is at most gemm's H*W*KH*KW*(1 + 1/input_blocks).
//
// Packed weights, per (phase (ry, rx), output group): [tap (ty, tx)][input block][lane][block][4]
// where an output group is 2 output channel blocks (1 for an odd last block) and the input
// blocks are those of the groups its channels belong to (other entries zero: grouped
// convolutions whose group size is not a multiple of 4 stay correct). Bias and padding lanes
// past C_out are zero, so padding lanes of the output come out as exact zeros.
#include <algorithm>
#include <vector>

#include "kernel.h"
#include "kernels.h"
#include "padded_input.h"
#include "parallel.h"
#include "phase.h"

namespace megforge::deconv {

namespace {

struct OutputGroup {
  int32_t ocb0, nb;          // first output block, block count (1 or 2)
  int32_t icb_lo, icb_n;     // input blocks it reads
  size_t tap_stride() const { return size_t(icb_n) * 16 * nb; }  // floats per tap
};

class DenseNc4hw4Kernel final : public Kernel {
 public:
  DenseNc4hw4Kernel(const Geometry& g, const float* weight, const float* bias)
      : g_(g), ty_(g.d.kernel_h, g.d.stride_h, g.d.dilation_h), tx_(g.d.kernel_w, g.d.stride_w, g.d.dilation_w) {
    const mgf_deconv_desc& d = g.d;
    icb_ = ceil_div(d.in_channels, 4);
    ocb_ = ceil_div(d.out_channels, 4);
    for (int32_t ocb0 = 0; ocb0 < ocb_; ocb0 += 2) {
      OutputGroup og;
      og.ocb0 = ocb0;
      og.nb = std::min<int32_t>(2, ocb_ - ocb0);
      const int32_t oc_first = ocb0 * 4, oc_last = std::min(d.out_channels, (ocb0 + og.nb) * 4) - 1;
      const int32_t ic_lo = oc_first / g.oc_per_group * g.ic_per_group;
      const int32_t ic_hi = (oc_last / g.oc_per_group + 1) * g.ic_per_group;
      og.icb_lo = ic_lo / 4;
      og.icb_n = ceil_div(ic_hi, 4) - og.icb_lo;
      groups_.push_back(og);
    }
    // Offsets of every (phase, group) slice, then fill.
    size_t total = 0;
    for (int ry = 0; ry < ty_.s; ++ry)
      for (int rx = 0; rx < tx_.s; ++rx)
        for (const OutputGroup& og : groups_) {
          offset_.push_back(total);
          total += ty_.k[ry].size() * tx_.k[rx].size() * og.tap_stride();
        }
    w_.assign(total, 0.f);
    for (int ry = 0; ry < ty_.s; ++ry)
      for (int rx = 0; rx < tx_.s; ++rx)
        for (size_t gi = 0; gi < groups_.size(); ++gi) {
          const OutputGroup& og = groups_[gi];
          float* dst = w_.data() + slice(ry, rx, gi);
          for (int ky : ty_.k[ry])
            for (int kx : tx_.k[rx])
              for (int32_t i = 0; i < og.icb_n; ++i)
                for (int lane = 0; lane < 4; ++lane)
                  for (int32_t b = 0; b < og.nb; ++b)
                    for (int o = 0; o < 4; ++o, ++dst) {
                      const int32_t ic = (og.icb_lo + i) * 4 + lane, oc = (og.ocb0 + b) * 4 + o;
                      if (ic >= d.in_channels || oc >= d.out_channels) continue;
                      const int32_t group = oc / g.oc_per_group;
                      if (ic / g.ic_per_group != group) continue;
                      *dst = weight[((size_t(ic) * g.oc_per_group + oc % g.oc_per_group) * d.kernel_h + ky) *
                                        d.kernel_w + kx];
                    }
        }
    bias_.assign(size_t(ocb_ + 1) * 4, 0.f);
    if (bias) std::copy(bias, bias + d.out_channels, bias_.begin());
    zeros_.assign(8, 0.f);
  }

  int algo() const override { return MGF_ALGO_NC4HW4; }
  bool accepts_layout(int layout) const override { return layout == MGF_LAYOUT_NC4HW4; }
  int preferred_layout() const override { return MGF_LAYOUT_NC4HW4; }
  const char* name(int32_t h, int32_t w) const override {
    return use_direct(h, w) ? "nc4hw4-direct-phase" : "nc4hw4-gemm-col2im";
  }

  void run(int, const float* src, int32_t n, int32_t h, int32_t w, float* dst, int32_t oh,
           int32_t ow) const override {
    if (use_direct(h, w))
      run_direct(src, n, h, w, dst, oh, ow);
    else
      run_gemm(src, n, h, w, dst, oh, ow);
  }

 private:
  size_t slice(int ry, int rx, size_t gi) const { return offset_[(size_t(ry) * tx_.s + rx) * groups_.size() + gi]; }

  // (output pixel, tap) pairs the direct form evaluates vs the GEMM form (see the file comment).
  bool use_direct(int32_t h, int32_t w) const {
    const mgf_deconv_desc& d = g_.d;
    const int32_t oh = g_.out_h(h), ow = g_.out_w(w);
    double rows = 0, cols = 0;
    for (int32_t oy = 0; oy < oh; ++oy) {
      const int r = (oy + d.pad_h) % d.stride_h, jy = (oy + d.pad_h) / d.stride_h;
      for (int m : ty_.m[r]) rows += (jy - m >= 0 && jy - m < h);
    }
    for (int r = 0; r < tx_.s; ++r) cols += double(PhaseRange(ow, d.stride_w, d.pad_w, r).n) * tx_.k[r].size();
    const double gemm = double(h) * w * d.kernel_h * d.kernel_w * (1.0 + 1.0 / icb_);
    return rows * cols <= gemm;
  }

  void run_direct(const float* src, int32_t n, int32_t h, int32_t w, float* dst, int32_t oh, int32_t ow) const {
    const mgf_deconv_desc& d = g_.d;
    std::vector<PhaseRange> xr;
    int32_t pad_r = 0;
    for (int r = 0; r < tx_.s; ++r) {
      xr.emplace_back(ow, d.stride_w, d.pad_w, r);
      if (xr.back().n > 0) pad_r = std::max(pad_r, xr.back().j_lo + xr.back().n - w);
    }
    const PaddedInput in(src, n, d.in_channels, h, w, tx_.m_max, pad_r);
    const KernelTable& kt = kernel_table();
    const int64_t ngroups = int64_t(groups_.size());
    const size_t max_taps = ty_.max_taps * tx_.max_taps;
    // Per column phase: offset (floats) of each tap's first input pixel within a padded row.
    std::vector<std::vector<ptrdiff_t>> col(tx_.s);
    for (int rx = 0; rx < tx_.s; ++rx)
      for (int m : tx_.m[rx]) col[rx].push_back(ptrdiff_t(in.pad_l + xr[rx].j_lo - m) * 4);
    const ptrdiff_t row_stride = ptrdiff_t(in.row_stride());
    parallel_for(int64_t(n) * ngroups * oh, [&](int64_t begin, int64_t end) {
      std::vector<const float*> xs(max_taps), ws(max_taps);
      DenseRowArgs args;
      args.x = xs.data();
      args.w = ws.data();
      args.x_icb_stride = ptrdiff_t(in.block_stride());
      args.out_px_stride = d.stride_w * 4;
      args.out_ocb_stride = ptrdiff_t(oh) * ow * 4;
      for (int64_t job = begin; job < end; ++job) {
        const int32_t b = int32_t(job / (ngroups * oh)), oy = int32_t(job % oh);
        const size_t gi = size_t((job / oh) % ngroups);
        const OutputGroup& og = groups_[gi];
        const int ry = (oy + d.pad_h) % d.stride_h, jy = (oy + d.pad_h) / d.stride_h;
        const std::vector<int>& my = ty_.m[ry];
        const float* image = in.at(b, 0, og.icb_lo, 0) - size_t(in.pad_l) * 4;  // row 0, padded column 0
        float* out_row = dst + ((size_t(b) * ocb_ + og.ocb0) * oh + oy) * size_t(ow) * 4;
        const size_t tap_stride = og.tap_stride();
        args.icb = og.icb_n;
        args.ocb = og.nb;
        args.bias = bias_.data() + og.ocb0 * 4;
        for (int rx = 0; rx < tx_.s; ++rx) {
          if (xr[rx].n == 0) continue;
          const float* wtap = w_.data() + slice(ry, rx, gi);
          const ptrdiff_t* cx = col[rx].data();
          const size_t ntx = col[rx].size();
          int ntaps = 0;
          for (size_t a = 0; a < my.size(); ++a, wtap += ntx * tap_stride) {
            const int32_t iy = jy - my[a];
            if (iy < 0 || iy >= h) continue;
            const float* row = image + iy * row_stride;
            for (size_t t = 0; t < ntx; ++t, ++ntaps) {
              xs[ntaps] = row + cx[t];
              ws[ntaps] = wtap + t * tap_stride;
            }
          }
          args.ntaps = ntaps;
          args.count = xr[rx].n;
          args.out = out_row + size_t(d.stride_w * xr[rx].j_lo + rx - d.pad_w) * 4;
          kt.dense_row(args);
        }
      }
    });
  }

  void run_gemm(const float* src, int32_t n, int32_t h, int32_t w, float* dst, int32_t oh, int32_t ow) const {
    const mgf_deconv_desc& d = g_.d;
    const KernelTable& kt = kernel_table();
    const size_t hw = size_t(h) * w, ohw = size_t(oh) * ow;
    const int64_t ngroups = int64_t(groups_.size());
    std::vector<float> clean;  // lanes past C_in may hold garbage: zero them in a copy
    if (d.in_channels % 4) {
      clean.assign(src, src + size_t(n) * icb_ * hw * 4);
      for (int32_t b = 0; b < n; ++b) {
        float* last = clean.data() + (size_t(b) * icb_ + icb_ - 1) * hw * 4;
        for (size_t p = 0; p < hw; ++p)
          for (int l = d.in_channels % 4; l < 4; ++l) last[p * 4 + l] = 0.f;
      }
      src = clean.data();
    }
    parallel_for(int64_t(n) * ngroups, [&](int64_t begin, int64_t end) {
      std::vector<float> col(hw * 8);
      for (int64_t job = begin; job < end; ++job) {
        const int32_t b = int32_t(job / ngroups);
        const size_t gi = size_t(job % ngroups);
        const OutputGroup& og = groups_[gi];
        float* out = dst + (size_t(b) * ocb_ + og.ocb0) * ohw * 4;
        for (int32_t blk = 0; blk < og.nb; ++blk)
          for (size_t p = 0; p < ohw; ++p)
            for (int l = 0; l < 4; ++l) out[(blk * ohw + p) * 4 + l] = bias_[(og.ocb0 + blk) * 4 + l];
        for (int ky = 0; ky < d.kernel_h; ++ky)
          for (int kx = 0; kx < d.kernel_w; ++kx) {
            const int ry = (ky * d.dilation_h) % d.stride_h, rx = (kx * d.dilation_w) % d.stride_w;
            const size_t tap = size_t(ty_.index[ky]) * tx_.k[rx].size() + tx_.index[kx];
            const float* xp = src + (size_t(b) * icb_ + og.icb_lo) * hw * 4;
            const float* wp = w_.data() + slice(ry, rx, gi) + tap * og.tap_stride();
            DenseRowArgs args;
            args.ntaps = 1;
            args.x = &xp;
            args.w = &wp;
            args.icb = og.icb_n;
            args.x_icb_stride = ptrdiff_t(hw * 4);
            args.ocb = og.nb;
            args.bias = zeros_.data();
            args.count = int(hw);
            args.out = col.data();
            args.out_px_stride = 4;
            args.out_ocb_stride = ptrdiff_t(hw * 4);
            kt.dense_row(args);
            // NC4HW4 col2im of this tap: input pixel (iy, ix) lands on (iy*s - p + k*d, ...).
            for (int32_t iy = 0; iy < h; ++iy) {
              const int32_t oy = iy * d.stride_h - d.pad_h + ky * d.dilation_h;
              if (oy < 0 || oy >= oh) continue;
              for (int32_t ix = 0; ix < w; ++ix) {
                const int32_t ox = ix * d.stride_w - d.pad_w + kx * d.dilation_w;
                if (ox < 0 || ox >= ow) continue;
                for (int32_t blk = 0; blk < og.nb; ++blk) {
                  float* o = out + (blk * ohw + size_t(oy) * ow + ox) * 4;
                  const float* c = col.data() + (blk * hw + size_t(iy) * w + ix) * 4;
                  for (int l = 0; l < 4; ++l) o[l] += c[l];
                }
              }
            }
          }
      }
    });
  }

  Geometry g_;
  AxisTaps ty_, tx_;
  int32_t icb_ = 0, ocb_ = 0;
  std::vector<OutputGroup> groups_;
  std::vector<size_t> offset_;  // [(ry * sx + rx) * groups + g] -> start of that slice in w_
  std::vector<float> w_;
  std::vector<float> bias_;   // (ocb + 1) * 4, zero past C_out
  std::vector<float> zeros_;  // bias for the GEMM tiles
};

}  // namespace

std::unique_ptr<Kernel> make_nc4hw4_dense_kernel(const Geometry& g, const float* weight, const float* bias) {
  return std::make_unique<DenseNc4hw4Kernel>(g, weight, bias);
}

}  // namespace megforge::deconv
