// The worker's handlers: decode and check the request, call the official library, answer.
#include <unistd.h>

#include <cstring>

#include "error.h"
#include "shm.h"
#include "worker.h"
#include "worker_lock.h"

namespace mgf {
namespace lite {

namespace {

constexpr uint64_t kMaxList = 1u << 16;

#define MGF_NEED(fn)                                  \
  do {                                                \
    if (!api_.fn) return rep.error(api_.missing(#fn)); \
  } while (0)

// A sealed, read-only copy of a model, mapped privately (Lite may patch it in place).
void* map_model(int fd, uint64_t size, std::string* error) {
  if (fd < 0) {
    *error = "model memory descriptor missing";
    return nullptr;
  }
  long long have = shm_size(fd);
  if (size == 0 || have < 0 || static_cast<unsigned long long>(have) < size) {
    *error = format("model memory holds %lld bytes, %llu expected", have, static_cast<unsigned long long>(size));
    return nullptr;
  }
  return shm_map(fd, size, true, true, error);
}

bool take_ids(Reader& in, std::vector<uint64_t>* ids) {
  uint64_t n = in.u64();
  if (!in.ok() || n > kMaxList) return false;
  for (uint64_t i = 0; i < n; ++i) ids->push_back(in.u64());
  return in.ok();
}

}  // namespace

// ---- global ---------------------------------------------------------------------------------

void Server::op_global(uint32_t op, Reader& in, Channel& ch, Reply& rep) {
  (void)ch;
  std::string path;
  bool has_path = false;
  int rc = 0;
  const char* name = "call";
  switch (op) {
    case kOpGetLogLevel: {
      MGF_NEED(LITE_get_log_level);
      LiteLogLevel level = INFO;
      name = "LITE_get_log_level";
      rc = api_.LITE_get_log_level(&level);
      rep.results.i32(level);
      break;
    }
    case kOpSetLogLevel: {
      MGF_NEED(LITE_set_log_level);
      int level = in.i32();
      if (!in.ok()) return rep.error("malformed request");
      name = "LITE_set_log_level";
      rc = api_.LITE_set_log_level(static_cast<LiteLogLevel>(level));
      break;
    }
    case kOpGetDeviceCount: {
      MGF_NEED(LITE_get_device_count);
      int dev = in.i32();
      if (!in.ok()) return rep.error("malformed request");
      size_t count = 0;
      name = "LITE_get_device_count";
      rc = api_.LITE_get_device_count(static_cast<LiteDeviceType>(dev), &count);
      rep.results.u64(count);
      break;
    }
    case kOpTryCoalesce:
      MGF_NEED(LITE_try_coalesce_all_free_memory);
      name = "LITE_try_coalesce_all_free_memory";
      rc = api_.LITE_try_coalesce_all_free_memory();
      break;
    case kOpSetLoaderLibPath:
    case kOpSetTensorRtCache:
    case kOpDumpPersistentCache: {
      has_path = in.opt_cstr(&path);
      if (!in.ok()) return rep.error("malformed request");
      const char* p = has_path ? path.c_str() : nullptr;
      if (op == kOpSetLoaderLibPath) {
        MGF_NEED(LITE_set_loader_lib_path);
        name = "LITE_set_loader_lib_path";
        rc = api_.LITE_set_loader_lib_path(p);
      } else if (op == kOpSetTensorRtCache) {
        MGF_NEED(LITE_set_tensor_rt_cache);
        name = "LITE_set_tensor_rt_cache";
        rc = api_.LITE_set_tensor_rt_cache(p);
      } else {
        MGF_NEED(LITE_dump_persistent_cache);
        name = "LITE_dump_persistent_cache";
        rc = api_.LITE_dump_persistent_cache(p);
      }
      break;
    }
    case kOpSetPersistentCache: {
      MGF_NEED(LITE_set_persistent_cache);
      has_path = in.opt_cstr(&path);
      int sync = in.i32();
      if (!in.ok()) return rep.error("malformed request");
      name = "LITE_set_persistent_cache";
      rc = api_.LITE_set_persistent_cache(has_path ? path.c_str() : nullptr, sync);
      break;
    }
    case kOpDumpTensorRtCache:
      MGF_NEED(LITE_dump_tensor_rt_cache);
      name = "LITE_dump_tensor_rt_cache";
      rc = api_.LITE_dump_tensor_rt_cache();
      break;
    case kOpUpdateDecryptionKey: {
      MGF_NEED(LITE_update_decryption_or_key);
      has_path = in.opt_cstr(&path);
      std::string key = in.str();
      if (!in.ok()) return rep.error("malformed request");
      name = "LITE_update_decryption_or_key";
      rc = api_.LITE_update_decryption_or_key(has_path ? path.c_str() : nullptr, nullptr,
                                              reinterpret_cast<const uint8_t*>(key.data()), key.size());
      break;
    }
    default:
      return rep.error(format("unknown request %u", op));
  }
  if (rc != 0) rep.lite_error(real_error(name));
}

void Server::op_model_io_info(uint32_t op, Reader& in, Channel& ch, Reply& rep) {
  std::string path;
  bool has_path = false;
  uint64_t size = 0;
  if (op == kOpModelIoInfoPath) {
    MGF_NEED(LITE_get_model_io_info_by_path);
    has_path = in.opt_cstr(&path);
  } else {
    MGF_NEED(LITE_get_model_io_info_by_memory);
    size = in.u64();
  }
  ConfigBuf config;
  if (!read_config(in, &config) || !in.at_end()) return rep.error("malformed request");
  LiteNetworkIO ios;
  std::memset(&ios, 0, sizeof ios);
  int rc;
  if (op == kOpModelIoInfoPath) {
    rc = api_.LITE_get_model_io_info_by_path(has_path ? path.c_str() : nullptr, config.get(), &ios);
  } else {
    std::string error;
    int fd = ch.take_fd();
    void* model = map_model(fd, size, &error);
    if (fd >= 0) close(fd);
    if (!model) return rep.error(error);
    rc = api_.LITE_get_model_io_info_by_memory(model, size, config.get(), &ios);
    shm_unmap(model, size);
  }
  if (rc != 0) return rep.lite_error(real_error("LITE_get_model_io_info"));
  if (ios.input_size > kMaxList || ios.output_size > kMaxList) return rep.error("too many model IOs");
  for (size_t i = 0; i < ios.input_size; ++i)
    if (!ios.inputs[i].name) ios.inputs[i].name = "";
  for (size_t i = 0; i < ios.output_size; ++i)
    if (!ios.outputs[i].name) ios.outputs[i].name = "";
  write_ios(rep.results, ios.inputs, ios.input_size);
  write_ios(rep.results, ios.outputs, ios.output_size);
}

// ---- networks -------------------------------------------------------------------------------

void Server::op_make_network(Reader& in, Reply& rep) {
  uint32_t kind = in.u32();
  ConfigBuf config;
  IoBuf io;
  if (kind >= 1 && !read_config(in, &config)) return rep.error("malformed request");
  if (kind == 2 && !read_network_io(in, &io)) return rep.error("malformed request");
  if (!in.at_end() || kind > 2) return rep.error("malformed request");
  LiteNetwork h = nullptr;
  int rc;
  if (kind == 0) {
    MGF_NEED(LITE_make_default_network);
    rc = api_.LITE_make_default_network(&h);
  } else if (kind == 1) {
    MGF_NEED(LITE_make_network_config);
    rc = api_.LITE_make_network_config(&h, config.get());
  } else {
    MGF_NEED(LITE_make_network);
    rc = api_.LITE_make_network(&h, config.get(), io.get());
  }
  if (rc != 0 || !h) return rep.lite_error(real_error("LITE_make_network"));
  WNetwork* n = new WNetwork;
  n->handle = h;
  std::lock_guard<std::mutex> lock(mu_);
  n->id = next_id_++;
  nets_[n->id] = n;
  rep.results.u64(n->id);
}

void Server::op_network(uint32_t op, Reader& in, Channel& ch, Reply& rep) {
  uint64_t id = in.u64();
  if (!in.ok()) return rep.error("malformed request");
  OpLock lock(*this);
  std::string error;
  WNetwork* net = lock.network(id, &error);
  if (!net) return rep.error(error);
  LiteNetwork h = net->handle;
  int rc = 0;
  const char* name = "call";
  switch (op) {
    case kOpLoadModelMemory: {
      MGF_NEED(LITE_load_model_from_mem);
      uint64_t size = in.u64();
      int fd = ch.take_fd();
      if (!in.at_end()) {
        if (fd >= 0) close(fd);
        return rep.error("malformed request");
      }
      void* model = map_model(fd, size, &error);
      if (fd >= 0) close(fd);
      if (!model) return rep.error(error);
      hook_.fire("load");
      rc = api_.LITE_load_model_from_mem(h, model, size);
      if (rc != 0) {
        shm_unmap(model, size);
        return rep.lite_error(real_error("LITE_load_model_from_mem"));
      }
      shm_unmap(net->model, net->model_size);
      net->model = model;
      net->model_size = size;
      refresh_network(net, rep);
      return;
    }
    case kOpLoadModelPath: {
      MGF_NEED(LITE_load_model_from_path);
      std::string path;
      bool has = in.opt_cstr(&path);
      if (!in.at_end()) return rep.error("malformed request");
      hook_.fire("load");
      if (api_.LITE_load_model_from_path(h, has ? path.c_str() : nullptr) != 0)
        return rep.lite_error(real_error("LITE_load_model_from_path"));
      refresh_network(net, rep);
      return;
    }
    case kOpDestroyNetwork: {
      MGF_NEED(LITE_destroy_network);
      if (api_.LITE_destroy_network(h) != 0) return rep.lite_error(real_error("LITE_destroy_network"));
      std::lock_guard<std::mutex> guard(mu_);
      for (uint64_t tid : net->tensors) {
        auto it = tensors_.find(tid);
        if (it != tensors_.end()) drop_tensor(it->second);
      }
      net->tensors.clear();
      shm_unmap(net->model, net->model_size);
      net->model = nullptr;
      net->destroyed = true;
      nets_.erase(net->id);
      return;
    }
    case kOpForward: {
      MGF_NEED(LITE_forward);
      MGF_NEED(LITE_wait);
      hook_.fire("forward");
      if (api_.LITE_forward(h) != 0) return rep.lite_error(real_error("LITE_forward"));
      if (api_.LITE_wait(h) != 0) return rep.lite_error(real_error("LITE_wait"));
      refresh_network(net, rep);
      return;
    }
    case kOpGetIoTensor:
    case kOpGetDiscreteTensor: {
      std::string io_name;
      bool has_name = in.opt_cstr(&io_name);
      uint64_t index = op == kOpGetDiscreteTensor ? in.u64() : 0;
      int phase = in.i32();
      if (!in.at_end()) return rep.error("malformed request");
      LiteTensor th = nullptr;
      const char* n = has_name ? io_name.c_str() : nullptr;
      if (op == kOpGetIoTensor) {
        MGF_NEED(LITE_get_io_tensor);
        rc = api_.LITE_get_io_tensor(h, n, static_cast<LiteTensorPhase>(phase), &th);
      } else {
        MGF_NEED(LITE_get_discrete_tensor);
        rc = api_.LITE_get_discrete_tensor(h, n, index, static_cast<LiteTensorPhase>(phase), &th);
      }
      if (rc != 0 || !th) return rep.lite_error(real_error(op == kOpGetIoTensor ? "LITE_get_io_tensor" : "LITE_get_discrete_tensor"));
      uint32_t flags = 0;
      if (phase == LITE_INPUT || op == kOpGetDiscreteTensor) {
        flags = kTensorIsInput;
      } else if (phase == LITE_OUTPUT) {
        flags = kTensorIsOutput;
      } else {
        std::vector<std::string> ins, outs;
        io_names(net, &ins, &outs);
        for (const std::string& s : ins)
          if (s == io_name) flags |= kTensorIsInput;
        if (!flags)
          for (const std::string& s : outs)
            if (s == io_name) flags |= kTensorIsOutput;
      }
      WTensor* t = add_tensor(th, net->id, flags, true);
      {
        std::lock_guard<std::mutex> guard(mu_);
        t->io_flags |= flags;
        bool known = false;
        for (uint64_t tid : net->tensors) known = known || tid == t->id;
        if (!known) net->tensors.push_back(t->id);
      }
      refresh(t, rep, true);
      rep.results.u64(t->id);
      return;
    }
    case kOpGetNames: {
      if (!api_.LITE_get_all_input_name || !api_.LITE_get_all_output_name)
        return rep.error(api_.missing("LITE_get_all_input_name"));
      for (int k = 0; k < 2; ++k) {
        auto fn = k == 0 ? api_.LITE_get_all_input_name : api_.LITE_get_all_output_name;
        size_t count = 0;
        if (fn(h, &count, nullptr) != 0) return rep.lite_error(real_error("LITE_get_all_input_name"));
        if (count > kMaxList) return rep.error("too many inputs or outputs");
        std::vector<const char*> names(count, nullptr);
        if (count && fn(h, nullptr, names.data()) != 0) return rep.lite_error(real_error("LITE_get_all_input_name"));
        rep.results.u64(count);
        for (const char* s : names) rep.results.str(s ? s : "", s ? std::strlen(s) : 0);
      }
      return;
    }
    case kOpGetExtraInfo: {
      MGF_NEED(LITE_get_model_extra_info);
      const char* info = nullptr;
      int size = 0;
      if (api_.LITE_get_model_extra_info(h, &info, &size) != 0) return rep.lite_error(real_error("LITE_get_model_extra_info"));
      if (size < 0 || (size > 0 && !info)) return rep.error("LITE_get_model_extra_info returned an invalid size");
      rep.results.str(info ? info : "", static_cast<size_t>(size));
      return;
    }
    case kOpExtraConfigure: {
      MGF_NEED(LITE_extra_configure);
      LiteExtraConfig extra;
      extra.disable_configure_by_model_info = in.i32();
      if (!in.at_end()) return rep.error("malformed request");
      if (api_.LITE_extra_configure(h, extra) != 0) return rep.lite_error(real_error("LITE_extra_configure"));
      return;
    }
    case kOpNetworkGetInt: {
      uint32_t which = in.u32();
      if (!in.at_end()) return rep.error("malformed request");
      int64_t value = 0;
      if (which == kNetCpuInplace) {
        MGF_NEED(LITE_is_cpu_inplace_mode);
        int v = 0;
        name = "LITE_is_cpu_inplace_mode";
        rc = api_.LITE_is_cpu_inplace_mode(h, &v);
        value = v;
      } else if (which == kNetCpuThreads) {
        MGF_NEED(LITE_get_cpu_threads_number);
        size_t v = 0;
        name = "LITE_get_cpu_threads_number";
        rc = api_.LITE_get_cpu_threads_number(h, &v);
        value = static_cast<int64_t>(v);
      } else if (which == kNetDeviceId || which == kNetStreamId) {
        auto fn = which == kNetDeviceId ? api_.LITE_get_device_id : api_.LITE_get_stream_id;
        name = which == kNetDeviceId ? "LITE_get_device_id" : "LITE_get_stream_id";
        if (!fn) return rep.error(api_.missing(name));
        int v = 0;
        rc = fn(h, &v);
        value = v;
      } else if (which == kNetDeviceType) {
        MGF_NEED(LITE_get_device_type);
        LiteDeviceType v = LITE_CPU;
        name = "LITE_get_device_type";
        rc = api_.LITE_get_device_type(h, &v);
        value = v;
      } else {
        return rep.error("malformed request");
      }
      if (rc != 0) return rep.lite_error(real_error(name));
      rep.results.i64(value);
      return;
    }
    case kOpNetworkSetInt: {
      uint32_t which = in.u32();
      int64_t v = in.i64();
      if (!in.at_end()) return rep.error("malformed request");
      switch (which) {
        case kNetCpuInplace: MGF_NEED(LITE_set_cpu_inplace_mode); name = "LITE_set_cpu_inplace_mode";
          rc = api_.LITE_set_cpu_inplace_mode(h); break;
        case kNetCpuThreads: MGF_NEED(LITE_set_cpu_threads_number); name = "LITE_set_cpu_threads_number";
          rc = api_.LITE_set_cpu_threads_number(h, static_cast<size_t>(v)); break;
        case kNetDeviceId: MGF_NEED(LITE_set_device_id); name = "LITE_set_device_id";
          rc = api_.LITE_set_device_id(h, static_cast<int>(v)); break;
        case kNetStreamId: MGF_NEED(LITE_set_stream_id); name = "LITE_set_stream_id";
          rc = api_.LITE_set_stream_id(h, static_cast<int>(v)); break;
        case kNetUseTensorRt: MGF_NEED(LITE_use_tensorrt); name = "LITE_use_tensorrt";
          rc = api_.LITE_use_tensorrt(h); break;
        case kNetAlgoPolicy: MGF_NEED(LITE_set_network_algo_policy); name = "LITE_set_network_algo_policy";
          rc = api_.LITE_set_network_algo_policy(h, static_cast<LiteAlgoSelectStrategy>(v)); break;
        case kNetAlgoWorkspace: MGF_NEED(LITE_set_network_algo_workspace_limit);
          name = "LITE_set_network_algo_workspace_limit";
          rc = api_.LITE_set_network_algo_workspace_limit(h, static_cast<size_t>(v)); break;
        case kNetGlobalLayoutTransform: MGF_NEED(LITE_enable_global_layout_transform);
          name = "LITE_enable_global_layout_transform";
          rc = api_.LITE_enable_global_layout_transform(h); break;
        case kNetFastrunConfig: MGF_NEED(LITE_set_network_algo_fastrun_config);
          name = "LITE_set_network_algo_fastrun_config";
          rc = api_.LITE_set_network_algo_fastrun_config(h, static_cast<unsigned>(v & 0xffffffff),
                                                         static_cast<int>(v >> 32));
          break;
        default: return rep.error("malformed request");
      }
      if (rc != 0) return rep.lite_error(real_error(name));
      return;
    }
    case kOpNetworkPath: {
      uint32_t which = in.u32();
      std::string path;
      bool has = in.opt_cstr(&path);
      if (!in.at_end()) return rep.error("malformed request");
      const char* p = has ? path.c_str() : nullptr;
      int (*fn)(LiteNetwork, const char*) = nullptr;
      switch (which) {
        case kPathProfile: fn = api_.LITE_enable_profile_performance; name = "LITE_enable_profile_performance"; break;
        case kPathIoTxtDump: fn = api_.LITE_enable_io_txt_dump; name = "LITE_enable_io_txt_dump"; break;
        case kPathIoBinDump: fn = api_.LITE_enable_io_bin_dump; name = "LITE_enable_io_bin_dump"; break;
        case kPathStaticMemInfo: fn = api_.LITE_get_static_memory_alloc_info; name = "LITE_get_static_memory_alloc_info"; break;
        case kPathDumpLayoutTransform: fn = api_.LITE_dump_layout_transform_model; name = "LITE_dump_layout_transform_model"; break;
        default: return rep.error("malformed request");
      }
      if (!fn) return rep.error(api_.missing(name));
      if (fn(h, p) != 0) return rep.lite_error(real_error(name));
      return;
    }
    default:
      return rep.error(format("unknown request %u", op));
  }
}

void Server::op_network_pair(Reader& in, Reply& rep) {
  uint32_t which = in.u32();
  uint64_t dst = in.u64(), src = in.u64();
  if (!in.at_end() || which > 1) return rep.error("malformed request");
  OpLock lock(*this);
  std::vector<WNetwork*> nets;
  std::string error;
  if (!lock.networks({dst, src}, &nets, &error)) return rep.error(error);
  if (which == 0) {
    MGF_NEED(LITE_shared_weight_with_network);
    if (api_.LITE_shared_weight_with_network(nets[0]->handle, nets[1]->handle) != 0)
      return rep.lite_error(real_error("LITE_shared_weight_with_network"));
    refresh_network(nets[0], rep);
  } else {
    MGF_NEED(LITE_share_runtime_memroy);
    if (api_.LITE_share_runtime_memroy(nets[0]->handle, nets[1]->handle) != 0)
      return rep.lite_error(real_error("LITE_share_runtime_memroy"));
  }
}

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
