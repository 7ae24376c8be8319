// megforge's additions to the LITE API (megforge/lite_fork.h): mode, counters, worker control.
#include <signal.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include "client.h"
#include "error.h"
#include "launch.h"
#include "settings.h"

using mgf::lite::fork::State;
using mgf::lite::fork::Worker;

extern "C" MGF_LITE_API int mgf_lite_fork_mode(void) { return static_cast<int>(mgf::lite::settings().mode); }

extern "C" MGF_LITE_API int mgf_lite_fork_get_stats(mgf_lite_fork_stats* stats, size_t size) {
  constexpr size_t kSize01 = offsetof(mgf_lite_fork_stats, spin_waits);  // callers built against 0.1
  if (!stats || (size != sizeof(mgf_lite_fork_stats) && size != kSize01)) return -1;
  State& s = mgf::lite::fork::state();
  std::lock_guard<std::mutex> lock(s.mu);
  std::memcpy(stats, &s.stats, size);
  return 0;
}

extern "C" MGF_LITE_API int64_t mgf_lite_fork_spin_us(void) { return mgf::lite::settings().spin_effective_us; }

extern "C" MGF_LITE_API int64_t mgf_lite_fork_worker_pid(void) {
  State& s = mgf::lite::fork::state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.current && !s.current->dead.load() ? static_cast<int64_t>(s.current->pid) : 0;
}

extern "C" MGF_LITE_API int mgf_lite_fork_shutdown(void) {
  State& s = mgf::lite::fork::state();
  std::lock_guard<std::mutex> start(s.start_mu);
  Worker* w;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    w = s.current;
    s.current = nullptr;
  }
  if (!w || w->dead.load() || w->owner_pid != getpid()) return 0;
  std::lock_guard<std::mutex> death(w->death_mu);
  {
    std::lock_guard<std::mutex> lock(w->control_mu);
    w->control.reset(-1);  // the worker exits when its control channel closes
  }
  int status = 0;
  // Only a worker that is still our child may be signalled: one reaped elsewhere (SIGCHLD
  // ignored) is gone, and its pid may be another process's by now.
  if (mgf::lite::reap_worker(w->pid, 5000, &status) == mgf::lite::Reap::kTimeout) {
    kill(w->pid, SIGKILL);
    mgf::lite::reap(w->pid, 10000, &status);
  }
  std::lock_guard<std::mutex> lock(s.mu);
  w->cause = mgf::lite::format("the LITE fork-mode worker (pid %lld) was shut down by mgf_lite_fork_shutdown",
                               static_cast<long long>(w->pid));
  w->dead.store(true);
  for (auto& kv : w->blocks) kv.second.worker_released = true;
  mgf::lite::fork::collect_blocks(w);
  return 0;
}
