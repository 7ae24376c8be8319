// The interface every deconvolution algorithm implements, and the factory that picks one.
// A Kernel owns weights pre-packed once (at plan creation) for its own loops; run() only computes.
#pragma once

#include <cstdint>
#include <memory>

#include "geometry.h"

namespace megforge::deconv {

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual int algo() const = 0;                        // mgf_algo, never MGF_ALGO_AUTO
  virtual bool accepts_layout(int layout) const = 0;   // layouts run() can read and write directly
  virtual int preferred_layout() const = 0;            // what the plan relayouts to otherwise
  // Static name of the loop nest run() uses for an h x w input (some kernels choose per size).
  virtual const char* name(int32_t h, int32_t w) const = 0;
  // src: (n, C_in, h, w), dst: (n, C_out, oh, ow), both in `layout`; dst fully written.
  virtual void run(int layout, const float* src, int32_t n, int32_t h, int32_t w, float* dst, int32_t oh,
                   int32_t ow) const = 0;
};

// weight: (C_in, C_out/groups, KH, KW); bias: (C_out) or nullptr. algo may be MGF_ALGO_AUTO;
// layout is the plan's layout (AUTO's choice depends on it). See select.cpp for the rule.
std::unique_ptr<Kernel> make_kernel(const Geometry& g, const float* weight, const float* bias, int algo, int layout);

std::unique_ptr<Kernel> make_naive_kernel(const Geometry& g, const float* weight, const float* bias);
std::unique_ptr<Kernel> make_nchw_gemm_kernel(const Geometry& g, const float* weight, const float* bias);
std::unique_ptr<Kernel> make_nc4hw4_dense_kernel(const Geometry& g, const float* weight, const float* bias);
std::unique_ptr<Kernel> make_nc4hw4_depthwise_kernel(const Geometry& g, const float* weight, const float* bias);

}  // namespace megforge::deconv
