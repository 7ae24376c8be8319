// Bounded, adaptive spinning before a blocking receive (both processes).
//
// A blocking recvmsg costs a sleep and a wake-up of the waiting thread on every message; when the
// answer (caller side) or the next request (worker side) usually comes within some tens of
// microseconds, polling for it first is cheaper. The poll loop (Channel::recv) alternates
// recvmsg(MSG_DONTWAIT) with sched_yield(): a process sharing its core with the peer (or with
// another job) hands the core over instead of burning it. The window is bounded and adapts:
//
// * poll only while waits that poll end sooner than waits that block (EWMAs of both, every 32nd
//   wait doing the other thing to keep them fresh): whatever the scheduler does with a polling
//   peer -- e.g. a blocked worker woken onto the caller's CPU, behind the caller's polling --
//   the measured outcome decides;
// * budget: twice the typical recent wait (EWMA of the waits that ended within the cap) plus
//   10 us of slack, never more than the cap (LITE_FORK_SPIN_US);
// * spin only while at least half of the last 16 waits ended within the cap; otherwise only a
//   probe now and then (every 16th wait, spaced out up to every 1024th while probes keep
//   failing), so that a workload that gets fast again is noticed;
// * a gap of more than 20 us (a quarter of the window if that is longer) between two looks
//   means another runnable task had our CPU, in the yield or by preempting us (a job sharing
//   the core): polling on would queue us behind its time slices while a blocked thread is woken
//   promptly, so unless the message is there now the wait blocks at once and the next 16 waits
//   do not poll (32, 64 ... up to 1024 while it keeps happening; halved by each poll that
//   catches its message);
// * no polling while the machine is crowded: on average (over the last ~40 ms) at least online
//   CPUs + 2 runnable tasks, i.e. besides our two processes at least one per CPU (Linux:
//   /proc/loadavg, read at most every 10 ms per channel). Polling time is charged to the poller:
//   once both processes poll against CPU-bound jobs they look CPU-bound themselves and lose the
//   prompt wake-up a mostly sleeping thread gets (measured with two busy loops on two cores:
//   +90..800 us per forward polling vs +7..70 us blocking), and the CPU is better left to the
//   jobs;
// * off (0) when the cap is 0 or the process may run on one CPU only (it would spin against
//   its own peer).
#pragma once

#include <cstdint>

namespace mgf {
namespace lite {

constexpr int64_t kDefaultSpinUs = 50;
constexpr int64_t kMaxSpinUs = 10000;
constexpr int64_t kContendedYieldNs = 20000;

// A yield longer than this means another task had the CPU: 20 us, or a quarter of a longer
// window (a long window is a licence to wait for a busy peer).
inline int64_t contended_yield_ns(int64_t window_ns) {
  return window_ns / 4 > kContendedYieldNs ? window_ns / 4 : kContendedYieldNs;
}

int64_t monotonic_ns();

// CPUs this process may run on (Linux: its affinity mask; elsewhere: online CPUs).
int usable_cpus();

// The window in force for a requested cap: 0 on a single usable CPU.
int64_t effective_spin_us(int64_t requested_us);

// Tasks runnable on the machine right now (Linux /proc/loadavg, incl. the caller), -1 where
// unknown; and the number of online CPUs.
int runnable_tasks();
int online_cpus();

// Give the CPU away briefly while polling.
void spin_pause();

class SpinWindow {
 public:
  explicit SpinWindow(int64_t cap_us = 0) { set_cap_us(cap_us); }
  void set_cap_us(int64_t cap_us) { cap_ns_ = cap_us > 0 ? cap_us * 1000 : 0; }
  bool enabled() const { return cap_ns_ > 0; }

  // How long to poll before the next blocking receive (ns), 0: block at once. now: monotonic_ns().
  int64_t budget_ns(int64_t now = 0);
  // The wait that just ended took waited_ns; spun: it was polled for, caught: it ended while
  // polling, contended: polling stopped because another task had the CPU.
  void record(int64_t waited_ns, bool spun, bool caught, bool contended = false);

  // Outcome of the last wait (for counters).
  bool last_spun() const { return last_spun_; }
  bool last_caught() const { return last_caught_; }
  bool last_contended() const { return last_contended_; }

 private:
  int64_t cap_ns_ = 0;
  int64_t typical_ns_ = -1;  // EWMA of waits within the cap, -1: none yet
  uint32_t within_ = 0xffffu;  // bit i: the i-th last wait ended within the cap (optimistic start)
  uint32_t waits_ = 0;
  uint32_t probe_every_ = 16;  // while mostly long waits: poll every probe_every_-th wait
  bool probing_ = false;       // the current wait is a probe
  uint32_t skip_ = 0;          // waits left that do not poll after a contended one
  uint32_t contended_backoff_ = 16;
  int64_t next_crowd_check_ns_ = 0;
  int runnable_x16_ = 0;  // EWMA of runnable_tasks(), x16
  bool crowded_ = false;  // the current wait does not poll because the machine is crowded
  bool comparing_ = false;  // the current wait polls or blocks by the comparison below
  uint32_t decisions_ = 0;
  int64_t polled_ns_ = -1, blocked_ns_ = -1;  // EWMAs of such waits that polled / blocked
  bool last_spun_ = false, last_caught_ = false, last_contended_ = false;
};

}  // namespace lite
}  // namespace mgf
