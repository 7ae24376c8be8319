// The C API: argument checks, then calls into the C++ internals under guarded().
#include <memory>
#include <string>
#include <vector>

#include "error.h"
#include "geometry.h"
#include "kernel.h"
#include "kernels.h"
#include "parallel.h"
#include "relayout.h"

using namespace megforge;
using namespace megforge::deconv;

struct mgf_deconv_plan {
  Geometry geom;
  int layout;
  std::unique_ptr<Kernel> kernel;
};

namespace {

void require_ptr(const void* p, const char* name) {
  if (p == nullptr) throw_invalid(std::string(name) + " is NULL");
}

void require_layout(int layout) {
  if (layout != MGF_LAYOUT_NCHW && layout != MGF_LAYOUT_NC4HW4)
    throw_invalid("unknown layout " + std::to_string(layout) + " (expected 0=NCHW or 1=NC4HW4)");
}

}  // namespace

extern "C" {

MGF_DECONV_API unsigned mgf_deconv_version_number(void) { return MGF_DECONV_VERSION_NUMBER; }

MGF_DECONV_API const char* mgf_status_name(int status) {
  switch (status) {
    case MGF_OK: return "MGF_OK";
    case MGF_ERR_INVALID_ARGUMENT: return "MGF_ERR_INVALID_ARGUMENT";
    case MGF_ERR_UNSUPPORTED: return "MGF_ERR_UNSUPPORTED";
    case MGF_ERR_OUT_OF_MEMORY: return "MGF_ERR_OUT_OF_MEMORY";
    case MGF_ERR_INTERNAL: return "MGF_ERR_INTERNAL";
    default: return "MGF_ERR_UNKNOWN";
  }
}

MGF_DECONV_API const char* mgf_last_error(void) { return last_error(); }

MGF_DECONV_API int mgf_deconv_check(const mgf_deconv_desc* desc) {
  return guarded([&] {
    require_ptr(desc, "desc");
    Geometry::from_desc(*desc);
  });
}

MGF_DECONV_API int mgf_deconv_output_size(const mgf_deconv_desc* desc, int32_t in_h, int32_t in_w, int32_t* out_h,
                                          int32_t* out_w) {
  return guarded([&] {
    require_ptr(desc, "desc");
    require_ptr(out_h, "out_h");
    require_ptr(out_w, "out_w");
    const Geometry g = Geometry::from_desc(*desc);
    *out_h = g.out_h(in_h);
    *out_w = g.out_w(in_w);
  });
}

MGF_DECONV_API int mgf_deconv_plan_create(const mgf_deconv_desc* desc, const float* weight, const float* bias,
                                          int layout, int algo, mgf_deconv_plan** plan) {
  return guarded([&] {
    require_ptr(plan, "plan");
    *plan = nullptr;
    require_ptr(desc, "desc");
    require_ptr(weight, "weight");
    require_layout(layout);
    auto p = std::make_unique<mgf_deconv_plan>();
    p->geom = Geometry::from_desc(*desc);
    p->layout = layout;
    p->kernel = make_kernel(p->geom, weight, bias, algo, layout);
    *plan = p.release();
  });
}

MGF_DECONV_API void mgf_deconv_plan_free(mgf_deconv_plan* plan) { delete plan; }

MGF_DECONV_API int mgf_deconv_plan_algo(const mgf_deconv_plan* plan) { return plan ? plan->kernel->algo() : -1; }

MGF_DECONV_API int mgf_deconv_plan_execute(const mgf_deconv_plan* plan, const float* src, int32_t batch,
                                           int32_t in_h, int32_t in_w, float* dst) {
  return guarded([&] {
    require_ptr(plan, "plan");
    require_ptr(src, "src");
    require_ptr(dst, "dst");
    const Geometry& g = plan->geom;
    const int32_t oh = g.out_h(in_h), ow = g.out_w(in_w);
    const size_t src_elems = activation_elems(plan->layout, batch, g.d.in_channels, in_h, in_w, "src");
    const size_t dst_elems = activation_elems(plan->layout, batch, g.d.out_channels, oh, ow, "dst");
    const float *src_end = src + src_elems, *dst_end = dst + dst_elems;
    if (src < dst_end && dst < src_end) throw_invalid("src and dst overlap");
    const Kernel& k = *plan->kernel;
    if (k.accepts_layout(plan->layout)) {
      k.run(plan->layout, src, batch, in_h, in_w, dst, oh, ow);
      return;
    }
    // Run in the kernel's own layout and convert at both ends.
    const int kl = k.preferred_layout();
    std::vector<float> src_k(activation_elems(kl, batch, g.d.in_channels, in_h, in_w, "src"));
    std::vector<float> dst_k(activation_elems(kl, batch, g.d.out_channels, oh, ow, "dst"));
    if (kl == MGF_LAYOUT_NC4HW4) {
      nchw_to_nc4hw4(src, batch, g.d.in_channels, in_h, in_w, src_k.data());
      k.run(kl, src_k.data(), batch, in_h, in_w, dst_k.data(), oh, ow);
      nc4hw4_to_nchw(dst_k.data(), batch, g.d.out_channels, oh, ow, dst);
    } else {
      nc4hw4_to_nchw(src, batch, g.d.in_channels, in_h, in_w, src_k.data());
      k.run(kl, src_k.data(), batch, in_h, in_w, dst_k.data(), oh, ow);
      nchw_to_nc4hw4(dst_k.data(), batch, g.d.out_channels, oh, ow, dst);
    }
  });
}

MGF_DECONV_API const char* mgf_deconv_plan_kernel_name(const mgf_deconv_plan* plan, int32_t in_h, int32_t in_w) {
  if (plan == nullptr || in_h < 1 || in_w < 1) return "";
  const char* name = "";
  const int rc = guarded([&] {
    plan->geom.out_h(in_h);  // validates the size
    plan->geom.out_w(in_w);
    name = plan->kernel->name(in_h, in_w);
  });
  return rc == MGF_OK ? name : "";
}

MGF_DECONV_API const char* mgf_deconv_isa(void) { return kernel_table().isa; }

MGF_DECONV_API int mgf_set_num_threads(int32_t n) {
  return guarded([&] { set_num_threads(n); });
}

MGF_DECONV_API int32_t mgf_get_num_threads(void) { return num_threads(); }

MGF_DECONV_API int mgf_nchw_to_nc4hw4(const float* src, int32_t n, int32_t c, int32_t h, int32_t w, float* dst) {
  return guarded([&] {
    require_ptr(src, "src");
    require_ptr(dst, "dst");
    const size_t in = activation_elems(MGF_LAYOUT_NCHW, n, c, h, w, "src");
    const size_t out = activation_elems(MGF_LAYOUT_NC4HW4, n, c, h, w, "dst");
    if (src < dst + out && dst < src + in) throw_invalid("src and dst overlap");
    nchw_to_nc4hw4(src, n, c, h, w, dst);
  });
}

MGF_DECONV_API int mgf_nc4hw4_to_nchw(const float* src, int32_t n, int32_t c, int32_t h, int32_t w, float* dst) {
  return guarded([&] {
    require_ptr(src, "src");
    require_ptr(dst, "dst");
    const size_t in = activation_elems(MGF_LAYOUT_NC4HW4, n, c, h, w, "src");
    const size_t out = activation_elems(MGF_LAYOUT_NCHW, n, c, h, w, "dst");
    if (src < dst + out && dst < src + in) throw_invalid("src and dst overlap");
    nc4hw4_to_nchw(src, n, c, h, w, dst);
  });
}

}  // extern "C"
