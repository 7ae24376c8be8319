// Fork mode, caller side: shared-memory blocks mapped here, tensor states, caller-memory copies.
#include <cstring>

#include "client.h"
#include "shm.h"

namespace mgf {
namespace lite {
namespace fork {

const TensorState* find_state(const Response& r, uint64_t id) {
  for (auto it = r.states.rbegin(); it != r.states.rend(); ++it)
    if (it->id == id) return &*it;
  return nullptr;
}

bool apply_state(ClientTensor* t, const TensorState& st) {
  Worker* w = t->worker;
  if (!valid_layout(st.layout)) return false;
  uint64_t new_ref = 0;
  if (st.flags & kTensorShared) {
    auto it = w->blocks.find(st.block);
    if (it == w->blocks.end()) return false;
    const Block& b = it->second;
    if (st.offset > b.size || (st.is_continue && st.nbytes > b.size - st.offset)) return false;
    new_ref = st.block;
  }
  if (new_ref != t->block_ref) {
    if (new_ref) w->blocks[new_ref].refs++;
    if (t->block_ref) {
      auto it = w->blocks.find(t->block_ref);
      if (it != w->blocks.end() && --it->second.refs <= 0) w->collect_needed = true;
    }
    t->block_ref = new_ref;
  }
  t->state = st;
  return true;
}

void collect_blocks(Worker* w) {
  State& s = state();
  w->collect_needed = false;
  for (auto it = w->blocks.begin(); it != w->blocks.end();) {
    if (it->second.worker_released && it->second.refs <= 0) {
      shm_unmap(it->second.base, it->second.size);
      s.stats.shm_blocks_mapped--;
      it = w->blocks.erase(it);
    } else {
      ++it;
    }
  }
}

uint8_t* shared_address(const ClientTensor* t) {
  if (!(t->state.flags & kTensorShared) || !t->block_ref) return nullptr;
  auto it = t->worker->blocks.find(t->block_ref);
  if (it == t->worker->blocks.end()) return nullptr;
  return it->second.base + t->state.offset;
}

uint64_t block_containing(Worker* w, const void* p, size_t len, uint64_t* offset) {
  const uint8_t* a = static_cast<const uint8_t*>(p);
  for (const auto& kv : w->blocks) {
    const Block& b = kv.second;
    if (a >= b.base && a < b.base + b.size && len <= static_cast<size_t>(b.base + b.size - a)) {
      *offset = static_cast<uint64_t>(a - b.base);
      return kv.first;
    }
  }
  return 0;
}

namespace {

// Run a copy between caller memory and a tensor's shared block without holding the lock.
void copy_user(ClientTensor* t, bool into_shared) {
  State& s = state();
  uint8_t* shared;
  void* user;
  size_t n;
  uint64_t ref;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    shared = shared_address(t);
    user = t->user_ptr;
    n = t->user_len < t->state.nbytes ? t->user_len : t->state.nbytes;
    ref = t->block_ref;
    if (!shared || !user || !n) return;
    t->worker->blocks[ref].refs++;
  }
  if (into_shared)
    std::memcpy(shared, user, n);
  else
    std::memcpy(user, shared, n);
  std::lock_guard<std::mutex> lock(s.mu);
  t->worker->blocks[ref].refs--;
  s.stats.bytes_copied += n;
  collect_blocks(t->worker);
}

}  // namespace

void sync_in(ClientTensor* t) { copy_user(t, true); }

void sync_out(ClientTensor* t, const LiteLayout& before) {
  {
    std::lock_guard<std::mutex> lock(state().mu);
    if (!t->user_ptr) return;
    // A new layout makes the official library reallocate and forget caller memory; so do we.
    if (!same_layout(before, t->state.layout) || t->state.nbytes > t->user_len ||
        !(t->state.flags & kTensorShared)) {
      t->user_ptr = nullptr;
      t->user_len = 0;
      return;
    }
  }
  copy_user(t, false);
}

ClientTensor* new_tensor(Worker* w, uint64_t id, ClientNetwork* owner) {
  ClientTensor* t = new ClientTensor;
  std::memset(&t->state, 0, sizeof t->state);
  t->worker = w;
  t->id = id;
  t->owner = owner;
  t->block_ref = 0;
  t->user_ptr = nullptr;
  t->user_len = 0;
  w->tensors[id] = t;
  state().tensors.insert(t);
  if (owner) owner->tensors.push_back(t);
  return t;
}

void delete_tensor(ClientTensor* t) {
  Worker* w = t->worker;
  if (t->block_ref) {
    auto it = w->blocks.find(t->block_ref);
    if (it != w->blocks.end()) it->second.refs--;
  }
  auto it = w->tensors.find(t->id);
  if (it != w->tensors.end() && it->second == t) w->tensors.erase(it);
  state().tensors.erase(t);
  collect_blocks(w);
  delete t;
}

}  // namespace fork
}  // namespace lite
}  // namespace mgf
