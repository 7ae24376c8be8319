#include "geometry.h"

#include <limits>
#include <string>

#include "error.h"

namespace megforge::deconv {

namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw_invalid(message);
}

constexpr int64_t kMaxElems = int64_t(1) << 40;  // 4 TiB of floats: far past any real tensor

// a * b for positive a, b; returns -1 past kMaxElems instead of overflowing.
int64_t mul_limited(int64_t a, int64_t b) { return a > kMaxElems / b ? -1 : a * b; }

std::string field(const char* name, int32_t value) { return std::string(name) + "=" + std::to_string(value); }

int32_t out_extent(int32_t in, int32_t k, int32_t s, int32_t p, int32_t dil, int32_t op, const char* axis) {
  // (Messages are built only on failure: this runs on every execute.)
  if (in < 1) throw_invalid(std::string("input ") + axis + " must be >= 1, got " + std::to_string(in));
  const int64_t out = (int64_t(in) - 1) * s - 2 * int64_t(p) + int64_t(dil) * (k - 1) + op + 1;
  if (out < 1)
    throw_invalid(std::string("output ") + axis + " would be " + std::to_string(out) + " (input " +
                  std::to_string(in) + ", pad " + std::to_string(p) + "): must be >= 1");
  if (out > std::numeric_limits<int32_t>::max())
    throw_invalid(std::string("output ") + axis + " " + std::to_string(out) + " overflows int32");
  return static_cast<int32_t>(out);
}

}  // namespace

Geometry Geometry::from_desc(const mgf_deconv_desc& d) {
  require(d.groups >= 1, field("groups", d.groups) + ": must be >= 1");
  require(d.in_channels >= 1, field("in_channels", d.in_channels) + ": must be >= 1");
  require(d.out_channels >= 1, field("out_channels", d.out_channels) + ": must be >= 1");
  require(d.in_channels % d.groups == 0,
          field("in_channels", d.in_channels) + " is not divisible by " + field("groups", d.groups));
  require(d.out_channels % d.groups == 0,
          field("out_channels", d.out_channels) + " is not divisible by " + field("groups", d.groups));
  require(d.kernel_h >= 1 && d.kernel_w >= 1,
          "kernel size must be >= 1, got " + std::to_string(d.kernel_h) + "x" + std::to_string(d.kernel_w));
  require(d.stride_h >= 1 && d.stride_w >= 1,
          "stride must be >= 1, got (" + std::to_string(d.stride_h) + ", " + std::to_string(d.stride_w) + ")");
  require(d.dilation_h >= 1 && d.dilation_w >= 1,
          "dilation must be >= 1, got (" + std::to_string(d.dilation_h) + ", " + std::to_string(d.dilation_w) + ")");
  require(d.pad_h >= 0 && d.pad_w >= 0,
          "padding must be >= 0, got (" + std::to_string(d.pad_h) + ", " + std::to_string(d.pad_w) + ")");
  const bool op_ok_h = d.output_padding_h >= 0 && (d.output_padding_h < d.stride_h || d.output_padding_h < d.dilation_h);
  const bool op_ok_w = d.output_padding_w >= 0 && (d.output_padding_w < d.stride_w || d.output_padding_w < d.dilation_w);
  require(op_ok_h && op_ok_w, "output_padding (" + std::to_string(d.output_padding_h) + ", " +
                                  std::to_string(d.output_padding_w) +
                                  ") must be >= 0 and smaller than either stride or dilation");
  int64_t weight = mul_limited(d.in_channels, d.out_channels / d.groups);
  if (weight > 0) weight = mul_limited(weight, d.kernel_h);
  if (weight > 0) weight = mul_limited(weight, d.kernel_w);
  require(weight > 0, "weight too large: C_in * C_out/groups * KH * KW exceeds 2^40 elements");
  Geometry g;
  g.d = d;
  g.ic_per_group = d.in_channels / d.groups;
  g.oc_per_group = d.out_channels / d.groups;
  return g;
}

int32_t Geometry::out_h(int32_t in_h) const {
  return out_extent(in_h, d.kernel_h, d.stride_h, d.pad_h, d.dilation_h, d.output_padding_h, "height");
}

int32_t Geometry::out_w(int32_t in_w) const {
  return out_extent(in_w, d.kernel_w, d.stride_w, d.pad_w, d.dilation_w, d.output_padding_w, "width");
}

size_t Geometry::weight_elems() const {
  return size_t(d.in_channels) * size_t(oc_per_group) * size_t(d.kernel_h) * size_t(d.kernel_w);
}

size_t activation_elems(int layout, int32_t n, int32_t c, int32_t h, int32_t w, const char* what) {
  if (n < 1 || c < 1 || h < 1 || w < 1)
    throw_invalid(std::string(what) + " dims must be >= 1, got (" + std::to_string(n) + ", " + std::to_string(c) +
                  ", " + std::to_string(h) + ", " + std::to_string(w) + ")");
  const int64_t channels = layout == MGF_LAYOUT_NC4HW4 ? int64_t(ceil_div(c, 4)) * 4 : c;
  int64_t total = mul_limited(n, channels);
  if (total > 0) total = mul_limited(total, h);
  if (total > 0) total = mul_limited(total, w);
  if (total <= 0) throw_invalid(std::string(what) + " too large: more than 2^40 elements");
  return static_cast<size_t>(total);
}

}  // namespace megforge::deconv
