// Fork mode: tensors. Getters answer from the state the worker last reported (no round trip).
#include <unistd.h>

#include <cstring>

#include "error.h"
#include "fork_api.h"

namespace mgf {
namespace lite {
namespace fork {

bool lookup_tensor(LiteTensor h, const char* api, Worker** w, uint64_t* id) {
  std::lock_guard<std::mutex> lock(state().mu);
  ClientTensor* t = tensor_of(h, api);
  if (!t) return false;
  if (!worker_usable(t->worker, api, "tensor")) return false;
  *w = t->worker;
  *id = t->id;
  return true;
}

int tensor_call(LiteTensor h, const char* api, uint32_t op, const Writer& args, Response* out) {
  Worker* w;
  uint64_t id;
  if (!lookup_tensor(h, api, &w, &id)) return -1;
  Writer req;
  req.u32(op);
  req.u64(id);
  req.raw(args.data().data(), args.data().size());
  Response local;
  return rpc(w, req, out ? out : &local, api);
}

ClientTensor* tensor_of(LiteTensor h, const char* api) {
  if (!h) {
    api_fail(api, "The tensor pass to LITE c_api is null");
    return nullptr;
  }
  ClientTensor* t = static_cast<ClientTensor*>(h);
  if (!state().tensors.count(t)) {
    api_fail(api, format("%p is not a live LiteTensor of this library", h));
    return nullptr;
  }
  return t;
}


namespace {

constexpr size_t kMaxDims = LAYOUT_MAX_DIM * 4;

// A new standalone tensor from an answer carrying its id (slice, concat, make).
int adopt(Worker* w, Response& r, const char* api, LiteTensor* out) {
  uint64_t id = r.results.u64();
  if (!r.results.ok()) return api_fail(api, "malformed answer from the worker");
  const TensorState* st = find_state(r, id);
  std::lock_guard<std::mutex> lock(state().mu);
  ClientTensor* t = new_tensor(w, id, nullptr);
  if (st && !apply_state(t, *st)) return api_fail(api, "malformed answer from the worker");
  *out = t;
  return 0;
}

LiteLayout layout_now(LiteTensor h) {
  std::lock_guard<std::mutex> lock(state().mu);
  return static_cast<ClientTensor*>(h)->state.layout;
}

ClientTensor* client(LiteTensor h) { return static_cast<ClientTensor*>(h); }

}  // namespace

int LITE_make_tensor(const LiteTensorDesc desc, LiteTensor* tensor) {
  const char* api = "LITE_make_tensor";
  if (!need(tensor, api, "tensor")) return -1;
  if (!valid_layout(desc.layout)) return api_fail(api, format("layout ndim %zu exceeds %d", desc.layout.ndim, LAYOUT_MAX_DIM));
  Worker* w = acquire_worker(api);
  if (!w) return -1;
  Writer req;
  req.u32(kOpMakeTensor);
  req.pod(desc);
  Response r;
  if (rpc(w, req, &r, api) != 0) return -1;
  return adopt(w, r, api, tensor);
}

int LITE_destroy_tensor(LiteTensor tensor) {
  const char* api = "LITE_destroy_tensor";
  if (!tensor) return api_fail(api, "The tensor pass to LITE c_api is null");
  State& s = state();
  ClientTensor* t = client(tensor);
  Worker* w;
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    // Unknown handles and IO tensors (owned by their network) are left alone, as in the official library.
    if (!s.tensors.count(t) || t->owner) return 0;
    s.tensors.erase(t);
    w = t->worker;
    id = t->id;
  }
  int rc = 0;
  if (!w->dead.load() && w->owner_pid == getpid()) {
    Writer req;
    req.u32(kOpDestroyTensor);
    req.u64(id);
    Response r;
    rc = rpc(w, req, &r, api);
  }
  std::lock_guard<std::mutex> lock(s.mu);
  delete_tensor(t);
  return rc;
}

int LITE_set_tensor_layout(LiteTensor tensor, const LiteLayout layout) {
  const char* api = "LITE_set_tensor_layout";
  if (!valid_layout(layout)) return api_fail(api, format("layout ndim %zu exceeds %d", layout.ndim, LAYOUT_MAX_DIM));
  Writer a;
  a.pod(layout);
  LiteLayout before;
  std::memset(&before, 0, sizeof before);
  {
    std::lock_guard<std::mutex> lock(state().mu);
    if (ClientTensor* t = tensor_of(tensor, api)) before = t->state.layout;
  }
  if (tensor_call(tensor, api, kOpSetLayout, a) != 0) return -1;
  std::lock_guard<std::mutex> lock(state().mu);
  ClientTensor* t = tensor_of(tensor, api);
  // A different layout reallocates in the official library: caller memory is no longer used.
  if (t && t->user_ptr && !same_layout(before, t->state.layout)) {
    t->user_ptr = nullptr;
    t->user_len = 0;
  }
  return 0;
}

int LITE_tensor_reshape(LiteTensor tensor, const int* shape, int size) {
  const char* api = "LITE_tensor_reshape";
  if (!need(shape, api, "shape")) return -1;
  if (size < 0 || static_cast<size_t>(size) > kMaxDims) return api_fail(api, format("size %d is out of range", size));
  Writer a;
  a.u64(static_cast<uint64_t>(size));
  for (int i = 0; i < size; ++i) a.i32(shape[i]);
  return tensor_call(tensor, api, kOpReshape, a);
}

int LITE_tensor_slice(const LiteTensor tensor, const size_t* start, const size_t* end, const size_t* step, size_t size,
                      LiteTensor* slice) {
  const char* api = "LITE_tensor_slice";
  if (!need(start, api, "start") || !need(end, api, "end") || !need(slice, api, "slice_tensor")) return -1;
  if (size > kMaxDims) return api_fail(api, format("size %zu is out of range", size));
  Worker* w;
  uint64_t id;
  if (!lookup_tensor(tensor, api, &w, &id)) return -1;
  sync_in(client(tensor));
  Writer req;
  req.u32(kOpSlice);
  req.u64(id);
  req.u64(size);
  for (size_t i = 0; i < size; ++i) req.u64(start[i]);
  for (size_t i = 0; i < size; ++i) req.u64(end[i]);
  req.u8(step ? 1 : 0);
  for (size_t i = 0; step && i < size; ++i) req.u64(step[i]);
  Response r;
  if (rpc(w, req, &r, api) != 0) return -1;
  return adopt(w, r, api, slice);
}

int LITE_tensor_fill_zero(LiteTensor tensor) {
  const char* api = "LITE_tensor_fill_zero";
  if (tensor_call(tensor, api, kOpFillZero, Writer()) != 0) return -1;
  std::lock_guard<std::mutex> lock(state().mu);
  ClientTensor* t = tensor_of(tensor, api);
  if (t && t->user_ptr) std::memset(t->user_ptr, 0, t->user_len < t->state.nbytes ? t->user_len : t->state.nbytes);
  return 0;
}

int LITE_tensor_copy(LiteTensor dst, const LiteTensor src) {
  const char* api = "LITE_tensor_copy";
  Worker *wd, *ws;
  uint64_t d, s;
  if (!lookup_tensor(dst, api, &wd, &d) || !lookup_tensor(src, api, &ws, &s)) return -1;
  if (wd != ws) return api_fail(api, "the two tensors live in different workers");
  sync_in(client(src));
  LiteLayout before = layout_now(dst);
  Writer req;
  req.u32(kOpCopy);
  req.u64(d);
  req.u64(s);
  Response r;
  if (rpc(wd, req, &r, api) != 0) return -1;
  sync_out(client(dst), before);
  return 0;
}

int LITE_tensor_share_memory_with(LiteTensor dst, const LiteTensor src) {
  const char* api = "LITE_tensor_share_memory_with";
  Worker *wd, *ws;
  uint64_t d, s;
  if (!lookup_tensor(dst, api, &wd, &d) || !lookup_tensor(src, api, &ws, &s)) return -1;
  if (wd != ws) return api_fail(api, "the two tensors live in different workers");
  sync_in(client(src));
  Writer req;
  req.u32(kOpShareMemory);
  req.u64(d);
  req.u64(s);
  Response r;
  if (rpc(wd, req, &r, api) != 0) return -1;
  std::lock_guard<std::mutex> lock(state().mu);
  ClientTensor *td = tensor_of(dst, api), *ts = tensor_of(src, api);
  if (td && ts) {
    td->user_ptr = ts->user_ptr;
    td->user_len = ts->user_len;
  }
  return 0;
}

#define MGF_GETTER(fn, type, param, expr)                \
  int fn(const LiteTensor tensor, type* param) {         \
    if (!need(param, #fn, #param)) return -1;            \
    std::lock_guard<std::mutex> lock(state().mu);        \
    ClientTensor* t = tensor_of(tensor, #fn);            \
    if (!t) return -1;                                   \
    *param = static_cast<type>(expr);                    \
    return 0;                                            \
  }
MGF_GETTER(LITE_get_tensor_total_size_in_byte, size_t, size, t->state.nbytes)
MGF_GETTER(LITE_get_tensor_device_type, LiteDeviceType, device_type, t->state.device_type)
MGF_GETTER(LITE_get_tensor_device_id, int, device_id, t->state.device_id)
MGF_GETTER(LITE_is_pinned_host, int, is_pinned_host, t->state.is_pinned_host)
MGF_GETTER(LITE_is_memory_continue, int, is_continue, t->state.is_continue)
#undef MGF_GETTER

int LITE_get_tensor_layout(const LiteTensor tensor, LiteLayout* layout) {
  const char* api = "LITE_get_tensor_layout";
  if (!need(layout, api, "layout")) return -1;
  std::lock_guard<std::mutex> lock(state().mu);
  ClientTensor* t = tensor_of(tensor, api);
  if (!t) return -1;
  *layout = t->state.layout;
  return 0;
}

int LITE_tensor_concat(LiteTensor* tensors, int nr_tensor, int dim, LiteDeviceType dst_device, int device_id,
                       LiteTensor* result) {
  const char* api = "LITE_tensor_concat";
  if (!need(tensors, api, "tensors") || !need(result, api, "result_tensor")) return -1;
  if (nr_tensor <= 0 || nr_tensor > (1 << 16)) return api_fail(api, format("nr_tensor %d is out of range", nr_tensor));
  Worker* w = nullptr;
  std::vector<uint64_t> ids;
  for (int i = 0; i < nr_tensor; ++i) {
    Worker* wi;
    uint64_t id;
    if (!lookup_tensor(tensors[i], api, &wi, &id)) return -1;
    if (w && wi != w) return api_fail(api, "the tensors live in different workers");
    w = wi;
    ids.push_back(id);
    sync_in(client(tensors[i]));
  }
  Writer req;
  req.u32(kOpConcat);
  req.u64(ids.size());
  for (uint64_t id : ids) req.u64(id);
  req.i32(dim);
  req.i32(dst_device);
  req.i32(device_id);
  Response r;
  if (rpc(w, req, &r, api) != 0) return -1;
  return adopt(w, r, api, result);
}

}  // namespace fork
}  // namespace lite
}  // namespace mgf
