// Pre-packed megforge deconvolution plans, reused across calls of the custom op.
//
// A plan packs its weight (and bias) once. MegEngine hands the op plain tensors with no
// version number, and in eager mode a parameter is updated in place (same pointer, new
// values), so a plan is reused only for an equal description and bit-identical weight and
// bias: each plan keeps a copy of what it packed and the lookup compares contents. That
// costs one pass over the weight per call, the same order as packing it again but without
// the allocation and the scattered writes, and it is what makes reuse safe. Under
// trace/dump and in Lite the weights are constants, so every call after the first hits.
//
// Only the C API of megforge/deconv.h is used here: no C++ object crosses between this code
// (built with the old libstdc++ ABI, as MegEngine's custom-op API requires) and the deconv
// objects (built with the default ABI) linked into the same library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <vector>

#include "megforge/deconv.h"

namespace megforge {
namespace mge_op {

class Plan {
 public:
  // weight: weight_elems floats (C_in, C_out/groups, KH, KW); bias: C_out floats or nullptr.
  // Throws std::runtime_error with megforge's message if the plan cannot be made.
  Plan(const mgf_deconv_desc& desc, const float* weight, size_t weight_elems, const float* bias);
  ~Plan();
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  // Same description and the very weight/bias values this plan packed.
  bool packs(const mgf_deconv_desc& desc, const float* weight, size_t weight_elems, const float* bias) const;
  // Packed from the tensors now at these addresses (possibly since overwritten in place).
  bool came_from(const mgf_deconv_desc& desc, const float* weight, const float* bias) const;

  // src: NC4HW4 (batch, ceil(C_in/4), in_h, in_w, 4); dst: NC4HW4 output, fully written.
  void execute(const float* src, int32_t batch, int32_t in_h, int32_t in_w, float* dst) const;

 private:
  mgf_deconv_desc desc_;
  const float* weight_addr_;
  const float* bias_addr_;
  std::vector<float> weight_;
  std::vector<float> bias_;
  mgf_deconv_plan* plan_ = nullptr;
};

// Most recently used first, at most kCapacity plans (a model's deconvolution layers, plus
// room for weights that change between calls; those replace the plan packed from the same
// addresses instead of piling up).
class PlanCache {
 public:
  static constexpr size_t kCapacity = 64;

  std::shared_ptr<const Plan> get(const mgf_deconv_desc& desc, const float* weight, size_t weight_elems,
                                  const float* bias);

 private:
  std::mutex mutex_;
  std::list<std::shared_ptr<const Plan>> plans_;
};

// The process-wide cache of this library.
PlanCache& plan_cache();

bool same_desc(const mgf_deconv_desc& a, const mgf_deconv_desc& b);

}  // namespace mge_op
}  // namespace megforge
