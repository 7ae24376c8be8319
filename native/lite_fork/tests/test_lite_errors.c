/* Every exported LITE_* function on an error path in fork mode: a clear non-zero return and a
 * message, never a crash. Handles that are NULL, forged (any pointer this library did not hand
 * out) or served by a worker that is gone are rejected before anything is dereferenced.
 * tests/unit/test_lite.py checks that this file names every symbol of the official library. */
#include <stdint.h>

#include "lite_test.h"

/* Fails with a message and an error code; `needle` must appear in the message. */
#define E(call, needle)                                                                      \
  do {                                                                                       \
    LITE_clear_last_error();                                                                 \
    int rc_ = (call);                                                                        \
    CHECK(rc_ != 0, "%s should fail", #call);                                                \
    CHECK(LITE_get_last_error()[0] != 0, "%s leaves a message", #call);                      \
    CHECK(strstr(LITE_get_last_error(), needle) != NULL, "%s: message lacks '%s'", #call, needle); \
    CHECK(LITE_get_last_error_code() != OK, "%s sets an error code", #call);                 \
  } while (0)

static size_t decrypt(const void* in, size_t n, const uint8_t* key, size_t key_size, const void* out) {
  (void)in, (void)key, (void)key_size, (void)out;
  return n;
}
static int parse_info(const void* d, size_t s, const char* m, LiteConfig* c, LiteNetworkIO* io, int* a, size_t* b,
                      int* e, int* f) {
  (void)d, (void)s, (void)m, (void)c, (void)io, (void)a, (void)b, (void)e, (void)f;
  return 0;
}
static int affinity(int thread_id) { return thread_id; }
static void* alloc_fn(LiteDeviceType d, int id, size_t size, size_t align) { return (void)d, (void)id, (void)align, malloc(size); }
static void free_fn(LiteDeviceType d, int id, void* p) { (void)d, (void)id, free(p); }

/* Handles this library never made: a NULL one and a forged pointer to ordinary memory. */
static void bad_handles(LiteNetwork net, LiteTensor t, const char* needle) {
  LiteTensor out = NULL;
  LiteLayout layout;
  memset(&layout, 0, sizeof layout);
  layout.ndim = 1;
  layout.shapes[0] = 4;
  float buf[4];
  int shape[1] = {4}, i = 0;
  size_t start[1] = {0}, end[1] = {1}, sz = 0;
  void* p = NULL;
  const char* name = NULL;
  LiteDeviceType dev;
  LiteTensor list[1] = {t};

  E(LITE_set_tensor_layout(t, layout), needle);
  E(LITE_reset_tensor_memory(t, buf, sizeof buf), needle);
  E(LITE_reset_tensor(t, layout, buf), needle);
  E(LITE_tensor_reshape(t, shape, 1), needle);
  E(LITE_tensor_slice(t, start, end, NULL, 1, &out), needle);
  E(LITE_tensor_fill_zero(t), needle);
  E(LITE_tensor_copy(t, t), needle);
  E(LITE_tensor_share_memory_with(t, t), needle);
  E(LITE_get_tensor_memory(t, &p), needle);
  E(LITE_get_tensor_memory_with_index(t, start, 1, &p), needle);
  E(LITE_get_tensor_total_size_in_byte(t, &sz), needle);
  E(LITE_get_tensor_layout(t, &layout), needle);
  E(LITE_get_tensor_device_type(t, &dev), needle);
  E(LITE_get_tensor_device_id(t, &i), needle);
  E(LITE_is_pinned_host(t, &i), needle);
  E(LITE_is_memory_continue(t, &i), needle);
  E(LITE_tensor_concat(list, 1, 0, LITE_CPU, 0, &out), needle);

  E(LITE_load_model_from_mem(net, (void*)kModel, strlen(kModel)), needle);
  E(LITE_load_model_from_path(net, "model.mge"), needle);
  E(LITE_shared_weight_with_network(net, net), needle);
  E(LITE_forward(net), needle);
  E(LITE_wait(net), needle);
  E(LITE_get_io_tensor(net, "x", LITE_IO, &out), needle);
  E(LITE_get_discrete_tensor(net, "x", 0, LITE_INPUT, &out), needle);
  E(LITE_get_input_name(net, 0, &name), needle);
  E(LITE_get_output_name(net, 0, &name), needle);
  E(LITE_get_all_input_name(net, &sz, NULL), needle);
  E(LITE_get_all_output_name(net, &sz, NULL), needle);
  E(LITE_is_cpu_inplace_mode(net, &i), needle);
  E(LITE_get_cpu_threads_number(net, &sz), needle);
  E(LITE_get_device_id(net, &i), needle);
  E(LITE_get_stream_id(net, &i), needle);
  E(LITE_get_device_type(net, &dev), needle);
  E(LITE_get_model_extra_info(net, &name, &i), needle);
  E(LITE_set_cpu_inplace_mode(net), needle);
  E(LITE_set_cpu_threads_number(net, 2), needle);
  E(LITE_set_device_id(net, 0), needle);
  E(LITE_set_stream_id(net, 0), needle);
  E(LITE_use_tensorrt(net), needle);
  E(LITE_set_network_algo_policy(net, LITE_ALGO_PROFILE), needle);
  E(LITE_set_network_algo_fastrun_config(net, 0, 0), needle);
  E(LITE_set_network_algo_workspace_limit(net, 0), needle);
  E(LITE_set_async_callback(net, NULL), needle);
  E(LITE_set_async_callback_with_userdata(net, NULL, NULL), needle);
  E(LITE_set_start_callback(net, NULL), needle);
  E(LITE_set_start_callback_with_userdata(net, NULL, NULL), needle);
  E(LITE_set_finish_callback(net, NULL), needle);
  E(LITE_set_finish_callback_with_userdata(net, NULL, NULL), needle);
  E(LITE_set_runtime_thread_affinity(net, affinity), needle);
  E(LITE_set_memory_allocator(net, alloc_fn, free_fn), needle);
  E(LITE_share_runtime_memroy(net, net), needle);
  E(LITE_enable_profile_performance(net, "p.json"), needle);
  E(LITE_enable_io_txt_dump(net, "io.txt"), needle);
  E(LITE_enable_io_bin_dump(net, "io"), needle);
  E(LITE_get_static_memory_alloc_info(net, "logs"), needle);
  E(LITE_enable_global_layout_transform(net), needle);
  E(LITE_dump_layout_transform_model(net, "m.mge"), needle);
  E(LITE_extra_configure(net, (LiteExtraConfig){0}), needle);
}

int main(void) {
  CHECK(is_fork(), "run with LITE_FORK_MODE=1");
  uint8_t key[2] = {1, 2};
  LiteTensor t = NULL;
  LiteNetwork n = NULL;
  LiteTensorDesc desc;
  memset(&desc, 0, sizeof desc);
  LiteNetworkIO ios;
  LiteLogLevel level;
  size_t count;

  /* Arguments the official library would reject, with a worker running. */
  E(LITE_get_version(NULL, NULL, NULL), "major");
  E(LITE_get_device_count(LITE_CPU, NULL), "count");
  E(LITE_register_decryption_and_key("mine", decrypt, key, 2), "not available in LITE fork mode");
  E(LITE_update_decryption_or_key("mine", decrypt, key, 2), "not available in LITE fork mode");
  E(LITE_update_decryption_or_key(NULL, NULL, key, 2), "decrypt_name");
  E(LITE_register_parse_info_func("json", parse_info), "not available in LITE fork mode");
  E(LITE_set_loader_lib_path(NULL), "path is null");
  E(LITE_set_persistent_cache(NULL, 0), "path is null");
  E(LITE_set_tensor_rt_cache(NULL), "path is null");
  E(LITE_get_log_level(NULL), "level");
  E(LITE_dump_persistent_cache(NULL), "path is null");
  E(LITE_dump_tensor_rt_cache(), "no TensorRT");
  E(LITE_register_memory_pair(key, key, 2, LITE_CPU, LITE_DEFAULT), "not available in LITE fork mode");
  E(LITE_clear_memory_pair(key, key, LITE_CPU, LITE_DEFAULT), "not available in LITE fork mode");
  E(LITE_lookup_physic_ptr(key, (void**)&t, LITE_CPU, LITE_DEFAULT), "not available in LITE fork mode");
  E(LITE_get_model_io_info_by_path(NULL, *default_config(), &ios), "model_path");
  E(LITE_get_model_io_info_by_memory(NULL, 4, *default_config(), &ios), "model_mem");
  E(LITE_make_tensor(desc, NULL), "tensor");
  desc.layout.ndim = 100;
  E(LITE_make_tensor(desc, &t), "ndim");
  E(LITE_destroy_tensor(NULL), "null");
  E(LITE_make_default_network(NULL), "network");
  E(LITE_make_network(NULL, *default_config(), *default_network_io()), "network");
  E(LITE_make_network_config(NULL, *default_config()), "network");
  E(LITE_destroy_network(NULL), "null");
  CHECK(LITE_get_last_error_code() == LITE_INTERNAL_ERROR, "error code");
  LITE_clear_last_error();
  CHECK(LITE_get_last_error()[0] == 0 && LITE_get_last_error_code() == OK, "LITE_clear_last_error");

  bad_handles(NULL, NULL, "null");
  int forged = 0;
  bad_handles(&forged, &forged, "is not a live");
  CHECK(LITE_destroy_tensor(&forged) == 0 && LITE_destroy_network(&forged) == 0,
        "destroying an unknown handle is a no-op, as in the official library");

  /* Handles of a worker that is gone. */
  n = loaded_network(kModel);
  CHECK(n != NULL, "network");
  t = io(n, "x");
  OK(mgf_lite_fork_shutdown());
  E(LITE_forward(n), "shut down");
  E(LITE_set_cpu_threads_number(n, 2), "shut down");
  E(LITE_get_io_tensor(n, "x", LITE_IO, &t), "shut down");
  E(LITE_tensor_fill_zero(t), "shut down");
  LiteLayout one;
  memset(&one, 0, sizeof one);
  one.ndim = 1;
  one.shapes[0] = 1;
  E(LITE_set_tensor_layout(t, one), "shut down");
  OK(LITE_destroy_network(n));

  /* No usable official library: every call that needs a worker says so. */
  setenv("MEGFORGE_LITE_REAL_LIB", "/nonexistent/liblite.so", 1);
  E(LITE_try_coalesce_all_free_memory(), "MEGFORGE_LITE_REAL_LIB");
  E(LITE_set_log_level(WARN), "MEGFORGE_LITE_REAL_LIB");
  E(LITE_get_log_level(&level), "MEGFORGE_LITE_REAL_LIB");
  E(LITE_get_device_count(LITE_CPU, &count), "MEGFORGE_LITE_REAL_LIB");
  E(LITE_make_default_network(&n), "MEGFORGE_LITE_REAL_LIB");
  CHECK(mgf_lite_fork_worker_pid() == 0, "no worker running");
  return finish("test_lite_errors");
}
