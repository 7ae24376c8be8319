/* Helpers shared by the C tests of the drop-in Lite library (fake Lite model, see fake_lite.cpp). */
#ifndef MEGFORGE_LITE_TEST_H
#define MEGFORGE_LITE_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "megforge/lite_fork.h"

static int g_failures = 0;

#define CHECK(cond, ...)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      fprintf(stderr, "FAIL %s:%d: %s -- ", __FILE__, __LINE__, #cond);                  \
      fprintf(stderr, __VA_ARGS__);                                                      \
      fprintf(stderr, " (last error: %s)\n", LITE_get_last_error());                     \
      ++g_failures;                                                                      \
    }                                                                                    \
  } while (0)
#define OK(call) CHECK((call) == 0, "%s", #call)
#define FAILS(call, needle)                                                              \
  do {                                                                                   \
    int rc_ = (call);                                                                    \
    CHECK(rc_ != 0, "%s should fail", #call);                                            \
    CHECK(strstr(LITE_get_last_error(), needle) != NULL, "%s: message should mention '%s'", #call, needle); \
  } while (0)

static const char kModel[] = "fake-lite-model scale=2 shape=2x3";

static inline int is_fork(void) { return mgf_lite_fork_mode() == 1; }

static inline mgf_lite_fork_stats stats(void) {
  mgf_lite_fork_stats s;
  memset(&s, 0, sizeof s);
  mgf_lite_fork_get_stats(&s, sizeof s);
  return s;
}

static inline LiteNetwork loaded_network(const char* model) {
  LiteNetwork net = NULL;
  if (LITE_make_default_network(&net) != 0) return NULL;
  if (LITE_load_model_from_mem(net, (void*)model, strlen(model)) != 0) {
    LITE_destroy_network(net);
    return NULL;
  }
  return net;
}

static inline float* memory_of(LiteTensor t) {
  void* p = NULL;
  return LITE_get_tensor_memory(t, &p) == 0 ? (float*)p : NULL;
}

static inline LiteTensor io(LiteNetwork net, const char* name) {
  LiteTensor t = NULL;
  LITE_get_io_tensor(net, name, LITE_IO, &t);
  return t;
}

/* x[i] = base + i, y[i] = 1; forward; check out = 2x + y and sum. Returns 0 when right. */
static inline int forward_and_check(LiteNetwork net, size_t n, float base) {
  float *x = memory_of(io(net, "x")), *y = memory_of(io(net, "y"));
  if (!x || !y) return -1;
  float want_sum = 0;
  for (size_t i = 0; i < n; ++i) {
    x[i] = base + (float)i;
    y[i] = 1;
    want_sum += 2 * x[i] + 1;
  }
  if (LITE_forward(net) != 0 || LITE_wait(net) != 0) return -2;
  float *out = memory_of(io(net, "out")), *sum = memory_of(io(net, "sum"));
  if (!out || !sum) return -3;
  for (size_t i = 0; i < n; ++i)
    if (out[i] != 2 * (base + (float)i) + 1) return -4;
  return sum[0] == want_sum ? 0 : -5;
}

static inline int finish(const char* name) {
  if (g_failures) {
    fprintf(stderr, "%s: %d failure(s)\n", name, g_failures);
    return 1;
  }
  printf("%s: ok\n", name);
  return 0;
}

#endif
