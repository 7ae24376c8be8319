// The worker's handlers for tensors: decode and check the request, call the official library, answer.
#include "worker_ops.h"

namespace mgf {
namespace lite {

// ---- tensors --------------------------------------------------------------------------------

void Server::op_make_tensor(Reader& in, Reply& rep) {
  MGF_NEED(LITE_make_tensor);
  LiteTensorDesc desc = in.pod<LiteTensorDesc>();
  if (!in.at_end() || !valid_layout(desc.layout)) return rep.error("malformed request");
  OpLock lock(*this);
  lock.standalone();
  LiteTensor h = nullptr;
  if (api_.LITE_make_tensor(desc, &h) != 0 || !h) return rep.lite_error(real_error("LITE_make_tensor"));
  WTensor* t = add_tensor(h, 0, 0, true);
  refresh(t, rep, false);
  rep.results.u64(t->id);
}

void Server::op_tensor(uint32_t op, Reader& in, Reply& rep) {
  uint64_t id = in.u64();
  if (!in.ok()) return rep.error("malformed request");
  OpLock lock(*this);
  std::vector<WTensor*> ts;
  std::string error;
  if (!lock.tensors({id}, &ts, &error)) return rep.error(error);
  WTensor* t = ts[0];
  LiteTensor h = t->handle;
  switch (op) {
    case kOpDestroyTensor: {
      if (!in.at_end()) return rep.error("malformed request");
      if (t->owner) return;  // IO tensors belong to their network, as in the official library
      MGF_NEED(LITE_destroy_tensor);
      if (api_.LITE_destroy_tensor(h) != 0) return rep.lite_error(real_error("LITE_destroy_tensor"));
      std::lock_guard<std::mutex> guard(mu_);
      drop_tensor(t);
      return;
    }
    case kOpSetLayout: {
      MGF_NEED(LITE_set_tensor_layout);
      LiteLayout layout = in.pod<LiteLayout>();
      if (!in.at_end() || !valid_layout(layout)) return rep.error("malformed request");
      if (api_.LITE_set_tensor_layout(h, layout) != 0) return rep.lite_error(real_error("LITE_set_tensor_layout"));
      return refresh(t, rep, false);
    }
    case kOpResetShared:
    case kOpResetUser: {
      MGF_NEED(LITE_reset_tensor_memory);
      MGF_NEED(LITE_reset_tensor);
      uint32_t with_layout = in.u32();
      LiteLayout layout = in.pod<LiteLayout>();
      uint64_t block = op == kOpResetShared ? in.u64() : 0;
      uint64_t offset = op == kOpResetShared ? in.u64() : 0;
      uint64_t len = in.u64();
      if (!in.at_end() || !valid_layout(layout) || with_layout > 1) return rep.error("malformed request");
      if (with_layout) {
        len = layout_bytes(layout);
        if (len == 0) return rep.error("LITE_reset_tensor: the layout has no valid size");
      }
      WBlock* b = nullptr;
      {
        std::lock_guard<std::mutex> guard(mu_);
        if (op == kOpResetShared) {
          auto it = blocks_by_id_.find(block);
          if (it == blocks_by_id_.end()) return rep.error(format("unknown memory block %llu", static_cast<unsigned long long>(block)));
          b = it->second;
          if (offset > b->size || len > b->size - offset)
            return rep.error(format("memory [%llu, +%llu) is outside its block of %zu bytes",
                                    static_cast<unsigned long long>(offset), static_cast<unsigned long long>(len), b->size));
        } else if (t->block && t->block->refs == 1 && t->block->size >= len && len > 0) {
          b = t->block;
        }
        retain(b);  // keep it alive across the call
      }
      if (!b) {
        b = new_block(len, rep);
        if (!b) return rep.error("cannot allocate shared memory for the tensor");
        std::lock_guard<std::mutex> guard(mu_);
        retain(b);
      }
      void* p = b->base + offset;
      int rc = with_layout ? api_.LITE_reset_tensor(h, layout, p) : api_.LITE_reset_tensor_memory(h, p, len);
      if (rc == 0) refresh(t, rep, true);
      std::lock_guard<std::mutex> guard(mu_);
      release(b);
      if (rc != 0) rep.lite_error(real_error(with_layout ? "LITE_reset_tensor" : "LITE_reset_tensor_memory"));
      return;
    }
    case kOpReshape: {
      MGF_NEED(LITE_tensor_reshape);
      uint64_t n = in.u64();
      if (!in.ok() || n > LAYOUT_MAX_DIM * 4) return rep.error("malformed request");
      std::vector<int> shape(n);
      for (uint64_t i = 0; i < n; ++i) shape[i] = in.i32();
      if (!in.at_end()) return rep.error("malformed request");
      if (api_.LITE_tensor_reshape(h, shape.data(), static_cast<int>(n)) != 0)
        return rep.lite_error(real_error("LITE_tensor_reshape"));
      return refresh(t, rep, true);
    }
    case kOpSlice: {
      MGF_NEED(LITE_tensor_slice);
      uint64_t n = in.u64();
      if (!in.ok() || n > LAYOUT_MAX_DIM * 4) return rep.error("malformed request");
      std::vector<size_t> start(n), end(n), step(n);
      for (uint64_t i = 0; i < n; ++i) start[i] = in.u64();
      for (uint64_t i = 0; i < n; ++i) end[i] = in.u64();
      bool has_step = in.u8() != 0;
      if (has_step)
        for (uint64_t i = 0; i < n; ++i) step[i] = in.u64();
      if (!in.at_end()) return rep.error("malformed request");
      lock.standalone();
      LiteTensor sh = nullptr;
      if (api_.LITE_tensor_slice(h, start.data(), end.data(), has_step ? step.data() : nullptr, n, &sh) != 0 || !sh)
        return rep.lite_error(real_error("LITE_tensor_slice"));
      WTensor* s = add_tensor(sh, 0, 0, false);  // a view: never moved away from its source
      refresh(s, rep, true);
      rep.results.u64(s->id);
      return;
    }
    case kOpFillZero:
      MGF_NEED(LITE_tensor_fill_zero);
      if (!in.at_end()) return rep.error("malformed request");
      if (api_.LITE_tensor_fill_zero(h) != 0) return rep.lite_error(real_error("LITE_tensor_fill_zero"));
      return refresh(t, rep, true);
    case kOpMemoryWithIndex:
    case kOpGetMemory: {
      std::vector<size_t> index;
      if (op == kOpMemoryWithIndex) {
        MGF_NEED(LITE_get_tensor_memory_with_index);
        uint64_t n = in.u64();
        if (!in.ok() || n > LAYOUT_MAX_DIM * 4) return rep.error("malformed request");
        for (uint64_t i = 0; i < n; ++i) index.push_back(in.u64());
      } else {
        MGF_NEED(LITE_get_tensor_memory);
      }
      if (!in.at_end()) return rep.error("malformed request");
      void* p = nullptr;
      int rc = op == kOpGetMemory ? api_.LITE_get_tensor_memory(h, &p)
                                  : api_.LITE_get_tensor_memory_with_index(h, index.data(), index.size(), &p);
      if (rc != 0) return rep.lite_error(real_error(op == kOpGetMemory ? "LITE_get_tensor_memory" : "LITE_get_tensor_memory_with_index"));
      std::lock_guard<std::mutex> guard(mu_);
      WBlock* b = p ? find_block(p, 1) : nullptr;
      rep.results.u32(p == nullptr ? 0 : b ? 1 : 2);  // null / shared / private to the worker
      rep.results.u64(b ? b->id : 0);
      rep.results.u64(b ? static_cast<uint64_t>(static_cast<uint8_t*>(p) - b->base) : 0);
      return;
    }
    default:
      return rep.error(format("unknown request %u", op));
  }
}

void Server::op_tensor_pair(uint32_t op, Reader& in, Reply& rep) {
  uint64_t dst_id = in.u64(), src_id = in.u64();
  if (!in.at_end()) return rep.error("malformed request");
  OpLock lock(*this);
  std::vector<WTensor*> ts;
  std::string error;
  if (!lock.tensors({dst_id, src_id}, &ts, &error)) return rep.error(error);
  WTensor *dst = ts[0], *src = ts[1];
  if (op == kOpShareMemory) {
    MGF_NEED(LITE_tensor_share_memory_with);
    if (api_.LITE_tensor_share_memory_with(dst->handle, src->handle) != 0)
      return rep.lite_error(real_error("LITE_tensor_share_memory_with"));
    return refresh(dst, rep, true);
  }
  MGF_NEED(LITE_tensor_copy);
  // Give dst the source layout first, so that the library copies straight into shared memory
  // instead of into a fresh private buffer that would then be copied again.
  LiteLayout dl, sl;
  if (dst != src && api_.LITE_set_tensor_layout && api_.LITE_get_tensor_layout(dst->handle, &dl) == 0 &&
      api_.LITE_get_tensor_layout(src->handle, &sl) == 0 && !same_layout(dl, sl) &&
      api_.LITE_set_tensor_layout(dst->handle, sl) == 0) {
    refresh(dst, rep, false);
  }
  if (api_.LITE_tensor_copy(dst->handle, src->handle) != 0) return rep.lite_error(real_error("LITE_tensor_copy"));
  refresh(dst, rep, true);
}

void Server::op_concat(Reader& in, Reply& rep) {
  MGF_NEED(LITE_tensor_concat);
  std::vector<uint64_t> ids;
  if (!take_ids(in, &ids)) return rep.error("malformed request");
  int dim = in.i32(), dev = in.i32(), dev_id = in.i32();
  if (!in.at_end()) return rep.error("malformed request");
  OpLock lock(*this);
  std::vector<WTensor*> ts;
  std::string error;
  if (!lock.tensors(ids, &ts, &error)) return rep.error(error);
  lock.standalone();
  std::vector<LiteTensor> hs;
  for (WTensor* t : ts) hs.push_back(t->handle);
  LiteTensor r = nullptr;
  if (api_.LITE_tensor_concat(hs.data(), static_cast<int>(hs.size()), dim, static_cast<LiteDeviceType>(dev), dev_id,
                              &r) != 0 || !r)
    return rep.lite_error(real_error("LITE_tensor_concat"));
  WTensor* t = add_tensor(r, 0, 0, true);
  refresh(t, rep, true);
  rep.results.u64(t->id);
}

}  // namespace lite
}  // namespace mgf
