/* The LITE C API through libmegforge_lite, from plain C, against the fake Lite library. Runs
 * twice: LITE_FORK_MODE=0 (pass-through) and LITE_FORK_MODE=1 (fork mode) must behave alike;
 * fork mode must in addition keep tensor data in shared memory (no copies per forward). */
#include <stdint.h>
#include <unistd.h>

#include "lite_test.h"

static int g_async_calls = 0;
static int on_async(void) { return ++g_async_calls, 0; }

static size_t g_start_inputs = 0, g_finish_outputs = 0;
static int on_start(const LiteIO* ios, const LiteTensor* tensors, size_t n) {
  g_start_inputs = n;
  for (size_t i = 0; i < n; ++i) CHECK(ios[i].name && tensors[i], "start callback IO %zu", i);
  return 0;
}
static int on_finish(const LiteIO* ios, const LiteTensor* tensors, size_t n, void* user) {
  g_finish_outputs = n;
  CHECK(user == (void*)&g_finish_outputs, "finish callback user data");
  for (size_t i = 0; i < n; ++i) CHECK(ios[i].name && tensors[i], "finish callback IO %zu", i);
  return 0;
}

static void test_global(void) {
  int a = 0, b = 0, c = 0;
  OK(LITE_get_version(&a, &b, &c));
  CHECK(a == 9 && b == 8 && c == 7, "version %d.%d.%d is the fake's", a, b, c);
  CHECK(default_config()->device_id == -1 && default_config()->options.graph_opt_level == 2, "default config");
  CHECK(default_network_io()->input_size == 0, "default network io");
  LiteLogLevel level = DEBUG;
  OK(LITE_set_log_level(ERROR));
  OK(LITE_get_log_level(&level));
  CHECK(level == ERROR, "log level round trip");
  size_t count = 0;
  OK(LITE_get_device_count(LITE_CPU, &count));
  CHECK(count == 1, "one CPU device");
  OK(LITE_try_coalesce_all_free_memory());
  OK(LITE_set_persistent_cache("cache.bin", 0));
  OK(LITE_dump_persistent_cache("cache.bin"));
  OK(LITE_set_loader_lib_path("libsomething.so"));
  OK(LITE_set_tensor_rt_cache("trt.cache"));
  FAILS(LITE_dump_tensor_rt_cache(), "no TensorRT");
  CHECK(LITE_get_last_error_code() != OK, "failure sets an error code");
  LITE_clear_last_error();
  CHECK(LITE_get_last_error_code() == OK && LITE_get_last_error()[0] == 0, "cleared error");
  uint8_t key[4] = {1, 2, 3, 4};
  OK(LITE_update_decryption_or_key("AES_default", NULL, key, sizeof key));
}

