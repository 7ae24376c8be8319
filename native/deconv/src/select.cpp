// Algorithm selection: which Kernel a plan gets for a description.
#include <string>

#include "error.h"
#include "kernel.h"

namespace megforge::deconv {

std::unique_ptr<Kernel> make_kernel(const Geometry& g, const float* weight, const float* bias, int algo) {
  switch (algo) {
    case MGF_ALGO_AUTO:
    case MGF_ALGO_NAIVE:
      return make_naive_kernel(g, weight, bias);
    case MGF_ALGO_NCHW:
    case MGF_ALGO_NC4HW4:
      throw_unsupported("algo " + std::to_string(algo) + " is not available in this build");
    default:
      throw_invalid("unknown algo " + std::to_string(algo) + " (expected 0..3)");
  }
}

}  // namespace megforge::deconv
