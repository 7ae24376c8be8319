#include "spin.h"

#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace mgf {
namespace lite {

int64_t monotonic_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int usable_cpus() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

int64_t effective_spin_us(int64_t requested_us) {
  if (requested_us <= 0) return 0;
  return usable_cpus() > 1 ? requested_us : 0;
}

void spin_pause() { sched_yield(); }

int online_cpus() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

int runnable_tasks() {
#if defined(__linux__)
  int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  // "0.52 0.58 0.59 3/345 12345": the fourth field is runnable / all tasks, now (incl. the reader).
  const char* slash = std::strchr(buf, '/');
  if (!slash) return -1;
  const char* p = slash;
  while (p > buf && p[-1] >= '0' && p[-1] <= '9') --p;
  return p < slash ? static_cast<int>(std::strtol(p, nullptr, 10)) : -1;
#else
  return -1;
#endif
}

int64_t SpinWindow::budget_ns(int64_t now) {
  if (cap_ns_ <= 0) return 0;
  if (skip_ > 0) {  // recently contended
    --skip_;
    return 0;
  }
  ++waits_;
  unsigned recent = 0;
  for (uint32_t bits = within_ & 0xffffu; bits; bits &= bits - 1) ++recent;
  probing_ = recent < 8;
  if (!probing_) probe_every_ = 16;
  if (probing_ && waits_ % probe_every_ != 0) return 0;  // mostly long waits: probe now and then only
  // Polling is worth it only if waits that poll end sooner than waits that block: compare the
  // two, doing the other thing on every 32nd wait to keep both figures fresh.
  comparing_ = !probing_;
  if (comparing_) {
    bool block = polled_ns_ >= 0 && blocked_ns_ >= 0 && polled_ns_ > blocked_ns_;
    if (block != (++decisions_ % 32 == 0)) return 0;
  }
  // Only a wait that would poll asks whether the machine is crowded (reading /proc/loadavg
  // costs a few microseconds: not on every sporadic call's path).
  if (now > 0 && now >= next_crowd_check_ns_) {
    int runnable = runnable_tasks();
    if (runnable >= 0) runnable_x16_ += (runnable * 16 - runnable_x16_) / 4;
    next_crowd_check_ns_ = now + 10000000;
  }
  static const int online = online_cpus();
  if (runnable_x16_ >= (online + 2) * 16) {  // crowded: leave the CPUs to the others
    crowded_ = true;
    comparing_ = false;  // not a sample of blocking by choice
    return 0;
  }
  if (typical_ns_ < 0) return cap_ns_;
  int64_t budget = 2 * typical_ns_ + 10000;
  return budget < cap_ns_ ? budget : cap_ns_;
}

void SpinWindow::record(int64_t waited_ns, bool spun, bool caught, bool contended) {
  last_spun_ = spun;
  last_caught_ = caught;
  last_contended_ = contended || crowded_;
  crowded_ = false;
  if (cap_ns_ <= 0) return;
  if (contended) {  // no information about the peer; do not poll for a while (longer each time)
    skip_ = contended_backoff_;
    contended_backoff_ = contended_backoff_ < 1024 ? contended_backoff_ * 2 : 1024;
    return;
  }
  if (spun && caught && contended_backoff_ > 16) contended_backoff_ /= 2;
  bool within = waited_ns <= cap_ns_;
  if (comparing_) {  // a wait that could have gone either way: learn how long each way takes
    int64_t sample = waited_ns < 4 * cap_ns_ ? waited_ns : 4 * cap_ns_;
    int64_t& avg = spun ? polled_ns_ : blocked_ns_;
    avg = avg < 0 ? sample : avg + (sample - avg) / 8;
    comparing_ = false;
  }
  if (spun && probing_) probe_every_ = within ? 16 : (probe_every_ < 1024 ? probe_every_ * 2 : 1024);
  within_ = (within_ << 1) | (within ? 1u : 0u);
  if (within) typical_ns_ = typical_ns_ < 0 ? waited_ns : typical_ns_ + (waited_ns - typical_ns_) / 4;
}

}  // namespace lite
}  // namespace mgf
