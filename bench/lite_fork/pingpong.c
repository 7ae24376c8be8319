/* The floor under fork mode's per-call cost on this machine: one 16-byte message there and back
 * over an AF_UNIX socketpair between two processes. pingpong N [SPIN_US]
 * SPIN_US 0 (default): blocking read / write. SPIN_US > 0: like fork mode with LITE_FORK_SPIN_US,
 * each side first polls (recv MSG_DONTWAIT + sched_yield) for up to SPIN_US microseconds, then
 * blocks. Prints p50 and p99 in microseconds over N round trips. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long spin_ns = 0;

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void* a, const void* b) {
  long long x = *(const long long*)a, y = *(const long long*)b;
  return x < y ? -1 : x > y;
}

static ssize_t get(int fd, char* buf, size_t n) {
  if (spin_ns > 0) {
    long long end = now_ns() + spin_ns;
    for (;;) {
      ssize_t r = recv(fd, buf, n, MSG_DONTWAIT);
      if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return r;
      if (now_ns() >= end) break;
      sched_yield();
    }
  }
  return recv(fd, buf, n, MSG_WAITALL);
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000, sv[2];
  spin_ns = argc > 2 ? atoll(argv[2]) * 1000 : 0;
  char buf[16] = {0};
  if (n <= 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  pid_t child = fork();
  if (child == 0) {
    close(sv[0]);
    while (get(sv[1], buf, sizeof buf) == (ssize_t)sizeof buf && write(sv[1], buf, sizeof buf) == (ssize_t)sizeof buf) {
    }
    _exit(0);
  }
  close(sv[1]);
  long long* t = (long long*)malloc(sizeof *t * (size_t)n);
  for (int i = 0; i < n; ++i) {
    long long a = now_ns();
    if (write(sv[0], buf, sizeof buf) != (ssize_t)sizeof buf || get(sv[0], buf, sizeof buf) != (ssize_t)sizeof buf) return 1;
    t[i] = now_ns() - a;
  }
  close(sv[0]);
  waitpid(child, NULL, 0);
  qsort(t, (size_t)n, sizeof *t, cmp);
  printf("{\"p50_us\": %.2f, \"p99_us\": %.2f}\n", t[n / 2] / 1e3, t[(long long)n * 99 / 100] / 1e3);
  free(t);
  return 0;
}
