// The worker's handlers for networks: decode and check the request, call the official library, answer.
#include "worker_ops.h"

namespace mgf {
namespace lite {

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
      refresh_network(net, rep, true);
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

}  // namespace lite
}  // namespace mgf
