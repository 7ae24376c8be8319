// The MegEngine custom ops of megforge/mge_op.h: NC4HW4 transposed convolution through
// megforge's deconvolution (plan_cache.h). Built with -std=c++14 -D_GLIBCXX_USE_CXX11_ABI=0
// against the official wheel's megbrain/custom headers.
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "megbrain/custom/custom.h"
#include "megforge/deconv.h"
#include "megforge/mge_op.h"
#include "plan_cache.h"

using custom::DType;
using custom::DTypeEnum;
using custom::Param;
using custom::Shape;
using custom::Tensor;

namespace megforge {
namespace mge_op {

namespace {

// A failed check: MegEngine turns the exception into a Python RuntimeError (eager, trace) or
// a failed call (Lite). (custom::assert_failed_log only logs.)
[[noreturn]] void fail(const std::string& message) {
  throw std::runtime_error("megforge conv_transpose2d (NC4HW4): " + message);
}

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.ndim(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.ndim() == 1 ? ",)" : ")");
}

int32_t param(const Param& params, const char* name) { return params[name].as<int32_t>(); }

int32_t to_i32(size_t v, const char* what) {
  if (v > static_cast<size_t>(std::numeric_limits<int32_t>::max())) fail(std::string(what) + " is too large");
  return static_cast<int32_t>(v);
}

// Everything one call needs, derived from the input shapes and the params.
struct Problem {
  mgf_deconv_desc desc;
  int32_t batch, in_h, in_w, out_h, out_w;
  size_t weight_elems;
};

Problem make_problem(const Shape& x, const Shape& w, const Shape* bias, const Param& params) {
  Problem p{};
  mgf_deconv_desc& d = p.desc;
  d.stride_h = param(params, "stride_h");
  d.stride_w = param(params, "stride_w");
  d.pad_h = param(params, "pad_h");
  d.pad_w = param(params, "pad_w");
  d.dilation_h = param(params, "dilate_h");
  d.dilation_w = param(params, "dilate_w");
  d.output_padding_h = param(params, "output_pad_h");
  d.output_padding_w = param(params, "output_pad_w");
  d.groups = param(params, "groups");
  if (d.groups < 1) fail("groups must be >= 1, got " + std::to_string(d.groups));

  if (x.ndim() != 5 || x[4] != 4)
    fail("input must be NC4HW4 (N, ceil(C/4), H, W, 4), got shape " + shape_str(x));
  if (w.ndim() == 4) {  // (C_in, C_out/groups, KH, KW)
    d.in_channels = to_i32(w[0], "weight");
    d.out_channels = to_i32(w[1] * static_cast<size_t>(d.groups), "weight");
  } else if (w.ndim() == 5) {  // (groups, C_in/groups, C_out/groups, KH, KW)
    if (w[0] != static_cast<size_t>(d.groups))
      fail("5-D weight " + shape_str(w) + " has " + std::to_string(w[0]) + " groups, but groups=" +
           std::to_string(d.groups));
    d.in_channels = to_i32(w[0] * w[1], "weight");
    d.out_channels = to_i32(w[0] * w[2], "weight");
  } else {
    fail("weight must be (C_in, C_out/groups, KH, KW) or (groups, C_in/groups, C_out/groups, KH, KW), got " +
         shape_str(w));
  }
  d.kernel_h = to_i32(w[w.ndim() - 2], "kernel height");
  d.kernel_w = to_i32(w[w.ndim() - 1], "kernel width");
  if (d.in_channels % d.groups != 0)
    fail("C_in=" + std::to_string(d.in_channels) + " is not divisible by groups=" + std::to_string(d.groups));
  const size_t blocks = (static_cast<size_t>(d.in_channels) + 3) / 4;
  if (x[1] != blocks)
    fail("input " + shape_str(x) + " has " + std::to_string(x[1]) + " channel blocks, but the weight " +
         shape_str(w) + " has C_in=" + std::to_string(d.in_channels) + " (needs " + std::to_string(blocks) +
         " blocks of 4)");
  if (bias != nullptr) {
    const Shape& b = *bias;
    const bool ok = (b.ndim() == 1 && b[0] == static_cast<size_t>(d.out_channels)) ||
                    (b.ndim() == 4 && b[0] == 1 && b[1] == static_cast<size_t>(d.out_channels) && b[2] == 1 &&
                     b[3] == 1);
    if (!ok)
      fail("bias must be (" + std::to_string(d.out_channels) + ",) or (1, " + std::to_string(d.out_channels) +
           ", 1, 1) for C_out=" + std::to_string(d.out_channels) + ", got " + shape_str(b));
  }
  if (mgf_deconv_check(&d) != MGF_OK) fail(mgf_last_error());

  p.batch = to_i32(x[0], "batch");
  p.in_h = to_i32(x[2], "input height");
  p.in_w = to_i32(x[3], "input width");
  if (mgf_deconv_output_size(&d, p.in_h, p.in_w, &p.out_h, &p.out_w) != MGF_OK) fail(mgf_last_error());
  p.weight_elems = static_cast<size_t>(d.in_channels) * (d.out_channels / d.groups) * d.kernel_h * d.kernel_w;
  return p;
}

const Shape* bias_shape(const std::vector<Shape>& inputs) { return inputs.size() > 2 ? &inputs[2] : nullptr; }

void infer_shape(const std::vector<Shape>& inputs, const Param& params, std::vector<Shape>& outputs) {
  const Problem p = make_problem(inputs[0], inputs[1], bias_shape(inputs), params);
  outputs[0] = Shape({static_cast<size_t>(p.batch), (static_cast<size_t>(p.desc.out_channels) + 3) / 4,
                      static_cast<size_t>(p.out_h), static_cast<size_t>(p.out_w), size_t(4)});
}

void infer_dtype(const std::vector<DType>& inputs, const Param&, std::vector<DType>& outputs) {
  static const char* const names[] = {"input", "weight", "bias"};
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].enumv() != DTypeEnum::float32)
      fail(std::string(names[i]) + " must be float32, got " + inputs[i].str());
  outputs[0] = DType(DTypeEnum::float32);
}