static void test_network(void) {
  LiteIO inputs[1];
  memset(inputs, 0, sizeof inputs);
  inputs[0].name = "x";
  inputs[0].is_host = 1;
  LiteNetworkIO net_io = {inputs, NULL, 1, 0};
  LiteNetwork net = NULL;
  OK(LITE_make_network(&net, *default_config(), net_io));
  OK(LITE_load_model_from_mem(net, (void*)kModel, strlen(kModel)));

  size_t n = 0;
  const char* names[2] = {NULL, NULL};
  OK(LITE_get_all_input_name(net, &n, NULL));
  OK(LITE_get_all_input_name(net, NULL, names));
  CHECK(n == 2 && !strcmp(names[0], "x") && !strcmp(names[1], "y"), "input names");
  OK(LITE_get_all_output_name(net, &n, names));
  CHECK(n == 2 && !strcmp(names[0], "out") && !strcmp(names[1], "sum"), "output names");
  const char* name = NULL;
  OK(LITE_get_input_name(net, 1, &name));
  CHECK(name && !strcmp(name, "y"), "input 1 is y");
  OK(LITE_get_output_name(net, 0, &name));
  CHECK(name && !strcmp(name, "out"), "output 0 is out");
  FAILS(LITE_get_io_tensor(net, "nope", LITE_IO, &(LiteTensor){NULL}), "nope");

  LiteTensor x = io(net, "x"), x_again = io(net, "x");
  CHECK(x && x == x_again, "IO tensor handles are stable");
  LiteLayout layout;
  OK(LITE_get_tensor_layout(x, &layout));
  CHECK(layout.ndim == 2 && layout.shapes[0] == 2 && layout.shapes[1] == 3, "x is 2x3");
  size_t bytes = 0;
  OK(LITE_get_tensor_total_size_in_byte(x, &bytes));
  CHECK(bytes == 24, "x holds 24 bytes");
  CHECK(forward_and_check(net, 6, 0) == 0, "first forward");

  /* Steady state: inputs written in place, outputs read in place; fork mode copies nothing. */
  mgf_lite_fork_stats before = stats();
  for (int i = 0; i < 10; ++i) CHECK(forward_and_check(net, 6, (float)i) == 0, "forward %d", i);
  mgf_lite_fork_stats after = stats();
  CHECK(after.bytes_copied == before.bytes_copied, "no tensor data copied per forward (%llu bytes)",
        (unsigned long long)(after.bytes_copied - before.bytes_copied));
  if (is_fork()) CHECK(after.forwards == before.forwards + 10, "forwards counted");

  /* A new input shape: outputs follow; the one reallocated output is copied once. */
  LiteLayout l33 = layout;
  l33.shapes[0] = 3;
  OK(LITE_set_tensor_layout(io(net, "x"), l33));
  OK(LITE_set_tensor_layout(io(net, "y"), l33));
  before = stats();
  CHECK(forward_and_check(net, 9, 5) == 0, "forward after the shape change");
  OK(LITE_get_tensor_layout(io(net, "out"), &layout));
  CHECK(layout.shapes[0] == 3 && layout.shapes[1] == 3, "out follows the input shape");
  if (is_fork()) CHECK(stats().bytes_copied - before.bytes_copied == 36, "only the reshaped output copied once");
  before = stats();
  CHECK(forward_and_check(net, 9, 6) == 0, "second forward at the new shape");
  CHECK(stats().bytes_copied == before.bytes_copied, "no copies once settled");

  /* Caller memory: used as given; fork mode copies it in before and out after each forward. */
  float ux[9], uy[9], uo[9];
  for (int i = 0; i < 9; ++i) ux[i] = (float)i, uy[i] = 0.5f;
  OK(LITE_reset_tensor_memory(io(net, "x"), ux, sizeof ux));
  OK(LITE_reset_tensor_memory(io(net, "y"), uy, sizeof uy));
  OK(LITE_reset_tensor_memory(io(net, "out"), uo, sizeof uo));
  CHECK(memory_of(io(net, "x")) == ux, "memory of x is the caller's");
  before = stats();
  OK(LITE_forward(net));
  OK(LITE_wait(net));
  for (int i = 0; i < 9; ++i) CHECK(uo[i] == 2 * i + 0.5f, "out[%d] = %g in caller memory", i, uo[i]);
  if (is_fork()) CHECK(stats().bytes_copied - before.bytes_copied == 3 * 36, "two inputs in, one output out");

  /* Memory of another tensor we share with the worker: zero-copy. */
  LiteTensorDesc desc;
  memset(&desc, 0, sizeof desc);
  desc.layout = l33;
  LiteTensor staging = NULL;
  OK(LITE_make_tensor(desc, &staging));
  float* s = memory_of(staging);
  for (int i = 0; i < 9; ++i) s[i] = 100.0f + i;
  OK(LITE_reset_tensor_memory(io(net, "x"), s, 36));
  before = stats();
  OK(LITE_forward(net));
  CHECK(uo[4] == 2 * 104 + 0.5f, "x read from the staging tensor (%g)", uo[4]);
  if (is_fork()) CHECK(stats().bytes_copied - before.bytes_copied == 2 * 36, "only y in and out out");
  OK(LITE_destroy_tensor(staging));

  /* Callbacks run around the forward. */
  OK(LITE_set_async_callback(net, on_async));
  OK(LITE_set_start_callback(net, on_start));
  OK(LITE_set_finish_callback_with_userdata(net, on_finish, &g_finish_outputs));
  OK(LITE_reset_tensor_memory(io(net, "x"), ux, sizeof ux));
  OK(LITE_forward(net));
  CHECK(g_async_calls == 1, "async callback once");
  if (is_fork()) CHECK(g_start_inputs == 2 && g_finish_outputs == 2, "start / finish callbacks see all IO");

  /* Settings and queries. */
  size_t threads = 0;
  int id = -1, inplace = -1;
  LiteDeviceType dev = LITE_CUDA;
  OK(LITE_set_cpu_threads_number(net, 3));
  OK(LITE_get_cpu_threads_number(net, &threads));
  CHECK(threads == 3, "threads %zu", threads);
  OK(LITE_set_device_id(net, 0));
  OK(LITE_get_device_id(net, &id));
  OK(LITE_set_stream_id(net, 2));
  OK(LITE_get_stream_id(net, &id));
  CHECK(id == 2, "stream id");
  OK(LITE_set_cpu_inplace_mode(net));
  OK(LITE_is_cpu_inplace_mode(net, &inplace));
  CHECK(inplace == 1, "inplace mode");
  OK(LITE_get_device_type(net, &dev));
  CHECK(dev == LITE_CPU, "device type");
  OK(LITE_set_network_algo_policy(net, LITE_ALGO_HEURISTIC));
  OK(LITE_set_network_algo_fastrun_config(net, 1, 0));
  OK(LITE_set_network_algo_workspace_limit(net, 1 << 20));
  OK(LITE_enable_global_layout_transform(net));
  OK(LITE_enable_profile_performance(net, "profile.json"));
  OK(LITE_enable_io_txt_dump(net, "io.txt"));
  OK(LITE_enable_io_bin_dump(net, "io_dir"));
  FAILS(LITE_use_tensorrt(net), "no TensorRT");
  FAILS(LITE_get_static_memory_alloc_info(net, "logs"), "no memory info");
  FAILS(LITE_dump_layout_transform_model(net, "model.out"), "no layout transform");
  LiteExtraConfig extra = {1};
  OK(LITE_extra_configure(net, extra));
  const char* info = NULL;
  int info_size = 0;
  OK(LITE_get_model_extra_info(net, &info, &info_size));
  CHECK(info && info_size == 14 && !strncmp(info, "{\"fake\": true}", 14), "extra info");

  LiteNetwork other = loaded_network(kModel);
  CHECK(other != NULL, "second network");
  OK(LITE_shared_weight_with_network(other, net));
  OK(LITE_share_runtime_memroy(other, net));
  OK(LITE_destroy_network(other));

  OK(LITE_destroy_tensor(io(net, "x")));  /* IO tensors belong to the network: a no-op */
  OK(LITE_destroy_network(net));
  OK(LITE_destroy_network(net));          /* unknown handles are ignored, as in the official library */
}

