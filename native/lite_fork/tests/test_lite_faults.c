/* Fork mode under faults (MEGFORGE_LITE_FORK_TEST_HOOK makes the worker misbehave):
 * a worker killed by SIGKILL or SIGSEGV during a forward (also in a caller that ignores SIGCHLD
 * or reaps every child), a hung worker (LITE_FORK_TIMEOUT_MS), a worker that dies while idle,
 * and caller memory overwritten after a call was submitted.
 * The failing call returns non-zero naming the cause, the dead worker is reaped, its objects
 * fail cleanly afterwards, and the next LITE_make_network starts a new worker. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lite_test.h"

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static mgf_lite_fork_stats g_started; /* the counters when the current worker was started */

/* A network served by a fresh worker that starts with `hook` (NULL: none). */
static LiteNetwork fresh_network(const char* hook) {
  mgf_lite_fork_shutdown();
  g_started = stats();
  if (hook) setenv("MEGFORGE_LITE_FORK_TEST_HOOK", hook, 1);
  LiteNetwork net = loaded_network(kModel);
  unsetenv("MEGFORGE_LITE_FORK_TEST_HOOK");  /* read by the worker at start only */
  CHECK(net != NULL, "network with hook %s", hook ? hook : "(none)");
  return net;
}

/* MGF_TEST_EXPECT_POLLING=1 (run with a long LITE_FORK_SPIN_US): the failed call polled for its
 * answer, i.e. the worker died or hung while the caller was polling, not blocked -- unless the
 * caller had stopped polling because other tasks took its CPU (a busy machine), which the
 * contention counter shows. */
static void expect_polled(mgf_lite_fork_stats before, const char* what) {
  const char* expect = getenv("MGF_TEST_EXPECT_POLLING");
  if (!expect || strcmp(expect, "1") != 0) return;
  mgf_lite_fork_stats now = stats();
  CHECK(mgf_lite_fork_spin_us() > 0, "polling is on (LITE_FORK_SPIN_US)");
  CHECK(now.spin_waits == before.spin_waits + 1 || now.spin_contended > g_started.spin_contended,
        "the caller polled while %s (or had backed off from a contended CPU)", what);
  if (now.spin_waits != before.spin_waits + 1) fprintf(stderr, "note: %s while not polling (CPU contended)\n", what);
}

static int reaped(int64_t pid) { return waitpid((pid_t)pid, NULL, WNOHANG) == -1 && errno == ECHILD; }

/* The worker dies during LITE_forward; everything afterwards behaves. */
static void crash_during_forward(const char* hook, const char* cause) {
  LiteNetwork net = fresh_network(hook);
  if (!net) return;
  int64_t pid = mgf_lite_fork_worker_pid();
  LiteTensor out = io(net, "out");
  float* x = memory_of(io(net, "x"));
  CHECK(x != NULL, "input memory");
  mgf_lite_fork_stats before = stats();
  CHECK(LITE_forward(net) != 0, "forward fails when the worker dies (%s)", hook);
  expect_polled(before, "the worker died");
  const char* msg = LITE_get_last_error();
  CHECK(strstr(msg, cause) && strstr(msg, "during LITE_forward") && strstr(msg, "LITE_forward:"),
        "message names the cause '%s': %s", cause, msg);
  CHECK(stats().workers_lost == before.workers_lost + 1, "worker counted as lost");
  CHECK(reaped(pid), "the dead worker was reaped (no zombie)");
  CHECK(mgf_lite_fork_worker_pid() == 0, "no worker running");

  /* Its objects now fail with the cause; reading old memory still works; destroying works. */
  CHECK(LITE_forward(net) != 0 && strstr(LITE_get_last_error(), cause), "later calls repeat the cause");
  CHECK(LITE_wait(net) != 0, "wait on a dead network fails");
  x[0] = 1;  /* the mapping stays valid until the handles are destroyed */
  CHECK(memory_of(out) != NULL, "output memory still readable");
  OK(LITE_destroy_network(net));

  LiteNetwork again = loaded_network(kModel);
  CHECK(again != NULL, "the next network starts a new worker");
  CHECK(mgf_lite_fork_worker_pid() != 0 && mgf_lite_fork_worker_pid() != pid, "a new worker process");
  CHECK(forward_and_check(again, 6, 2) == 0, "the new worker computes");
  OK(LITE_destroy_network(again));
}

static void hang_times_out(void) {
  const char* timeout = getenv("LITE_FORK_TIMEOUT_MS");
  CHECK(timeout && atoi(timeout) > 0, "run with LITE_FORK_TIMEOUT_MS set");
  LiteNetwork net = fresh_network("forward=hang");
  if (!net) return;
  int64_t pid = mgf_lite_fork_worker_pid();
  mgf_lite_fork_stats before = stats();
  CHECK(LITE_forward(net) != 0, "a hung forward returns");
  expect_polled(before, "the worker hung");
  const char* msg = LITE_get_last_error();
  CHECK(strstr(msg, "did not answer LITE_forward within LITE_FORK_TIMEOUT_MS=") && strstr(msg, "killed"),
        "message names the timeout: %s", msg);
  CHECK(reaped(pid), "the hung worker was killed and reaped");
  OK(LITE_destroy_network(net));
  LiteNetwork again = loaded_network(kModel);
  CHECK(again && forward_and_check(again, 6, 0) == 0, "a new worker after the timeout");
  LITE_destroy_network(again);
}

