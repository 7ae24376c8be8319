#include "plan_cache.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace megforge {
namespace mge_op {

namespace {

[[noreturn]] void throw_deconv_error(const char* what, int status) {
  throw std::runtime_error(std::string(what) + " failed (" + mgf_status_name(status) + "): " + mgf_last_error());
}

bool same_floats(const std::vector<float>& kept, const float* values) {
  return kept.empty() || std::memcmp(kept.data(), values, kept.size() * sizeof(float)) == 0;
}

}  // namespace

bool same_desc(const mgf_deconv_desc& a, const mgf_deconv_desc& b) {
  return a.in_channels == b.in_channels && a.out_channels == b.out_channels && a.kernel_h == b.kernel_h &&
         a.kernel_w == b.kernel_w && a.stride_h == b.stride_h && a.stride_w == b.stride_w && a.pad_h == b.pad_h &&
         a.pad_w == b.pad_w && a.dilation_h == b.dilation_h && a.dilation_w == b.dilation_w &&
         a.output_padding_h == b.output_padding_h && a.output_padding_w == b.output_padding_w &&
         a.groups == b.groups;
}

Plan::Plan(const mgf_deconv_desc& desc, const float* weight, size_t weight_elems, const float* bias)
    : desc_(desc), weight_addr_(weight), bias_addr_(bias), weight_(weight, weight + weight_elems) {
  if (bias != nullptr) bias_.assign(bias, bias + desc.out_channels);
  // NC4HW4 layout, automatic choice among megforge's NC4HW4 kernels.
  const int status = mgf_deconv_plan_create(&desc_, weight_.data(), bias_.empty() ? nullptr : bias_.data(),
                                            MGF_LAYOUT_NC4HW4, MGF_ALGO_AUTO, &plan_);
  if (status != MGF_OK) throw_deconv_error("megforge deconvolution plan", status);
}

Plan::~Plan() { mgf_deconv_plan_free(plan_); }

bool Plan::packs(const mgf_deconv_desc& desc, const float* weight, size_t weight_elems, const float* bias) const {
  return same_desc(desc_, desc) && weight_elems == weight_.size() && (bias == nullptr) == bias_.empty() &&
         same_floats(weight_, weight) && (bias == nullptr || same_floats(bias_, bias));
}

bool Plan::came_from(const mgf_deconv_desc& desc, const float* weight, const float* bias) const {
  return same_desc(desc_, desc) && weight == weight_addr_ && bias == bias_addr_;
}

void Plan::execute(const float* src, int32_t batch, int32_t in_h, int32_t in_w, float* dst) const {
  const int status = mgf_deconv_plan_execute(plan_, src, batch, in_h, in_w, dst);
  if (status != MGF_OK) throw_deconv_error("megforge deconvolution", status);
}

std::shared_ptr<const Plan> PlanCache::get(const mgf_deconv_desc& desc, const float* weight, size_t weight_elems,
                                           const float* bias) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = plans_.begin(); it != plans_.end(); ++it) {
    if ((*it)->packs(desc, weight, weight_elems, bias)) {
      plans_.splice(plans_.begin(), plans_, it);
      return plans_.front();
    }
  }
  // Made under the lock: two threads missing on the same weights pack them once.
  std::shared_ptr<const Plan> plan = std::make_shared<Plan>(desc, weight, weight_elems, bias);
  for (auto it = plans_.begin(); it != plans_.end(); ++it) {
    if ((*it)->came_from(desc, weight, bias)) {  // the same tensors, updated in place
      plans_.erase(it);
      break;
    }
  }
  plans_.push_front(plan);
  if (plans_.size() > kCapacity) plans_.pop_back();
  return plan;
}

PlanCache& plan_cache() {
  static PlanCache* cache = new PlanCache();  // never destroyed: no teardown-order questions at exit
  return *cache;
}

}  // namespace mge_op
}  // namespace megforge
