/* The C side of the benchmark: the LITE C API called directly, no Python in between.
 *   forward_loop LIBRARY MODEL CONFIG WARMUP
 * LIBRARY is dlopen'ed: the official liblite_shared (in-process) or libmegforge_lite (fork mode
 * when LITE_FORK_MODE=1). Same line protocol as measure.py: "ready", then per line "N [W [GAP_MS]]"
 * W untimed forwards and a JSON list of N forward + wait times in ns (GAP_MS of sleep before each),
 * and on "q" {"bytes_copied": ..., "spin_waits": ..., "spin_caught": ..., "checksum": ...} (counters
 * since "ready"). */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "megforge/lite_fork.h"

#define RESOLVE(name) name##_t name = (name##_t)dlsym(lib, #name)
typedef int (*LITE_make_network_config_t)(LiteNetwork*, const LiteConfig);
typedef LiteConfig* (*default_config_t)(void);
typedef int (*LITE_set_cpu_inplace_mode_t)(LiteNetwork);
typedef int (*LITE_load_model_from_path_t)(LiteNetwork, const char*);
typedef int (*LITE_get_io_tensor_t)(LiteNetwork, const char*, LiteTensorPhase, LiteTensor*);
typedef int (*LITE_get_tensor_memory_t)(const LiteTensor, void**);
typedef int (*LITE_get_tensor_total_size_in_byte_t)(const LiteTensor, size_t*);
typedef int (*LITE_forward_t)(const LiteNetwork);
typedef int (*LITE_wait_t)(const LiteNetwork);
typedef const char* (*LITE_get_last_error_t)(void);
typedef int (*mgf_lite_fork_get_stats_t)(mgf_lite_fork_stats*, size_t);

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc != 5) return fprintf(stderr, "usage: %s LIBRARY MODEL CONFIG WARMUP\n", argv[0]), 2;
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) return fprintf(stderr, "%s\n", dlerror()), 1;
  RESOLVE(LITE_make_network_config);
  RESOLVE(default_config);
  RESOLVE(LITE_set_cpu_inplace_mode);
  RESOLVE(LITE_load_model_from_path);
  RESOLVE(LITE_get_io_tensor);
  RESOLVE(LITE_get_tensor_memory);
  RESOLVE(LITE_get_tensor_total_size_in_byte);
  RESOLVE(LITE_forward);
  RESOLVE(LITE_wait);
  RESOLVE(LITE_get_last_error);
  RESOLVE(mgf_lite_fork_get_stats);  /* ours only */

  LiteConfig config = *default_config();
  if (!strcmp(argv[3], "record")) config.options.comp_node_seq_record_level = 1;
  LiteNetwork net = NULL;
  LiteTensor data = NULL, out = NULL;
  float *in = NULL, *res = NULL;
  size_t in_bytes = 0, out_bytes = 0;
  if (LITE_make_network_config(&net, config) || (!strcmp(argv[3], "inplace") && LITE_set_cpu_inplace_mode(net)) ||
      LITE_load_model_from_path(net, argv[2]) || LITE_get_io_tensor(net, "data", LITE_IO, &data) ||
      LITE_get_io_tensor(net, "out", LITE_IO, &out) || LITE_get_tensor_memory(data, (void**)&in) ||
      LITE_get_tensor_total_size_in_byte(data, &in_bytes))
    return fprintf(stderr, "%s\n", LITE_get_last_error()), 1;
  srand(0);
  for (size_t i = 0; i < in_bytes / 4; ++i) in[i] = (float)rand() / RAND_MAX - 0.5f;  /* in place: no copy */
  for (int i = 0; i < atoi(argv[4]); ++i)
    if (LITE_forward(net) || LITE_wait(net)) return fprintf(stderr, "%s\n", LITE_get_last_error()), 1;
  mgf_lite_fork_stats before = {0}, after = {0};
  if (mgf_lite_fork_get_stats) mgf_lite_fork_get_stats(&before, sizeof before);
  printf("ready\n");
  fflush(stdout);
  char line[64];
  long long* t = NULL;
  while (fgets(line, sizeof line, stdin) && line[0] != 'q') {
    int n = 0, warm = 0;
    double gap_ms = 0;
    sscanf(line, "%d %d %lf", &n, &warm, &gap_ms);
    for (int i = 0; i < warm; ++i)
      if (LITE_forward(net) || LITE_wait(net)) return fprintf(stderr, "%s\n", LITE_get_last_error()), 1;
    t = (long long*)realloc(t, sizeof *t * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; ++i) {
      if (gap_ms > 0) {
        struct timespec ts = {(time_t)(gap_ms / 1000), (long)((gap_ms - 1000 * (time_t)(gap_ms / 1000)) * 1e6)};
        nanosleep(&ts, NULL);
      }
      long long a = now_ns();
      if (LITE_forward(net) || LITE_wait(net)) return fprintf(stderr, "%s\n", LITE_get_last_error()), 1;
      t[i] = now_ns() - a;
    }
    printf("[");
    for (int i = 0; i < n; ++i) printf(i ? ",%lld" : "%lld", t[i]);
    printf("]\n");
    fflush(stdout);
  }
  if (mgf_lite_fork_get_stats) mgf_lite_fork_get_stats(&after, sizeof after);
  double checksum = 0;
  if (LITE_get_tensor_memory(out, (void**)&res) == 0 && LITE_get_tensor_total_size_in_byte(out, &out_bytes) == 0)
    for (size_t i = 0; i < out_bytes / 4; ++i) checksum += res[i];
  printf("{\"bytes_copied\": %llu, \"spin_waits\": %llu, \"spin_caught\": %llu, \"spin_contended\": %llu, "
         "\"checksum\": %.9g}\n", (unsigned long long)(after.bytes_copied - before.bytes_copied),
         (unsigned long long)(after.spin_waits - before.spin_waits),
         (unsigned long long)(after.spin_caught - before.spin_caught),
         (unsigned long long)(after.spin_contended - before.spin_contended), checksum);
  free(t);
  return 0;
}
