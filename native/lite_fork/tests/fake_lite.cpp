// A small stand-in for MegEngine's Lite library, for testing the fork-mode IPC layer on targets
// without MegEngine (linux-aarch64 under qemu, macOS, sanitizer builds). It follows the official
// library's memory rules where the fork layer depends on them: set_layout reallocates (unless the
// layout is unchanged), reset_tensor_memory adopts caller memory, outputs are written in place
// while their shape holds and reallocated when it changes, IO tensors belong to their network.
//
// Model: text "fake-lite-model scale=<float> shape=<d0>x<d1>..."; inputs "x" and "y" (float32,
// that shape), outputs "out" = x * scale + y (same shape) and "sum" = [sum(out)].
// LITE_register_parse_info_func and LITE_lookup_physic_ptr are left out on purpose.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "megforge/lite_c.h"

namespace {

std::mutex g_mu;
std::string g_error;
int g_code = 0;
LiteLogLevel g_level = WARN;

int fail(const std::string& msg) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_error = "fake-lite: " + msg;
  g_code = LITE_INTERNAL_ERROR;
  return -1;
}

size_t bytes_of(const LiteLayout& l) {
  if (l.ndim == 0) return 0;
  size_t n = 4;
  for (size_t i = 0; i < l.ndim; ++i) n *= l.shapes[i];
  return n;
}

bool same(const LiteLayout& a, const LiteLayout& b) {
  if (a.ndim != b.ndim || a.data_type != b.data_type) return false;
  for (size_t i = 0; i < a.ndim; ++i)
    if (a.shapes[i] != b.shapes[i]) return false;
  return true;
}

struct Tensor {
  LiteLayout layout{};
  int device_type = LITE_CPU;
  int device_id = 0;
  int pinned = 0;
  char* mem = nullptr;
  size_t cap = 0;
  bool owned = false;

  void release() {
    if (owned) std::free(mem);
    mem = nullptr;
    cap = 0;
    owned = false;
  }
  void realloc_for(const LiteLayout& l) {
    release();
    layout = l;
    cap = bytes_of(l);
    if (cap) {
      mem = static_cast<char*>(std::calloc(1, cap));
      owned = true;
    }
  }
  ~Tensor() { release(); }
};

std::mutex g_obj_mu;  // the sets below (the worker calls in from several threads)
std::set<Tensor*> g_tensors;  // standalone tensors (made, sliced, concatenated)

void add_tensor(Tensor* t) {
  std::lock_guard<std::mutex> lock(g_obj_mu);
  g_tensors.insert(t);
}
bool erase_tensor(Tensor* t) {
  std::lock_guard<std::mutex> lock(g_obj_mu);
  return g_tensors.erase(t) > 0;
}

struct Network {
  bool loaded = false;
  float scale = 1;
  LiteLayout shape{};
  Tensor x, y, out, sum;
  int threads = 1, device_id = 0, stream_id = 0, inplace = 0;
  LiteAsyncCallback async_cb = nullptr;
};
std::set<Network*> g_networks;

bool has_network(void* n) {
  std::lock_guard<std::mutex> lock(g_obj_mu);
  return g_networks.count(static_cast<Network*>(n)) > 0;
}

Tensor* T(LiteTensor t) { return static_cast<Tensor*>(t); }
Network* N(LiteNetwork n) { return static_cast<Network*>(n); }

bool parse_model(const char* text, size_t size, float* scale, LiteLayout* shape) {
  std::string s(text, size);
  if (s.compare(0, 15, "fake-lite-model") != 0) return false;
  *scale = 1;
  std::memset(shape, 0, sizeof *shape);
  shape->ndim = 2;
  shape->shapes[0] = 1;
  shape->shapes[1] = 4;
  size_t p = s.find("scale=");
  if (p != std::string::npos) *scale = std::strtof(s.c_str() + p + 6, nullptr);
  p = s.find("shape=");
  if (p != std::string::npos) {
    shape->ndim = 0;
    const char* c = s.c_str() + p + 6;
    while (shape->ndim < LAYOUT_MAX_DIM) {
      char* end;
      shape->shapes[shape->ndim++] = std::strtoul(c, &end, 10);
      if (*end != 'x') break;
      c = end + 1;
    }
  }
  return true;
}