static void dies_while_idle(void) {
  LiteNetwork net = fresh_network(NULL);
  if (!net) return;
  int64_t pid = mgf_lite_fork_worker_pid();
  CHECK(kill((pid_t)pid, SIGKILL) == 0, "kill the idle worker");
  sleep_ms(50);
  CHECK(LITE_forward(net) != 0 && strstr(LITE_get_last_error(), "signal 9 (SIGKILL)"),
        "the next call reports the death");
  CHECK(reaped(pid), "reaped");
  OK(LITE_destroy_network(net));
  net = loaded_network(kModel);
  CHECK(net && forward_and_check(net, 6, 3) == 0, "replaced");
  LITE_destroy_network(net);
}

/* Caller memory overwritten while a call that uses it is in flight (the worker sleeps 300 ms in
 * forward): the forward computes on what the caller had when it submitted. */
struct Scribble {
  float* target;
  size_t n;
};
static void* scribble(void* arg) {
  struct Scribble* s = (struct Scribble*)arg;
  sleep_ms(100);
  for (size_t i = 0; i < s->n; ++i) s->target[i] = -999.0f;
  return NULL;
}

static void caller_memory_overwritten(void) {
  LiteNetwork net = fresh_network("forward=delay:300");
  if (!net) return;
  float ux[6], uy[6];
  for (int i = 0; i < 6; ++i) ux[i] = (float)i, uy[i] = 1;
  OK(LITE_reset_tensor_memory(io(net, "x"), ux, sizeof ux));
  OK(LITE_reset_tensor_memory(io(net, "y"), uy, sizeof uy));
  struct Scribble s = {ux, 6};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, scribble, &s) == 0, "thread");
  OK(LITE_forward(net));
  pthread_join(th, NULL);
  float* out = memory_of(io(net, "out"));
  for (int i = 0; i < 6; ++i) CHECK(out && out[i] == 2 * i + 1, "out[%d] = %g computed from the submitted x", i, out ? out[i] : 0);
  OK(LITE_destroy_network(net));

  /* The model buffer scribbled over right after loading: the worker has its own sealed copy. */
  char model[64];
  strcpy(model, kModel);
  net = NULL;
  OK(LITE_make_default_network(&net));
  OK(LITE_load_model_from_mem(net, model, strlen(model)));
  memset(model, 0xff, sizeof model);
  CHECK(forward_and_check(net, 6, 7) == 0, "forward after the model buffer was overwritten");
  OK(LITE_destroy_network(net));
}

static void reap_every_child(int sig) {
  (void)sig;
  int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

/* A caller that cannot read its children's exit status: SIGCHLD ignored (the system discards
 * it), or a SIGCHLD handler that reaps every child. The worker reports a fatal signal itself;
 * SIGKILL cannot be reported, and the message says why the status is unknown. */
static void exit_status_unavailable(void) {
  struct sigaction old, sa;
  sigaction(SIGCHLD, NULL, &old);
  signal(SIGCHLD, SIG_IGN);
  crash_during_forward("forward=sigsegv", "killed by signal 11 (SIGSEGV)");
  crash_during_forward("forward=sigkill", "without reporting a fatal signal (so it was killed by SIGKILL, or exited); "
                                          "its exit status could not be read because this process ignores SIGCHLD");
  {
    LiteNetwork net = fresh_network(NULL);
    int64_t pid = mgf_lite_fork_worker_pid();
    CHECK(net && kill((pid_t)pid, SIGSEGV) == 0, "crash the idle worker");
    sleep_ms(50);
    LiteNetwork other = NULL;
    OK(LITE_make_default_network(&other)); /* notices the death, starts a new worker */
    CHECK(mgf_lite_fork_worker_pid() != pid, "a new worker");
    CHECK(LITE_forward(net) != 0 && strstr(LITE_get_last_error(), "killed by signal 11 (SIGSEGV)"),
          "the old network names the signal");
    LITE_destroy_network(net);
    LITE_destroy_network(other);
  }
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = reap_every_child;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGCHLD, &sa, NULL);
  crash_during_forward("forward=sigsegv", "killed by signal 11 (SIGSEGV)");
  sigaction(SIGCHLD, &old, NULL);
}

int main(void) {
  CHECK(is_fork(), "run with LITE_FORK_MODE=1");
  crash_during_forward("forward=sigkill", "killed by signal 9 (SIGKILL)");
  crash_during_forward("forward=sigsegv", "killed by signal 11 (SIGSEGV)");
  exit_status_unavailable();
  dies_while_idle();
  caller_memory_overwritten();
  hang_times_out();
  OK(mgf_lite_fork_shutdown());
  CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "no child process left");
  CHECK(stats().shm_blocks_mapped == 0, "no shared memory left mapped");
  return finish("test_lite_faults");
}
