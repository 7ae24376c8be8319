// Algorithm selection: which Kernel a plan gets for a description.
//
// MGF_ALGO_NAIVE  -> the scalar reference (naive.cpp), any layout.
// MGF_ALGO_NCHW   -> the NCHW baseline: packed GEMM + col2im (nchw_gemm.cpp).
// MGF_ALGO_NC4HW4 -> depthwise (C_in/groups == C_out/groups == 1): nc4hw4_depthwise.cpp;
//                    otherwise nc4hw4_dense.cpp, which itself picks direct-phase or
//                    gemm-col2im per input size (rule in that file).
// MGF_ALGO_AUTO   -> the NC4HW4 kernels, except for an NCHW plan whose groups have fewer than
//                    4 input or output channels (not depthwise): there the NC4HW4 blocks would
//                    be mostly zero padding and the relayouts pure overhead, so the NCHW GEMM
//                    runs. (An NCHW plan running NC4HW4 kernels relayouts at both ends.)
#include <string>

#include "error.h"
#include "kernel.h"

namespace megforge::deconv {

namespace {

bool is_depthwise(const Geometry& g) { return g.ic_per_group == 1 && g.oc_per_group == 1; }

std::unique_ptr<Kernel> make_nc4hw4_kernel(const Geometry& g, const float* weight, const float* bias) {
  if (is_depthwise(g)) return make_nc4hw4_depthwise_kernel(g, weight, bias);
  return make_nc4hw4_dense_kernel(g, weight, bias);
}

}  // namespace

std::unique_ptr<Kernel> make_kernel(const Geometry& g, const float* weight, const float* bias, int algo, int layout) {
  switch (algo) {
    case MGF_ALGO_AUTO:
      if (layout == MGF_LAYOUT_NCHW && !is_depthwise(g) && (g.ic_per_group < 4 || g.oc_per_group < 4))
        return make_nchw_gemm_kernel(g, weight, bias);
      return make_nc4hw4_kernel(g, weight, bias);
    case MGF_ALGO_NAIVE:
      return make_naive_kernel(g, weight, bias);
    case MGF_ALGO_NCHW:
      return make_nchw_gemm_kernel(g, weight, bias);
    case MGF_ALGO_NC4HW4:
      return make_nc4hw4_kernel(g, weight, bias);
    default:
      throw_invalid("unknown algo " + std::to_string(algo) + " (expected 0..3)");
  }
}

}  // namespace megforge::deconv