Tensor* io_of(Network* n, const char* name, LiteTensorPhase phase) {
  if (!name) return nullptr;
  if (phase != LITE_OUTPUT && !std::strcmp(name, "x")) return &n->x;
  if (phase != LITE_OUTPUT && !std::strcmp(name, "y")) return &n->y;
  if (phase != LITE_INPUT && !std::strcmp(name, "out")) return &n->out;
  if (phase != LITE_INPUT && !std::strcmp(name, "sum")) return &n->sum;
  return nullptr;
}

const char* kInputs[] = {"x", "y"};
const char* kOutputs[] = {"out", "sum"};

int load(Network* n, const char* text, size_t size) {
  if (!parse_model(text, size, &n->scale, &n->shape)) return fail("not a fake-lite model");
  n->loaded = true;
  n->x.realloc_for(n->shape);
  n->y.realloc_for(n->shape);
  n->out.realloc_for(n->shape);
  LiteLayout one{};
  one.ndim = 1;
  one.shapes[0] = 1;
  n->sum.realloc_for(one);
  return 0;
}

LiteConfig g_default_config = [] {
  LiteConfig c;
  std::memset(&c, 0, sizeof c);
  c.device_id = -1;
  c.options.var_sanity_check_first_run = 1;
  c.options.graph_opt_level = 2;
  c.options.async_exec_level = 1;
  return c;
}();
LiteNetworkIO g_default_io = {nullptr, nullptr, 0, 0};

struct IoInfo {
  std::vector<LiteIO> inputs, outputs;
};
std::map<const void*, IoInfo> g_io_info;

int io_info(const void* key, const char* text, size_t size, LiteNetworkIO* ios) {
  float scale;
  LiteLayout shape;
  if (!ios) return fail("ios is NULL");
  if (!parse_model(text, size, &scale, &shape)) return fail("not a fake-lite model");
  std::lock_guard<std::mutex> lock(g_obj_mu);
  IoInfo& info = g_io_info[key];
  info.inputs = {{"x", 1, LITE_IO_VALUE, shape}, {"y", 1, LITE_IO_VALUE, shape}};
  LiteLayout one{};
  one.ndim = 1;
  one.shapes[0] = 1;
  info.outputs = {{"out", 1, LITE_IO_VALUE, shape}, {"sum", 1, LITE_IO_VALUE, one}};
  *ios = {info.inputs.data(), info.outputs.data(), 2, 2};
  return 0;
}

std::string read_file(const char* path) {
  std::string s;
  if (FILE* f = std::fopen(path, "rb")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
  }
  return s;
}

#define NEED(p, what) \
  if (!(p)) return fail(std::string(what) + " is null")
#define NET(n)                                                         \
  NEED(n, "network");                                                  \
  if (!has_network(n)) return fail("unknown network")

}  // namespace

#define API extern "C" MGF_LITE_API

API LiteConfig* default_config(void) { return &g_default_config; }
API LiteNetworkIO* default_network_io(void) { return &g_default_io; }

API int LITE_get_version(int* a, int* b, int* c) {
  NEED(a && b && c, "version pointer");
  *a = 9, *b = 8, *c = 7;
  return 0;
}
API ErrorCode LITE_get_last_error_code(void) { return static_cast<ErrorCode>(g_code); }
API void LITE_clear_last_error(void) { g_error.clear(), g_code = 0; }
API const char* LITE_get_last_error(void) { return g_error.c_str(); }
API int LITE_get_device_count(LiteDeviceType d, size_t* count) {
  NEED(count, "count");
  *count = d == LITE_CPU ? 1 : 0;
  return 0;
}
API int LITE_try_coalesce_all_free_memory(void) { return 0; }
API int LITE_register_decryption_and_key(const char* name, const LiteDecryptionFunc f, const uint8_t* k, size_t) {
  NEED(name && f && k, "decryption argument");
  return 0;
}
API int LITE_update_decryption_or_key(const char* name, const LiteDecryptionFunc, const uint8_t*, size_t) {
  NEED(name, "decrypt_name");
  return 0;
}
API int LITE_set_loader_lib_path(const char* p) { NEED(p, "path"); return 0; }
API int LITE_set_persistent_cache(const char* p, int) { NEED(p, "path"); return 0; }
API int LITE_set_tensor_rt_cache(const char* p) { NEED(p, "path"); return 0; }
API int LITE_set_log_level(LiteLogLevel l) { g_level = l; return 0; }
API int LITE_get_log_level(LiteLogLevel* l) { NEED(l, "level"); *l = g_level; return 0; }
API int LITE_dump_persistent_cache(const char* p) { NEED(p, "path"); return 0; }
API int LITE_dump_tensor_rt_cache(void) { return fail("no TensorRT"); }
API int LITE_register_memory_pair(void*, void*, size_t, LiteDeviceType, LiteBackend) { return fail("no memory pairs"); }
API int LITE_clear_memory_pair(void*, void*, LiteDeviceType, LiteBackend) { return fail("no memory pairs"); }

