#include "spin.h"

#include <sched.h>
#include <time.h>
#include <unistd.h>

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

int64_t SpinWindow::budget_ns() {
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
  if (typical_ns_ < 0) return cap_ns_;
  int64_t budget = 2 * typical_ns_ + 10000;
  return budget < cap_ns_ ? budget : cap_ns_;
}

void SpinWindow::record(int64_t waited_ns, bool spun, bool caught, bool contended) {
  last_spun_ = spun;
  last_caught_ = caught;
  last_contended_ = contended;
  if (cap_ns_ <= 0) return;
  if (contended) {  // no information about the peer; do not poll for a while (longer each time)
    skip_ = contended_backoff_;
    contended_backoff_ = contended_backoff_ < 1024 ? contended_backoff_ * 2 : 1024;
    return;
  }
  if (spun && caught) contended_backoff_ = 16;
  bool within = waited_ns <= cap_ns_;
  if (spun && probing_) probe_every_ = within ? 16 : (probe_every_ < 1024 ? probe_every_ * 2 : 1024);
  within_ = (within_ << 1) | (within ? 1u : 0u);
  if (within) typical_ns_ = typical_ns_ < 0 ? waited_ns : typical_ns_ + (waited_ns - typical_ns_) / 4;
}

}  // namespace lite
}  // namespace mgf
