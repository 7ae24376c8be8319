// The worker's shared-memory blocks and how tensors are moved into them ("binding").
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "error.h"
#include "shm.h"
#include "worker.h"

namespace mgf {
namespace lite {

// ---- blocks ---------------------------------------------------------------------------------

WBlock* Server::new_block(size_t size, Reply& rep) {
  size = page_round(size ? size : 1);
  std::string error;
  int fd = shm_create(size, true, &error);
  if (fd < 0) return nullptr;
  void* base = shm_map(fd, size, true, false, &error);
  if (!base) {
    close(fd);
    return nullptr;
  }
  WBlock* b = new WBlock{0, static_cast<uint8_t*>(base), size, 0};
  {
    std::lock_guard<std::mutex> lock(mu_);
    b->id = next_id_++;
    blocks_[reinterpret_cast<uintptr_t>(base)] = b;
    blocks_by_id_[b->id] = b;
  }
  rep.new_blocks.push_back({b->id, size, fd});
  return b;
}

WBlock* Server::find_block(const void* p, size_t len) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = blocks_.upper_bound(a);
  if (it == blocks_.begin()) return nullptr;
  --it;
  WBlock* b = it->second;
  uintptr_t base = reinterpret_cast<uintptr_t>(b->base);
  if (a < base || a - base > b->size || len > b->size - (a - base)) return nullptr;
  return b;
}

void Server::retain(WBlock* b) {
  if (b) ++b->refs;
}

void Server::release(WBlock* b) {
  if (!b || --b->refs > 0) return;
  blocks_.erase(reinterpret_cast<uintptr_t>(b->base));
  blocks_by_id_.erase(b->id);
  released_.push_back(b->id);
  shm_unmap(b->base, b->size);
  delete b;
}

void Server::set_block(WTensor* t, WBlock* b) {
  if (t->block == b) return;
  retain(b);
  release(t->block);
  t->block = b;
}

WTensor* Server::add_tensor(LiteTensor h, uint64_t owner, uint32_t io_flags, bool bindable) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_handle_.find(h);
  if (it != by_handle_.end()) {
    WTensor* t = tensors_[it->second];
    if (t->owner == owner) return t;
    // A handle the library reused after we forgot it: start over.
    drop_tensor(t);
  }
  WTensor* t = new WTensor{next_id_++, h, owner, io_flags, bindable, nullptr, TensorState(), nullptr};
  t->last.id = 0;  // never reported yet
  tensors_[t->id] = t;
  by_handle_[h] = t->id;
  return t;
}

void Server::drop_tensor(WTensor* t) {
  release(t->block);
  tensors_.erase(t->id);
  auto it = by_handle_.find(t->handle);
  if (it != by_handle_.end() && it->second == t->id) by_handle_.erase(it);
  delete t;
}

// ---- binding --------------------------------------------------------------------------------

WBlock* Server::bind(WTensor* t, void* current, size_t nbytes, bool preserve, Reply& rep) {
  if (!api_.LITE_reset_tensor_memory) return nullptr;
  WBlock* b = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (t->block && t->block->refs == 1 && t->block->size >= nbytes) b = t->block;
  }
  if (!b) {
    // Growing tensors get 1.5x room so that a sequence of larger shapes does not reallocate each time.
    size_t old = t->block ? t->block->size : 0;
    size_t want = old && old < nbytes ? std::max(nbytes, old + old / 2) : nbytes;
    b = new_block(want, rep);
    if (!b) return nullptr;
  }
  if (preserve && current != b->base) {
    std::memcpy(b->base, current, nbytes);
    rep.copied += nbytes;
  }
  void* now = nullptr;
  bool ok = api_.LITE_reset_tensor_memory(t->handle, b->base, b->size) == 0 &&
            api_.LITE_get_tensor_memory(t->handle, &now) == 0 && now == b->base;
  std::lock_guard<std::mutex> lock(mu_);
  if (!ok) {
    if (b->refs == 0) {
      retain(b);
      release(b);
    }
    return nullptr;
  }
  set_block(t, b);
  return b;
}

