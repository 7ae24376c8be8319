#include "protocol.h"

namespace mgf {
namespace lite {

namespace {
constexpr size_t kMaxIos = 1u << 16;
}

const LiteConfig& ConfigBuf::get() {
  config.bare_model_cryption_name = has_crypt_name ? crypt_name.c_str() : nullptr;
  config.discrete_input_name = has_discrete_name ? discrete_name.c_str() : nullptr;
  return config;
}

LiteNetworkIO IoBuf::get() {
  LiteNetworkIO io;
  io.inputs = inputs.empty() ? nullptr : inputs.data();
  io.outputs = outputs.empty() ? nullptr : outputs.data();
  io.input_size = inputs.size();
  io.output_size = outputs.size();
  return io;
}

void write_config(Writer& w, const LiteConfig& c) {
  w.i32(c.has_compression);
  w.i32(c.device_id);
  w.i32(c.device_type);
  w.i32(c.backend);
  w.opt_cstr(c.bare_model_cryption_name);
  w.pod(c.options);
  w.i32(c.auto_optimize_inference);
  w.opt_cstr(c.discrete_input_name);
}

bool read_config(Reader& r, ConfigBuf* out) {
  LiteConfig& c = out->config;
  c.has_compression = r.i32();
  c.device_id = r.i32();
  c.device_type = static_cast<LiteDeviceType>(r.i32());
  c.backend = static_cast<LiteBackend>(r.i32());
  out->has_crypt_name = r.opt_cstr(&out->crypt_name);
  c.options = r.pod<LiteOptions>();
  c.auto_optimize_inference = r.i32();
  out->has_discrete_name = r.opt_cstr(&out->discrete_name);
  out->get();
  return r.ok();
}

void write_ios(Writer& w, const LiteIO* ios, size_t n) {
  w.u64(n);
  for (size_t i = 0; i < n; ++i) {
    w.str(ios[i].name, std::strlen(ios[i].name));
    w.i32(ios[i].is_host);
    w.i32(ios[i].io_type);
    w.pod(ios[i].config_layout);
  }
}

bool read_ios(Reader& r, std::vector<std::string>* names, std::vector<LiteIO>* ios) {
  uint64_t n = r.u64();
  if (!r.ok() || n > kMaxIos) {
    r.fail();
    return false;
  }
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    names->push_back(r.str());
    LiteIO io;
    io.name = nullptr;
    io.is_host = r.i32();
    io.io_type = static_cast<LiteIOType>(r.i32());
    io.config_layout = r.pod<LiteLayout>();
    if (!valid_layout(io.config_layout)) r.fail();
    ios->push_back(io);
  }
  return r.ok();
}

bool read_network_io(Reader& r, IoBuf* out) {
  out->names.clear();
  out->inputs.clear();
  out->outputs.clear();
  if (!read_ios(r, &out->names, &out->inputs)) return false;
  if (!read_ios(r, &out->names, &out->outputs)) return false;
  size_t k = 0;
  for (LiteIO& io : out->inputs) io.name = out->names[k++].c_str();
  for (LiteIO& io : out->outputs) io.name = out->names[k++].c_str();
  return true;
}

bool valid_layout(const LiteLayout& l) { return l.ndim <= LAYOUT_MAX_DIM; }

bool same_layout(const LiteLayout& a, const LiteLayout& b) {
  if (a.ndim != b.ndim || a.data_type != b.data_type || a.ndim > LAYOUT_MAX_DIM) return false;
  for (size_t i = 0; i < a.ndim; ++i)
    if (a.shapes[i] != b.shapes[i]) return false;
  return true;
}

LiteLayout clean_layout(const LiteLayout& l) {
  LiteLayout c;
  std::memset(&c, 0, sizeof c);
  c.ndim = l.ndim <= LAYOUT_MAX_DIM ? l.ndim : 0;
  c.data_type = l.data_type;
  for (size_t i = 0; i < c.ndim; ++i) c.shapes[i] = l.shapes[i];
  return c;
}

size_t layout_bytes(const LiteLayout& l) {
  size_t elem;
  switch (l.data_type) {
    case LITE_FLOAT: case LITE_INT: case LITE_UINT: elem = 4; break;
    case LITE_HALF: case LITE_INT16: case LITE_UINT16: elem = 2; break;
    case LITE_INT8: case LITE_UINT8: elem = 1; break;
    case LITE_INT64: elem = 8; break;
    default: return 0;
  }
  if (l.ndim == 0 || l.ndim > LAYOUT_MAX_DIM) return 0;
  size_t n = elem;
  for (size_t i = 0; i < l.ndim; ++i) {
    if (l.shapes[i] != 0 && n > SIZE_MAX / l.shapes[i]) return 0;
    n *= l.shapes[i];
  }
  return n;
}

}  // namespace lite
}  // namespace mgf
