// Fork mode: tensor memory. LITE_get_tensor_memory answers from the last reported state: an
// address in shared memory this process maps, or the caller memory the tensor was bound to.
#include <cstring>

#include "error.h"
#include "fork_api.h"

namespace mgf {
namespace lite {
namespace fork {

namespace {

constexpr size_t kMaxDims = LAYOUT_MAX_DIM * 4;

// Bind a tensor to memory: zero-copy if the memory is a block we share with the worker, else to
// a private shared copy of caller memory (synchronised around the calls that use it).
int reset(LiteTensor h, const char* api, void* data, size_t len, const LiteLayout* layout) {
  if (!need(data, api, "prepared_data")) return -1;
  Worker* w;
  uint64_t id;
  if (!lookup_tensor(h, api, &w, &id)) return -1;
  uint64_t offset = 0, block;
  {
    std::lock_guard<std::mutex> lock(state().mu);
    block = block_containing(w, data, len, &offset);
  }
  Writer req;
  req.u32(block ? kOpResetShared : kOpResetUser);
  req.u64(id);
  req.u32(layout ? 1 : 0);
  LiteLayout zero;
  std::memset(&zero, 0, sizeof zero);
  req.pod(layout ? *layout : zero);
  if (block) {
    req.u64(block);
    req.u64(offset);
  }
  req.u64(len);
  Response r;
  if (rpc(w, req, &r, api) != 0) return -1;
  std::lock_guard<std::mutex> lock(state().mu);
  ClientTensor* t = tensor_of(h, api);
  if (!t) return -1;
  t->user_ptr = block ? nullptr : data;
  t->user_len = block ? 0 : len;
  return 0;
}


}  // namespace

int LITE_reset_tensor_memory(LiteTensor tensor, void* data, size_t length) {
  return reset(tensor, "LITE_reset_tensor_memory", data, length, nullptr);
}

int LITE_reset_tensor(LiteTensor tensor, const LiteLayout layout, void* data) {
  const char* api = "LITE_reset_tensor";
  size_t len = layout_bytes(layout);
  if (!len) return api_fail(api, "the layout is empty or has an unsupported data type");
  return reset(tensor, api, data, len, &layout);
}

int LITE_get_tensor_memory(const LiteTensor tensor, void** data) {
  const char* api = "LITE_get_tensor_memory";
  if (!need(data, api, "data")) return -1;
  {
    std::lock_guard<std::mutex> lock(state().mu);
    ClientTensor* t = tensor_of(tensor, api);
    if (!t) return -1;
    if (t->user_ptr) {
      *data = t->user_ptr;
      return 0;
    }
    if (uint8_t* p = shared_address(t)) {
      *data = p;
      return 0;
    }
  }
  // Not in shared memory: ask, to report the library's own answer (an error, or NULL).
  Response r;
  if (tensor_call(tensor, api, kOpGetMemory, Writer(), &r) != 0) return -1;
  uint32_t kind = r.results.u32();
  uint64_t block = r.results.u64(), offset = r.results.u64();
  std::lock_guard<std::mutex> lock(state().mu);
  ClientTensor* t = tensor_of(tensor, api);
  if (!t) return -1;
  auto it = t->worker->blocks.find(block);
  if (kind == 0) {
    *data = nullptr;
  } else if (kind == 1 && it != t->worker->blocks.end() && offset < it->second.size) {
    *data = it->second.base + offset;
  } else {
    return api_fail(api, "the memory of this tensor is not host memory shared with the worker (a device "
                         "tensor, or a view of one); copy it into a CPU tensor with LITE_tensor_copy first");
  }
  return 0;
}

int LITE_get_tensor_memory_with_index(const LiteTensor tensor, const size_t* index, size_t size, void** data) {
  const char* api = "LITE_get_tensor_memory_with_index";
  if (!need(index, api, "index") || !need(data, api, "data")) return -1;
  if (size > kMaxDims) return api_fail(api, format("size %zu is out of range", size));
  Writer a;
  a.u64(size);
  for (size_t i = 0; i < size; ++i) a.u64(index[i]);
  Response r;
  if (tensor_call(tensor, api, kOpMemoryWithIndex, a, &r) != 0) return -1;
  uint32_t kind = r.results.u32();
  uint64_t block = r.results.u64(), offset = r.results.u64();
  std::lock_guard<std::mutex> lock(state().mu);
  ClientTensor* t = tensor_of(tensor, api);
  if (!t) return -1;
  auto it = t->worker->blocks.find(block);
  if (kind == 0) {
    *data = nullptr;
    return 0;
  }
  if (kind != 1 || it == t->worker->blocks.end() || offset >= it->second.size)
    return api_fail(api, "the memory of this tensor is not host memory shared with the worker");
  if (t->user_ptr && block == t->block_ref && offset >= t->state.offset && offset - t->state.offset < t->user_len)
    *data = static_cast<uint8_t*>(t->user_ptr) + (offset - t->state.offset);
  else
    *data = it->second.base + offset;
  return 0;
}

}  // namespace fork
}  // namespace lite
}  // namespace mgf
