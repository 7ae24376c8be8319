// The worker's handlers for global calls: decode and check the request, call the official library, answer.
#include "worker_ops.h"

namespace mgf {
namespace lite {

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

}  // namespace lite
}  // namespace mgf