static void test_tensors(void) {
  LiteTensorDesc desc;
  memset(&desc, 0, sizeof desc);
  desc.layout.ndim = 2;
  desc.layout.shapes[0] = 2;
  desc.layout.shapes[1] = 2;
  LiteTensor a = NULL, b = NULL, part = NULL, both = NULL, alias = NULL;
  OK(LITE_make_tensor(desc, &a));
  desc.layout.shapes[0] = 5;
  OK(LITE_make_tensor(desc, &b));
  OK(LITE_tensor_fill_zero(a));
  float* pa = memory_of(a);
  CHECK(pa && pa[0] == 0 && pa[3] == 0, "zeroed");
  for (int i = 0; i < 4; ++i) pa[i] = (float)(i + 1);
  OK(LITE_tensor_copy(b, a));
  LiteLayout l;
  OK(LITE_get_tensor_layout(b, &l));
  CHECK(l.shapes[0] == 2, "copy gives dst the source layout");
  CHECK(memory_of(b)[3] == 4, "copied data");
  int shape[1] = {-1};
  OK(LITE_tensor_reshape(b, shape, 1));
  OK(LITE_get_tensor_layout(b, &l));
  CHECK(l.ndim == 1 && l.shapes[0] == 4, "reshape deduces -1");
  int bad[1] = {3};
  FAILS(LITE_tensor_reshape(b, bad, 1), "number of elements");
  size_t start[2] = {1, 0}, end[2] = {2, 2};
  OK(LITE_tensor_slice(a, start, end, NULL, 2, &part));
  CHECK(memory_of(part) && memory_of(part)[0] == 3, "slice sees row 1");
  CHECK(memory_of(part) == pa + 2, "a slice is a view into its source");
  LiteTensor pair[2] = {a, a};
  OK(LITE_tensor_concat(pair, 2, 0, LITE_CPU, 0, &both));
  OK(LITE_get_tensor_layout(both, &l));
  CHECK(l.shapes[0] == 4 && memory_of(both)[7] == 4, "concat");
  OK(LITE_make_tensor(desc, &alias));
  OK(LITE_tensor_share_memory_with(alias, a));
  CHECK(memory_of(alias) == pa, "shared memory");
  size_t index[2] = {1, 1};
  void* at = NULL;
  OK(LITE_get_tensor_memory_with_index(a, index, 2, &at));
  CHECK(at == pa + 3, "memory with index");
  LiteDeviceType dev = LITE_CUDA;
  int dev_id = -1, pinned = -1, cont = -1;
  OK(LITE_get_tensor_device_type(a, &dev));
  OK(LITE_get_tensor_device_id(a, &dev_id));
  OK(LITE_is_pinned_host(a, &pinned));
  OK(LITE_is_memory_continue(a, &cont));
  CHECK(dev == LITE_CPU && dev_id == 0 && pinned == 0 && cont == 1, "tensor properties");
  LiteLayout l4 = desc.layout;
  float buffer[10];
  OK(LITE_reset_tensor(b, l4, buffer));
  CHECK(memory_of(b) == buffer, "reset_tensor adopts caller memory");
  OK(LITE_tensor_fill_zero(b));
  CHECK(buffer[9] == 0, "fill_zero reaches caller memory");
  LiteTensor t;
  for (t = a; t; t = t == a ? b : t == b ? part : t == part ? both : t == both ? alias : NULL) OK(LITE_destroy_tensor(t));
}