void infer_device(const std::vector<custom::Device>& inputs, const Param&, std::vector<custom::Device>& outputs) {
  for (const custom::Device& d : inputs)
    if (d.enumv() != custom::DeviceEnum::x86) fail("runs on the CPU only, got a tensor on " + d.str());
  outputs[0] = inputs[0];
}

const float* float_data(const Tensor& t, const char* what) {
  if (t.dtype().enumv() != DTypeEnum::float32) fail(std::string(what) + " must be float32, got " + t.dtype().str());
  if (!t.is_contiguous()) fail(std::string(what) + " must be contiguous");
  return static_cast<const float*>(t.data());
}

void compute(const std::vector<Tensor>& inputs, const Param& params, std::vector<Tensor>& outputs) {
  const Shape bias = inputs.size() > 2 ? inputs[2].shape() : Shape();
  const Problem p = make_problem(inputs[0].shape(), inputs[1].shape(), inputs.size() > 2 ? &bias : nullptr, params);
  const float* x = float_data(inputs[0], "input");
  const float* w = float_data(inputs[1], "weight");
  const float* b = inputs.size() > 2 ? float_data(inputs[2], "bias") : nullptr;
  float* y = const_cast<float*>(float_data(outputs[0], "output"));
  if (p.batch == 0) return;  // empty output: nothing to write
  try {
    plan_cache().get(p.desc, w, p.weight_elems, b)->execute(x, p.batch, p.in_h, p.in_w, y);
  } catch (const std::exception& e) {
    fail(e.what());
  }
}

}  // namespace

custom::CustomOp& define(custom::CustomOp& op, bool with_bias) {
  op.set_description(with_bias ? "megforge NC4HW4 transposed convolution with bias (float32, CPU)"
                               : "megforge NC4HW4 transposed convolution (float32, CPU)")
      .add_input("x", "NC4HW4 input (N, ceil(C_in/4), H, W, 4)", {"float32"})
      .add_input("weight", "(C_in, C_out/groups, KH, KW) or (groups, C_in/groups, C_out/groups, KH, KW)",
                 {"float32"});
  if (with_bias) op.add_input("bias", "(C_out,) or (1, C_out, 1, 1)", {"float32"});
  op.add_output("y", "NC4HW4 output (N, ceil(C_out/4), OH, OW, 4)", {"float32"})
      .add_param("stride_h", "stride along H", int32_t(1))
      .add_param("stride_w", "stride along W", int32_t(1))
      .add_param("pad_h", "zero padding removed from both ends of H", int32_t(0))
      .add_param("pad_w", "zero padding removed from both ends of W", int32_t(0))
      .add_param("dilate_h", "kernel dilation along H", int32_t(1))
      .add_param("dilate_w", "kernel dilation along W", int32_t(1))
      .add_param("output_pad_h", "extra rows at the bottom of the output", int32_t(0))
      .add_param("output_pad_w", "extra columns at the right of the output", int32_t(0))
      .add_param("groups", "channel groups", int32_t(1))
      .set_device_infer(infer_device)
      .set_shape_infer(infer_shape)
      .set_dtype_infer(infer_dtype)
      .set_compute("x86", compute);
  return op;
}

}  // namespace mge_op
}  // namespace megforge

extern "C" {

__attribute__((visibility("default"))) unsigned mgf_mge_op_version_number(void) { return MGF_MGE_OP_VERSION_NUMBER; }
__attribute__((visibility("default"))) int mgf_mge_op_set_num_threads(int n) { return mgf_set_num_threads(n); }
__attribute__((visibility("default"))) int mgf_mge_op_get_num_threads(void) { return mgf_get_num_threads(); }

}  // extern "C"

namespace {

// Registered with MegEngine's op manager while the library is being loaded.
__attribute__((unused)) const bool registered = [] {
  megforge::mge_op::define(*custom::op_insert(MGF_MGE_OP_DECONV, CUSTOM_OP_VERSION), false);
  megforge::mge_op::define(*custom::op_insert(MGF_MGE_OP_DECONV_BIAS, CUSTOM_OP_VERSION), true);
  return true;
}();

}  // namespace
