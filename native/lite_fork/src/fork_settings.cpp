// Fork mode: network settings and queries that are one round trip each.
#include "error.h"
#include "fork_api.h"
#include "locate.h"

namespace mgf {
namespace lite {
namespace fork {

namespace {

int get_int(LiteNetwork h, const char* api, NetInt which, int64_t* value) {
  Writer a;
  a.u32(which);
  Response r;
  if (network_call(h, api, kOpNetworkGetInt, a, &r) != 0) return -1;
  *value = r.results.i64();
  return 0;
}

int set_int(LiteNetwork h, const char* api, NetInt which, int64_t value) {
  Writer a;
  a.u32(which);
  a.i64(value);
  return network_call(h, api, kOpNetworkSetInt, a);
}

int path_call(LiteNetwork h, const char* api, NetPath which, const char* path) {
  Writer a;
  a.u32(which);
  a.opt_cstr(path ? absolute_path(path).c_str() : nullptr);
  return network_call(h, api, kOpNetworkPath, a);
}

}  // namespace

#define MGF_GET_INT(fn, which, type, param)                           \
  int fn(const LiteNetwork network, type* param) {                    \
    if (!need(param, #fn, #param)) return -1;                         \
    int64_t v = 0;                                                    \
    if (get_int(network, #fn, which, &v) != 0) return -1;             \
    *param = static_cast<type>(v);                                    \
    return 0;                                                         \
  }
MGF_GET_INT(LITE_is_cpu_inplace_mode, kNetCpuInplace, int, is_cpu_inplace_mode)
MGF_GET_INT(LITE_get_cpu_threads_number, kNetCpuThreads, size_t, nr_threads)
MGF_GET_INT(LITE_get_device_id, kNetDeviceId, int, device_id)
MGF_GET_INT(LITE_get_stream_id, kNetStreamId, int, stream_id)
MGF_GET_INT(LITE_get_device_type, kNetDeviceType, LiteDeviceType, device_type)
#undef MGF_GET_INT

int LITE_get_model_extra_info(const LiteNetwork network, const char** info, int* info_size) {
  const char* api = "LITE_get_model_extra_info";
  if (!need(info_size, api, "info_size")) return -1;
  Response r;
  if (network_call(network, api, kOpGetExtraInfo, Writer(), &r) != 0) return -1;
  std::string text = r.results.str();
  std::lock_guard<std::mutex> lock(state().mu);
  ClientNetwork* n = network_of(network, api);
  if (!n) return -1;
  n->extra_info = std::move(text);
  *info_size = static_cast<int>(n->extra_info.size());
  if (info) *info = n->extra_info.c_str();
  return 0;
}

int LITE_set_cpu_inplace_mode(LiteNetwork network) {
  return set_int(network, "LITE_set_cpu_inplace_mode", kNetCpuInplace, 1);
}
int LITE_set_cpu_threads_number(LiteNetwork network, size_t nr_threads) {
  return set_int(network, "LITE_set_cpu_threads_number", kNetCpuThreads, static_cast<int64_t>(nr_threads));
}
int LITE_set_device_id(LiteNetwork network, int device_id) {
  return set_int(network, "LITE_set_device_id", kNetDeviceId, device_id);
}
int LITE_set_stream_id(LiteNetwork network, int stream_id) {
  return set_int(network, "LITE_set_stream_id", kNetStreamId, stream_id);
}
int LITE_use_tensorrt(LiteNetwork network) { return set_int(network, "LITE_use_tensorrt", kNetUseTensorRt, 1); }
int LITE_set_network_algo_policy(LiteNetwork network, LiteAlgoSelectStrategy strategy) {
  return set_int(network, "LITE_set_network_algo_policy", kNetAlgoPolicy, strategy);
}
int LITE_set_network_algo_fastrun_config(LiteNetwork network, unsigned int shared_batch_size,
                                         int binary_equal_between_batch) {
  int64_t v = static_cast<int64_t>(shared_batch_size) | (static_cast<int64_t>(binary_equal_between_batch) << 32);
  return set_int(network, "LITE_set_network_algo_fastrun_config", kNetFastrunConfig, v);
}
int LITE_set_network_algo_workspace_limit(LiteNetwork network, size_t limit) {
  return set_int(network, "LITE_set_network_algo_workspace_limit", kNetAlgoWorkspace, static_cast<int64_t>(limit));
}
int LITE_enable_global_layout_transform(LiteNetwork network) {
  return set_int(network, "LITE_enable_global_layout_transform", kNetGlobalLayoutTransform, 1);
}

int LITE_set_runtime_thread_affinity(LiteNetwork network, const LiteThreadAffinityCallback) {
  std::lock_guard<std::mutex> lock(state().mu);
  if (!network_of(network, "LITE_set_runtime_thread_affinity")) return -1;
  return unsupported("LITE_set_runtime_thread_affinity", "the library's threads run in the worker process");
}

int LITE_set_memory_allocator(LiteNetwork network, const LiteAllocate, const LiteFree) {
  std::lock_guard<std::mutex> lock(state().mu);
  if (!network_of(network, "LITE_set_memory_allocator")) return -1;
  return unsupported("LITE_set_memory_allocator", "an allocator of the calling process cannot serve the worker");
}

int LITE_enable_profile_performance(LiteNetwork network, const char* path) {
  return path_call(network, "LITE_enable_profile_performance", kPathProfile, path);
}
int LITE_enable_io_txt_dump(LiteNetwork network, const char* path) {
  return path_call(network, "LITE_enable_io_txt_dump", kPathIoTxtDump, path);
}
int LITE_enable_io_bin_dump(LiteNetwork network, const char* path) {
  return path_call(network, "LITE_enable_io_bin_dump", kPathIoBinDump, path);
}
int LITE_get_static_memory_alloc_info(LiteNetwork network, const char* log_dir) {
  return path_call(network, "LITE_get_static_memory_alloc_info", kPathStaticMemInfo, log_dir);
}
int LITE_dump_layout_transform_model(LiteNetwork network, const char* path) {
  return path_call(network, "LITE_dump_layout_transform_model", kPathDumpLayoutTransform, path);
}

int LITE_extra_configure(LiteNetwork network, LiteExtraConfig extra) {
  Writer a;
  a.i32(extra.disable_configure_by_model_info);
  return network_call(network, "LITE_extra_configure", kOpExtraConfigure, a);
}

}  // namespace fork
}  // namespace lite
}  // namespace mgf