static void test_model_files(void) {
  char path[] = "/tmp/mgf-lite-model-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0, "temp file");
  CHECK(write(fd, kModel, strlen(kModel)) == (ssize_t)strlen(kModel), "write model");
  close(fd);
  LiteNetwork net = NULL;
  OK(LITE_make_network_config(&net, *default_config()));
  OK(LITE_load_model_from_path(net, path));
  CHECK(forward_and_check(net, 6, 1) == 0, "model loaded from a file");
  OK(LITE_destroy_network(net));
  LiteNetworkIO ios;
  memset(&ios, 0, sizeof ios);
  OK(LITE_get_model_io_info_by_path(path, *default_config(), &ios));
  CHECK(ios.input_size == 2 && ios.output_size == 2 && !strcmp(ios.outputs[1].name, "sum"), "io info by path");
  OK(LITE_get_model_io_info_by_memory(kModel, strlen(kModel), *default_config(), &ios));
  CHECK(ios.input_size == 2 && ios.inputs[0].config_layout.shapes[1] == 3, "io info by memory");
  unlink(path);
}

int main(void) {
  const char* env = getenv("LITE_FORK_MODE");
  CHECK(mgf_lite_fork_mode() == (env && !strcmp(env, "1") ? 1 : 0), "mode from LITE_FORK_MODE");
  test_global();
  test_network();
  test_tensors();
  test_model_files();
  if (is_fork()) {
    CHECK(stats().workers_started == 1 && stats().workers_lost == 0, "one worker served everything");
    OK(mgf_lite_fork_shutdown());
    CHECK(stats().shm_blocks_mapped == 0, "no shared memory left mapped (%llu)",
          (unsigned long long)stats().shm_blocks_mapped);
  }
  return finish(is_fork() ? "test_lite_api (fork mode)" : "test_lite_api (pass-through)");
}
