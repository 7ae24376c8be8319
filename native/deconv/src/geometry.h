// Validated geometry of one transposed convolution: the C descriptor plus derived sizes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "megforge/deconv.h"

namespace megforge::deconv {

inline int32_t ceil_div(int32_t a, int32_t b) { return (a + b - 1) / b; }

struct Geometry {
  mgf_deconv_desc d;
  int32_t ic_per_group;  // C_in / groups
  int32_t oc_per_group;  // C_out / groups

  // Throws Error(MGF_ERR_INVALID_ARGUMENT) naming the offending field.
  static Geometry from_desc(const mgf_deconv_desc& desc);

  // Output extent along one axis; throws if it would be <= 0 or overflow int32.
  int32_t out_h(int32_t in_h) const;
  int32_t out_w(int32_t in_w) const;

  size_t weight_elems() const;  // C_in * C_out/groups * KH * KW
};

// Elements of an activation tensor in the given layout; throws on overflow / bad dims.
size_t activation_elems(int layout, int32_t n, int32_t c, int32_t h, int32_t w, const char* what);

}  // namespace megforge::deconv
