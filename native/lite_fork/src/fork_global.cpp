// Fork mode: global calls. Settings are replayed on every new worker.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "error.h"
#include "fork_api.h"
#include "locate.h"
#include "shm.h"

namespace mgf {
namespace lite {
namespace fork {

namespace {

// A global call on the current worker; remembered for later workers when `replay`.
int global_call(const char* api, uint32_t op, const Writer& args, bool replay, Response* out = nullptr) {
  Worker* w = acquire_worker(api);
  if (!w) return -1;
  Writer req;
  req.u32(op);
  req.raw(args.data().data(), args.data().size());
  Response local;
  Response* resp = out ? out : &local;
  if (rpc(w, req, resp, api) != 0) return -1;
  if (replay) {
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mu);
    s.replays.push_back(Replay{op, args.data()});
  }
  return 0;
}

// Storage behind the LiteNetworkIO returned by LITE_get_model_io_info_*, one per key, as the
// official library keeps it (valid until the same key is asked again).
struct InfoHolder {
  std::vector<std::string> names;
  std::vector<LiteIO> inputs, outputs;
};
std::mutex g_info_mu;
std::map<const void*, InfoHolder>& info_holder() {
  static auto* m = new std::map<const void*, InfoHolder>;
  return *m;
}

int model_io_info(const char* api, const void* key, Writer& args, uint32_t op, int fd, LiteNetworkIO* ios) {
  Worker* w = acquire_worker(api);
  if (!w) return -1;
  Writer req;
  req.u32(op);
  req.raw(args.data().data(), args.data().size());
  Response resp;
  if (rpc(w, req, &resp, api, fd) != 0) return -1;
  InfoHolder h;
  if (!read_ios(resp.results, &h.names, &h.inputs) || !read_ios(resp.results, &h.names, &h.outputs))
    return api_fail(api, "malformed answer from the worker");
  std::lock_guard<std::mutex> lock(g_info_mu);
  InfoHolder& slot = info_holder()[key];
  slot = std::move(h);
  size_t k = 0;
  for (LiteIO& io : slot.inputs) io.name = slot.names[k++].c_str();
  for (LiteIO& io : slot.outputs) io.name = slot.names[k++].c_str();
  ios->inputs = slot.inputs.empty() ? nullptr : slot.inputs.data();
  ios->outputs = slot.outputs.empty() ? nullptr : slot.outputs.data();
  ios->input_size = slot.inputs.size();
  ios->output_size = slot.outputs.size();
  return 0;
}

}  // namespace

bool need(const void* p, const char* api, const char* what) {
  if (p) return true;
  api_fail(api, std::string(what) + " is NULL");
  return false;
}

int unsupported(const char* api, const char* why) {
  return api_fail(api, std::string("not available in LITE fork mode: ") + why +
                           " (run with LITE_FORK_MODE=0 to use it in-process)");
}

int upload(const void* data, size_t size, const char* api) {
  std::string error;
  int fd = shm_create(size, true, &error);
  if (fd < 0) return api_fail(api, error), -1;
  const char* p = static_cast<const char*>(data);
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite(fd, p + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return api_fail(api, std::string("cannot copy the model into shared memory: ") + std::strerror(errno)), -1;
    }
    done += static_cast<size_t>(n);
  }
  shm_seal_readonly(fd);  // the worker's copy can no longer change under it
  return fd;
}

int LITE_get_version(int* major, int* minor, int* patch) {
  const char* api = "LITE_get_version";
  if (!need(major, api, "major") || !need(minor, api, "minor") || !need(patch, api, "patch")) return -1;
  Worker* w = acquire_worker(api);
  if (!w) return -1;
  if (!w->have_version) return api_fail(api, "the Lite library did not report its version");
  *major = w->version[0];
  *minor = w->version[1];
  *patch = w->version[2];
  return 0;
}

int LITE_get_device_count(LiteDeviceType device_type, size_t* count) {
  const char* api = "LITE_get_device_count";
  if (!need(count, api, "count")) return -1;
  Writer a;
  a.i32(device_type);
  Response r;
  if (global_call(api, kOpGetDeviceCount, a, false, &r) != 0) return -1;
  *count = static_cast<size_t>(r.results.u64());
  return 0;
}

int LITE_try_coalesce_all_free_memory(void) {
  return global_call("LITE_try_coalesce_all_free_memory", kOpTryCoalesce, Writer(), false);
}

int LITE_register_decryption_and_key(const char*, const LiteDecryptionFunc, const uint8_t*, size_t) {
  return unsupported("LITE_register_decryption_and_key",
                     "a decryption function lives in the calling process, the model is decrypted in the worker");
}

int LITE_update_decryption_or_key(const char* name, const LiteDecryptionFunc func, const uint8_t* key,
                                  size_t key_size) {
  const char* api = "LITE_update_decryption_or_key";
  if (func)
    return unsupported(api, "a decryption function lives in the calling process; only keys of built-in "
                            "methods (func = NULL) can be updated");
  if (!need(name, api, "decrypt_name") || (key_size && !need(key, api, "key_data"))) return -1;
  Writer a;
  a.opt_cstr(name);
  a.str(reinterpret_cast<const char*>(key), key_size);
  return global_call(api, kOpUpdateDecryptionKey, a, true);
}

int LITE_register_parse_info_func(const char*, const LiteParseInfoFunc) {
  return unsupported("LITE_register_parse_info_func", "a parse function lives in the calling process");
}

int LITE_set_loader_lib_path(const char* path) {
  Writer a;
  // A bare library name is searched by the loader; a relative path is relative to our cwd.
  a.opt_cstr(path && std::strchr(path, '/') ? absolute_path(path).c_str() : path);
  return global_call("LITE_set_loader_lib_path", kOpSetLoaderLibPath, a, true);
}

int LITE_set_persistent_cache(const char* path, int always_sync) {
  Writer a;
  a.opt_cstr(path ? absolute_path(path).c_str() : nullptr);
  a.i32(always_sync);
  return global_call("LITE_set_persistent_cache", kOpSetPersistentCache, a, true);
}

int LITE_set_tensor_rt_cache(const char* path) {
  Writer a;
  a.opt_cstr(path ? absolute_path(path).c_str() : nullptr);
  return global_call("LITE_set_tensor_rt_cache", kOpSetTensorRtCache, a, true);
}

int LITE_set_log_level(LiteLogLevel level) {
  Writer a;
  a.i32(level);
  return global_call("LITE_set_log_level", kOpSetLogLevel, a, true);
}

int LITE_get_log_level(LiteLogLevel* level) {
  const char* api = "LITE_get_log_level";
  if (!need(level, api, "level")) return -1;
  Response r;
  if (global_call(api, kOpGetLogLevel, Writer(), false, &r) != 0) return -1;
  *level = static_cast<LiteLogLevel>(r.results.i32());
  return 0;
}

int LITE_dump_persistent_cache(const char* path) {
  Writer a;
  a.opt_cstr(path ? absolute_path(path).c_str() : nullptr);
  return global_call("LITE_dump_persistent_cache", kOpDumpPersistentCache, a, false);
}

int LITE_dump_tensor_rt_cache(void) {
  return global_call("LITE_dump_tensor_rt_cache", kOpDumpTensorRtCache, Writer(), false);
}

int LITE_register_memory_pair(void*, void*, size_t, LiteDeviceType, LiteBackend) {
  return unsupported("LITE_register_memory_pair", "addresses of the calling process mean nothing in the worker");
}

int LITE_clear_memory_pair(void*, void*, LiteDeviceType, LiteBackend) {
  return unsupported("LITE_clear_memory_pair", "addresses of the calling process mean nothing in the worker");
}

int LITE_lookup_physic_ptr(void*, void**, LiteDeviceType, LiteBackend) {
  return unsupported("LITE_lookup_physic_ptr", "addresses of the calling process mean nothing in the worker");
}

int LITE_get_model_io_info_by_path(const char* path, const LiteConfig config, LiteNetworkIO* ios) {
  const char* api = "LITE_get_model_io_info_by_path";
  if (!need(path, api, "model_path") || !need(ios, api, "ios")) return -1;
  Writer a;
  a.opt_cstr(absolute_path(path).c_str());
  write_config(a, config);
  return model_io_info(api, path, a, kOpModelIoInfoPath, -1, ios);
}

int LITE_get_model_io_info_by_memory(const void* model_mem, size_t size, const LiteConfig config,
                                     LiteNetworkIO* ios) {
  const char* api = "LITE_get_model_io_info_by_memory";
  if (!need(model_mem, api, "model_mem") || !need(ios, api, "ios")) return -1;
  if (size == 0) return api_fail(api, "size is 0");
  int fd = upload(model_mem, size, api);
  if (fd < 0) return -1;
  Writer a;
  a.u64(size);
  write_config(a, config);
  int rc = model_io_info(api, model_mem, a, kOpModelIoInfoMemory, fd, ios);
  close(fd);
  return rc;
}

}  // namespace fork
}  // namespace lite
}  // namespace mgf