// ---- tensors --------------------------------------------------------------------------------

API int LITE_make_tensor(const LiteTensorDesc desc, LiteTensor* out) {
  NEED(out, "tensor");
  Tensor* t = new Tensor;
  t->device_type = desc.device_type;
  t->device_id = desc.device_id;
  t->pinned = desc.is_pinned_host;
  t->realloc_for(desc.layout);
  add_tensor(t);
  *out = t;
  return 0;
}
API int LITE_destroy_tensor(LiteTensor t) {
  NEED(t, "tensor");
  if (erase_tensor(T(t))) delete T(t);
  return 0;
}
API int LITE_set_tensor_layout(LiteTensor t, const LiteLayout l) {
  NEED(t, "tensor");
  if (!same(T(t)->layout, l)) T(t)->realloc_for(l);
  return 0;
}
API int LITE_reset_tensor_memory(LiteTensor t, void* p, size_t len) {
  NEED(t && p, "tensor or data");
  if (len < bytes_of(T(t)->layout)) return fail("memory smaller than the layout");
  T(t)->release();
  T(t)->mem = static_cast<char*>(p);
  T(t)->cap = len;
  return 0;
}
API int LITE_reset_tensor(LiteTensor t, const LiteLayout l, void* p) {
  NEED(t && p, "tensor or data");
  T(t)->release();
  T(t)->layout = l;
  T(t)->mem = static_cast<char*>(p);
  T(t)->cap = bytes_of(l);
  return 0;
}
API int LITE_tensor_reshape(LiteTensor t, const int* shape, int size) {
  NEED(t && shape, "tensor or shape");
  LiteLayout l = T(t)->layout;
  size_t total = bytes_of(l) / 4, known = 1;
  int deduce = -1;
  l.ndim = static_cast<size_t>(size);
  for (int i = 0; i < size; ++i) {
    if (shape[i] == -1) deduce = i;
    else known *= static_cast<size_t>(shape[i]), l.shapes[i] = static_cast<size_t>(shape[i]);
  }
  if (deduce >= 0) l.shapes[deduce] = known ? total / known : 0;
  if (bytes_of(l) != total * 4) return fail("reshape changes the number of elements");
  T(t)->layout = l;
  return 0;
}
API int LITE_tensor_slice(const LiteTensor t, const size_t* start, const size_t* end, const size_t* step, size_t n,
                          LiteTensor* out) {
  NEED(t && start && end && out, "slice argument");
  Tensor* s = T(t);
  if (n == 0 || n > s->layout.ndim || (step && step[0] != 1) || end[0] > s->layout.shapes[0] || start[0] >= end[0])
    return fail("only dim-0 slices with step 1");
  for (size_t i = 1; i < n; ++i)
    if (start[i] != 0 || end[i] != s->layout.shapes[i]) return fail("only dim-0 slices with step 1");
  Tensor* v = new Tensor;
  v->layout = s->layout;
  v->layout.shapes[0] = end[0] - start[0];
  size_t row = s->layout.shapes[0] ? bytes_of(s->layout) / s->layout.shapes[0] : 0;
  v->mem = s->mem + start[0] * row;
  v->cap = bytes_of(v->layout);
  add_tensor(v);
  *out = v;
  return 0;
}
API int LITE_tensor_fill_zero(LiteTensor t) {
  NEED(t, "tensor");
  if (T(t)->mem) std::memset(T(t)->mem, 0, bytes_of(T(t)->layout));
  return 0;
}
API int LITE_tensor_copy(LiteTensor d, const LiteTensor s) {
  NEED(d && s, "tensor");
  if (!same(T(d)->layout, T(s)->layout)) T(d)->realloc_for(T(s)->layout);
  if (bytes_of(T(s)->layout)) std::memcpy(T(d)->mem, T(s)->mem, bytes_of(T(s)->layout));
  return 0;
}
API int LITE_tensor_share_memory_with(LiteTensor d, const LiteTensor s) {
  NEED(d && s, "tensor");
  T(d)->release();
  T(d)->layout = T(s)->layout;
  T(d)->mem = T(s)->mem;
  T(d)->cap = T(s)->cap;
  return 0;
}
API int LITE_get_tensor_memory(const LiteTensor t, void** data) {
  NEED(t && data, "tensor or data");
  if (T(t)->layout.ndim == 0) return fail("Tensor layout is not valid when get memory ptr.");
  *data = T(t)->mem;
  return 0;
}
API int LITE_get_tensor_memory_with_index(const LiteTensor t, const size_t* index, size_t n, void** data) {
  NEED(t && index && data, "argument");
  const LiteLayout& l = T(t)->layout;
  if (n > l.ndim) return fail("index has too many dimensions");
  size_t off = 0;
  for (size_t i = 0; i < l.ndim; ++i) off = off * l.shapes[i] + (i < n ? index[i] : 0);
  *data = T(t)->mem + off * 4;
  return 0;
}
API int LITE_get_tensor_total_size_in_byte(const LiteTensor t, size_t* s) { NEED(t && s, "argument"); *s = bytes_of(T(t)->layout); return 0; }
API int LITE_get_tensor_layout(const LiteTensor t, LiteLayout* l) { NEED(t && l, "argument"); *l = T(t)->layout; return 0; }
API int LITE_get_tensor_device_type(const LiteTensor t, LiteDeviceType* d) { NEED(t && d, "argument"); *d = static_cast<LiteDeviceType>(T(t)->device_type); return 0; }
API int LITE_get_tensor_device_id(const LiteTensor t, int* d) { NEED(t && d, "argument"); *d = T(t)->device_id; return 0; }
API int LITE_is_pinned_host(const LiteTensor t, int* p) { NEED(t && p, "argument"); *p = T(t)->pinned; return 0; }
API int LITE_is_memory_continue(const LiteTensor t, int* c) { NEED(t && c, "argument"); *c = 1; return 0; }
API int LITE_tensor_concat(LiteTensor* ts, int n, int dim, LiteDeviceType, int, LiteTensor* out) {
  NEED(ts && out && n > 0, "concat argument");
  if (dim != 0) return fail("only dim-0 concat");
  LiteLayout l = T(ts[0])->layout;
  l.shapes[0] = 0;
  for (int i = 0; i < n; ++i) l.shapes[0] += T(ts[i])->layout.shapes[0];
  Tensor* r = new Tensor;
  r->realloc_for(l);
  size_t off = 0;
  for (int i = 0; i < n; ++i) {
    size_t b = bytes_of(T(ts[i])->layout);
    std::memcpy(r->mem + off, T(ts[i])->mem, b);
    off += b;
  }
  add_tensor(r);
  *out = r;
  return 0;
}