void Server::refresh(WTensor* t, Reply& rep, bool preserve) {
  TensorState st;
  std::memset(&st, 0, sizeof st);
  st.id = t->id;
  st.flags = t->io_flags;
  LiteDeviceType dev = LITE_CPU;
  size_t nbytes = 0;
  LiteLayout layout;
  if (api_.LITE_get_tensor_layout(t->handle, &layout) == 0 && valid_layout(layout)) st.layout = clean_layout(layout);
  if (api_.LITE_get_tensor_total_size_in_byte(t->handle, &nbytes) != 0) nbytes = 0;
  if (api_.LITE_get_tensor_device_type(t->handle, &dev) != 0) dev = LITE_CPU;
  if (api_.LITE_get_tensor_device_id(t->handle, &st.device_id) != 0) st.device_id = 0;
  if (api_.LITE_is_pinned_host(t->handle, &st.is_pinned_host) != 0) st.is_pinned_host = 0;
  if (!api_.LITE_is_memory_continue || api_.LITE_is_memory_continue(t->handle, &st.is_continue) != 0)
    st.is_continue = 1;
  st.device_type = dev;
  st.nbytes = nbytes;
  void* p = nullptr;
  bool host = dev == LITE_CPU || st.is_pinned_host;
  if (host && st.layout.ndim > 0 && nbytes > 0 && api_.LITE_get_tensor_memory(t->handle, &p) == 0 && p) {
    WBlock* b;
    {
      std::lock_guard<std::mutex> lock(mu_);
      b = find_block(p, st.is_continue ? nbytes : 1);
      if (b) set_block(t, b);
    }
    if (!b && t->bindable && st.is_continue) {
      b = bind(t, p, nbytes, preserve, rep);
      if (b) p = b->base;
    }
    if (b) {
      st.flags |= kTensorShared;
      st.block = b->id;
      st.offset = static_cast<uint64_t>(static_cast<uint8_t*>(p) - b->base);
    }
  }
  t->last = st;
  t->last_ptr = p;
  rep.states.push_back(st);
}

bool Server::unchanged(WTensor* t) {
  if (t->last.id != t->id || !(t->last.flags & kTensorShared)) return false;
  LiteLayout layout;
  void* p = nullptr;
  if (api_.LITE_get_tensor_layout(t->handle, &layout) != 0 || !same_layout(layout, t->last.layout)) return false;
  return api_.LITE_get_tensor_memory(t->handle, &p) == 0 && p == t->last_ptr;
}

void Server::refresh_network(WNetwork* net, Reply& rep, bool after_forward) {
  std::vector<WTensor*> ts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t id : net->tensors) {
      auto it = tensors_.find(id);
      if (it == tensors_.end()) continue;
      if (after_forward && it->second->io_flags == kTensorIsInput && it->second->last.id == id) continue;
      ts.push_back(it->second);
    }
  }
  for (WTensor* t : ts)
    if (!unchanged(t)) refresh(t, rep, true);
}

void Server::io_names(WNetwork* net, std::vector<std::string>* inputs, std::vector<std::string>* outputs) {
  for (int k = 0; k < 2; ++k) {
    auto fn = k == 0 ? api_.LITE_get_all_input_name : api_.LITE_get_all_output_name;
    std::vector<std::string>* out = k == 0 ? inputs : outputs;
    size_t n = 0;
    if (!fn || fn(net->handle, &n, nullptr) != 0 || n > (1u << 16)) continue;
    std::vector<const char*> names(n, nullptr);
    if (fn(net->handle, nullptr, names.data()) != 0) continue;
    for (const char* s : names) out->push_back(s ? s : "");
  }
}

}  // namespace lite
}  // namespace mgf
