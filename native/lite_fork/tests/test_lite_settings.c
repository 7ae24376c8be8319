/* The settings read when the library loads, as a caller sees them:
 *   test_lite_settings [MODE SPIN [MESSAGE]]   (default: 1 default)
 * MODE: the expected mgf_lite_fork_mode(); SPIN: the expected mgf_lite_fork_spin_us() ("default":
 * 50 where this process may use several CPUs); MESSAGE: for an invalid setting, what every call
 * must fail with. On Linux a test that expects polling also re-runs itself restricted to one CPU,
 * where polling must be off (both processes would share the core); not under an emulator. */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lite_test.h"

static int cpus(void) {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

int main(int argc, char** argv) {
  if (argc == 2) return fprintf(stderr, "usage: %s [MODE SPIN [MESSAGE | --single-cpu]]\n", argv[0]), 2;
  const char* mode_arg = argc > 2 ? argv[1] : "1";
  const char* spin_arg = argc > 2 ? argv[2] : "default";
  int single = argc > 3 && strcmp(argv[3], "--single-cpu") == 0;
  int mode = atoi(mode_arg);
  long long spin = strcmp(spin_arg, "default") == 0 ? 50 : atoll(spin_arg);
  if (cpus() < 2) spin = 0;
  CHECK(mgf_lite_fork_mode() == mode, "mode %d, expected %d", mgf_lite_fork_mode(), mode);
  CHECK(mgf_lite_fork_spin_us() == spin, "spin window %lld us, expected %lld (%d CPUs%s)",
        (long long)mgf_lite_fork_spin_us(), spin, cpus(), single ? ", restricted" : "");
  if (argc > 3 && !single) {
    LiteNetwork net = NULL;
    CHECK(LITE_make_default_network(&net) != 0, "every call fails");
    CHECK(strstr(LITE_get_last_error(), argv[3]) != NULL, "message names the value: %s", LITE_get_last_error());
    CHECK(strstr(LITE_get_last_error(), "whole number of microseconds") != NULL, "says what is valid");
  }
#if defined(__linux__)
  /* Under an emulator (cross builds) exec would need the emulator again: skipped there. */
  if (!single && spin > 0 && !getenv("MEGFORGE_LITE_WORKER_WRAPPER")) {
    pid_t child = fork();
    if (child == 0) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
      if (sched_setaffinity(0, sizeof one, &one) != 0) _exit(3);
      execv("/proc/self/exe", (char*[]){argv[0], (char*)mode_arg, "0", "--single-cpu", NULL});
      _exit(4);
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "on a single CPU the window is 0 (status 0x%x)", status);
  }
#endif
  return finish(single ? "test_lite_settings (single CPU)" : "test_lite_settings");
}