// ---- networks -------------------------------------------------------------------------------

API int LITE_make_default_network(LiteNetwork* n) {
  NEED(n, "network");
  Network* net = new Network;
  std::lock_guard<std::mutex> lock(g_obj_mu);
  g_networks.insert(net);
  *n = net;
  return 0;
}
API int LITE_make_network(LiteNetwork* n, const LiteConfig, const LiteNetworkIO io) {
  for (size_t i = 0; i < io.input_size; ++i) NEED(io.inputs[i].name, "input name");
  return LITE_make_default_network(n);
}
API int LITE_make_network_config(LiteNetwork* n, const LiteConfig) { return LITE_make_default_network(n); }
API int LITE_load_model_from_mem(LiteNetwork n, void* mem, size_t size) {
  NET(n);
  NEED(mem, "model memory");
  return load(N(n), static_cast<const char*>(mem), size);
}
API int LITE_load_model_from_path(LiteNetwork n, const char* path) {
  NET(n);
  NEED(path, "model path");
  std::string s = read_file(path);
  if (s.empty()) return fail(std::string("cannot read ") + path);
  return load(N(n), s.data(), s.size());
}
API int LITE_shared_weight_with_network(LiteNetwork d, const LiteNetwork s) { NET(d); NET(s); return 0; }
API int LITE_destroy_network(LiteNetwork n) {
  NEED(n, "network");
  bool known;
  {
    std::lock_guard<std::mutex> lock(g_obj_mu);
    known = g_networks.erase(N(n)) > 0;
  }
  if (known) delete N(n);
  return 0;
}
API int LITE_forward(const LiteNetwork n) {
  NET(n);
  Network* net = N(n);
  if (!net->loaded) return fail("the network is not loaded");
  if (!same(net->x.layout, net->y.layout)) return fail("x and y have different shapes");
  if (!same(net->out.layout, net->x.layout)) net->out.realloc_for(net->x.layout);
  size_t count = bytes_of(net->x.layout) / 4;
  const float *x = reinterpret_cast<float*>(net->x.mem), *y = reinterpret_cast<float*>(net->y.mem);
  float* out = reinterpret_cast<float*>(net->out.mem);
  float sum = 0;
  for (size_t i = 0; i < count; ++i) sum += out[i] = x[i] * net->scale + y[i];
  *reinterpret_cast<float*>(net->sum.mem) = sum;
  if (net->async_cb) net->async_cb();
  return 0;
}
API int LITE_wait(const LiteNetwork n) { NET(n); return 0; }
API int LITE_get_io_tensor(LiteNetwork n, const char* name, LiteTensorPhase phase, LiteTensor* t) {
  NET(n);
  NEED(t, "tensor");
  if (!N(n)->loaded) return fail("the network is not loaded");
  Tensor* io = io_of(N(n), name, phase);
  if (!io) return fail(std::string("no IO tensor named ") + (name ? name : "(null)"));
  *t = io;
  return 0;
}
API int LITE_get_discrete_tensor(LiteNetwork n, const char*, size_t, LiteTensorPhase, LiteTensor*) {
  NET(n);
  return fail("no discrete inputs");
}
API int LITE_get_input_name(const LiteNetwork n, size_t i, const char** name) {
  NET(n);
  NEED(name, "name");
  if (i >= 2) return fail("input index out of range");
  *name = kInputs[i];
  return 0;
}
API int LITE_get_output_name(const LiteNetwork n, size_t i, const char** name) {
  NET(n);
  NEED(name, "name");
  if (i >= 2) return fail("output index out of range");
  *name = kOutputs[i];
  return 0;
}
API int LITE_get_all_input_name(const LiteNetwork n, size_t* size, const char** name) {
  NET(n);
  if (!N(n)->loaded) return fail("the network is not loaded");
  if (size) *size = 2;
  if (name) name[0] = kInputs[0], name[1] = kInputs[1];
  return 0;
}
API int LITE_get_all_output_name(const LiteNetwork n, size_t* size, const char** name) {
  NET(n);
  if (!N(n)->loaded) return fail("the network is not loaded");
  if (size) *size = 2;
  if (name) name[0] = kOutputs[0], name[1] = kOutputs[1];
  return 0;
}
API int LITE_is_cpu_inplace_mode(const LiteNetwork n, int* v) { NET(n); NEED(v, "v"); *v = N(n)->inplace; return 0; }
API int LITE_get_cpu_threads_number(const LiteNetwork n, size_t* v) { NET(n); NEED(v, "v"); *v = static_cast<size_t>(N(n)->threads); return 0; }
API int LITE_get_device_id(const LiteNetwork n, int* v) { NET(n); NEED(v, "v"); *v = N(n)->device_id; return 0; }
API int LITE_get_stream_id(const LiteNetwork n, int* v) { NET(n); NEED(v, "v"); *v = N(n)->stream_id; return 0; }
API int LITE_get_device_type(const LiteNetwork n, LiteDeviceType* v) { NET(n); NEED(v, "v"); *v = LITE_CPU; return 0; }
API int LITE_get_model_extra_info(const LiteNetwork n, const char** info, int* size) {
  NET(n);
  NEED(size, "info_size");
  static const char kInfo[] = "{\"fake\": true}";
  if (info) *info = kInfo;
  *size = static_cast<int>(sizeof kInfo - 1);
  return 0;
}
API int LITE_set_cpu_inplace_mode(LiteNetwork n) { NET(n); N(n)->inplace = 1; return 0; }
API int LITE_set_cpu_threads_number(LiteNetwork n, size_t v) { NET(n); N(n)->threads = static_cast<int>(v); return 0; }
API int LITE_set_device_id(LiteNetwork n, int v) { NET(n); N(n)->device_id = v; return 0; }
API int LITE_set_stream_id(LiteNetwork n, int v) { NET(n); N(n)->stream_id = v; return 0; }
API int LITE_use_tensorrt(LiteNetwork n) { NET(n); return fail("no TensorRT"); }
API int LITE_set_network_algo_policy(LiteNetwork n, LiteAlgoSelectStrategy) { NET(n); return 0; }
API int LITE_set_network_algo_fastrun_config(LiteNetwork n, unsigned int, int) { NET(n); return 0; }
API int LITE_set_network_algo_workspace_limit(LiteNetwork n, size_t) { NET(n); return 0; }
API int LITE_set_async_callback(LiteNetwork n, const LiteAsyncCallback cb) { NET(n); N(n)->async_cb = cb; return 0; }
API int LITE_set_async_callback_with_userdata(LiteNetwork n, const LiteAsyncCallbackWithData, void*) { NET(n); return 0; }
API int LITE_set_start_callback(LiteNetwork n, const LiteStartCallback) { NET(n); return 0; }
API int LITE_set_start_callback_with_userdata(LiteNetwork n, const LiteStartCallbackWithData, void*) { NET(n); return 0; }
API int LITE_set_finish_callback(LiteNetwork n, const LiteFinishCallback) { NET(n); return 0; }
API int LITE_set_finish_callback_with_userdata(LiteNetwork n, const LiteFinishCallbackWithData, void*) { NET(n); return 0; }
API int LITE_set_runtime_thread_affinity(LiteNetwork n, const LiteThreadAffinityCallback) { NET(n); return 0; }
API int LITE_set_memory_allocator(LiteNetwork n, const LiteAllocate, const LiteFree) { NET(n); return 0; }
API int LITE_share_runtime_memroy(LiteNetwork d, LiteNetwork s) { NET(d); NET(s); return 0; }
API int LITE_enable_profile_performance(LiteNetwork n, const char* p) { NET(n); NEED(p, "path"); return 0; }
API int LITE_enable_io_txt_dump(LiteNetwork n, const char* p) { NET(n); NEED(p, "path"); return 0; }
API int LITE_enable_io_bin_dump(LiteNetwork n, const char* p) { NET(n); NEED(p, "path"); return 0; }
API int LITE_get_static_memory_alloc_info(LiteNetwork n, const char*) { NET(n); return fail("no memory info"); }
API int LITE_enable_global_layout_transform(LiteNetwork n) { NET(n); return 0; }
API int LITE_dump_layout_transform_model(LiteNetwork n, const char*) { NET(n); return fail("no layout transform"); }
API int LITE_get_model_io_info_by_path(const char* path, const LiteConfig, LiteNetworkIO* ios) {
  NEED(path, "model path");
  std::string s = read_file(path);
  return io_info(path, s.data(), s.size(), ios);
}
API int LITE_get_model_io_info_by_memory(const void* mem, size_t size, const LiteConfig, LiteNetworkIO* ios) {
  NEED(mem, "model memory");
  return io_info(mem, static_cast<const char*>(mem), size, ios);
}
API int LITE_extra_configure(LiteNetwork n, LiteExtraConfig) { NET(n); return 0; }
