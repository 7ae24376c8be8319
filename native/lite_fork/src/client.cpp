// Fork mode, caller side: worker lifecycle, per-thread channels and the round trip itself.
#include "client.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "error.h"
#include "locate.h"
#include "settings.h"
#include "shm.h"
#include "spin.h"
#include "launch.h"

namespace mgf {
namespace lite {
namespace fork {

namespace {

// The process we belong to; changes in a child after fork(), which must start its own worker.
std::atomic<pid_t> g_pid{0};

void after_fork_in_child() { g_pid.store(getpid()); }

struct Conn {
  uint64_t generation = 0;
  pid_t pid = 0;
  Channel ch;
  SpinWindow spin{settings().spin_effective_us};  // polling for answers before blocking (spin.h)
  Writer request;                                 // thread_request()
  Response response;                              // thread_response()
};

// This thread's channel. A plain pointer (no destructor of its own) stays usable even in calls
// made after the thread's thread_local objects were destroyed (static destructors at exit):
// those just open a new channel.
thread_local Conn* t_conn = nullptr;

struct ConnOwner {
  ~ConnOwner() {
    delete t_conn;  // closes the channel: the worker thread serving it ends
    t_conn = nullptr;
  }
};
thread_local ConnOwner t_conn_owner;

Conn& this_thread_conn() {
  if (!t_conn) {
    t_conn = new Conn;
    (void)&t_conn_owner;  // make sure the owner is constructed, hence destroyed at thread exit
  }
  return *t_conn;
}

constexpr int64_t kStartTimeoutMs = 120000;

int64_t deadline() {
  int64_t t = settings().timeout_ms;
  return t > 0 ? monotonic_ms() + t : 0;
}

enum class Loss { kTimeout, kEof, kProtocol };

// How a worker that is no longer our child to wait for ended (SIGCHLD ignored, or reaped by a
// waitpid elsewhere in this process): the fatal signal it reported on the control channel, if
// any. "was killed by signal 11 (SIGSEGV) during <api>" / "ended during <api> ...". death_mu held.
std::string ending_without_status(Worker* w, const char* api) {
  std::string during = api ? std::string(" during ") + api : std::string();
  int sig = 0;
  {
    std::lock_guard<std::mutex> lock(w->control_mu);
    uint32_t kind = 0;
    const uint8_t* data = nullptr;
    size_t len = 0;
    std::string error;
    // The report is queued before the worker dies and its descriptors close: when it exists it
    // is there now, otherwise the channel is at end of file. The deadline only bounds a worker
    // that is somehow still alive.
    while (w->control.fd() >= 0 &&
           w->control.recv(&kind, &data, &len, monotonic_ms() + 100, &error) == Channel::kOk) {
      Reader in(data, len);
      uint32_t s = in.u32();
      if (kind == kFrameExit && in.at_end() && s > 0 && s < 128) {
        sig = static_cast<int>(s);
        break;
      }
    }
  }
  if (sig) return format("was killed by signal %d (%s)", sig, signal_name(sig)) + during;
  return "ended" + during + " without reporting a fatal signal (so it was killed by SIGKILL, or exited); its exit "
         "status could not be read because " + lost_status_reason();
}

// Mark w gone (once) and say why; every later call on its objects reports the cause.
void lose_worker(Worker* w, const char* api, Loss loss, const std::string& detail = std::string()) {
  std::lock_guard<std::mutex> death(w->death_mu);
  if (w->dead.load()) return;
  std::string cause = format("the LITE fork-mode worker (pid %lld) ", static_cast<long long>(w->pid));
  int status = 0;
  Reap reaped;
  if (loss == Loss::kTimeout) {
    kill(w->pid, SIGKILL);
    reap(w->pid, 10000, &status);
    cause += format("did not answer %s within LITE_FORK_TIMEOUT_MS=%lld ms and was killed", api,
                    static_cast<long long>(settings().timeout_ms));
  } else if (loss == Loss::kEof && (reaped = reap_worker(w->pid, 3000, &status)) != Reap::kTimeout) {
    cause += reaped == Reap::kReaped ? describe_exit(status) + " during " + api : ending_without_status(w, api);
  } else {
    // Still running (or a protocol failure): stop it. Not when it is no longer our child: its
    // pid may belong to another process by now.
    if (reap_worker(w->pid, 0, &status) == Reap::kTimeout) {
      kill(w->pid, SIGKILL);
      reap(w->pid, 10000, &status);
    }
    cause += (loss == Loss::kEof ? std::string("closed its channel") : detail) + " during " + api + " and was killed";
  }
  {
    std::lock_guard<std::mutex> lock(w->control_mu);
    w->control.reset(-1);
  }
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  w->cause = cause;
  w->dead.store(true);
  for (auto& kv : w->blocks) kv.second.worker_released = true;
  collect_blocks(w);
  if (s.current == w) s.current = nullptr;
  s.stats.workers_lost++;
}

Worker* start_worker(std::string* error) {
  std::string searched;
  std::string real = find_real_library(&searched);
  if (real.empty()) {
    *error = "cannot find MegEngine's Lite library (looked for " + searched +
             "); set MEGFORGE_LITE_REAL_LIB to its path (python -c 'import megforge.lite as l; "
             "print(l.real_library_path())')";
    return nullptr;
  }
  std::string exe = find_worker(&searched);
  if (exe.empty()) {
    *error = "cannot find the worker executable (looked for " + searched + ")";
    return nullptr;
  }
  pid_t pid;
  int control;
  if (!spawn_worker(exe, real, settings().spin_effective_us, &pid, &control, error)) return nullptr;
  Worker* w = new Worker;
  w->pid = pid;
  w->owner_pid = g_pid.load();
  w->control.reset(control);

  uint32_t kind = 0;
  const uint8_t* data = nullptr;
  size_t len = 0;
  std::string why;
  // Starting (loading MegEngine) gets LITE_FORK_TIMEOUT_MS, or 2 minutes when that is unset.
  int64_t start_ms = settings().timeout_ms > 0 ? settings().timeout_ms : kStartTimeoutMs;
  Channel::Result r = w->control.recv(&kind, &data, &len, monotonic_ms() + start_ms, &why);
  Reader in(data, len);
  uint32_t proto = r == Channel::kOk ? in.u32() : 0;
  int ok = in.i32();
  std::string message = in.str();
  w->have_version = in.i32() != 0;
  for (int& v : w->version) v = in.i32();
  if (r != Channel::kOk || kind != kFrameHello || !in.ok() || proto != kProtocolVersion || !ok) {
    int status = 0;
    if (r == Channel::kOk && kind == kFrameHello && in.ok() && !ok) {
      *error = message;
    } else if (r == Channel::kTimeout) {
      *error = format("the worker did not start within %lld ms", static_cast<long long>(start_ms));
    } else {
      *error = "the worker failed to start";
    }
    kill(pid, SIGKILL);
    if (reap(pid, 10000, &status) && !(WIFEXITED(status) && WEXITSTATUS(status) == 1))
      *error += " (it " + describe_exit(status) + ")";
    delete w;
    return nullptr;
  }
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.workers.push_back(w);
  w->generation = s.next_generation++;
  s.stats.workers_started++;
  return w;
}

}  // namespace

State& state() {
  static State* s = new State;  // never destroyed: worker threads of other libraries may call late
  return *s;
}

int api_fail(const char* api, const std::string& message) { return fail(std::string(api) + ": " + message); }

bool worker_usable(Worker* w, const char* api, const char* what) {
  if (w->owner_pid != g_pid.load()) {
    api_fail(api, std::string("this ") + what + " was created by the parent of this forked process; "
                  "create a new one here");
    return false;
  }
  if (w->dead.load()) {
    api_fail(api, std::string("this ") + what + " is gone because " + w->cause + "; create a new one");
    return false;
  }
  return true;
}

Worker* acquire_worker(const char* api) {
  State& s = state();
  std::lock_guard<std::mutex> start(s.start_mu);
  Worker* w;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    w = s.current;
  }
  if (w && (w->owner_pid != g_pid.load() || w->dead.load())) w = nullptr;
  if (w) {
    int status = 0;
    Reap reaped = reap_worker(w->pid, 0, &status);
    if (reaped != Reap::kTimeout) {
      // Died while idle (or is no longer our child, so dead too): record why, then start a fresh one.
      std::lock_guard<std::mutex> death(w->death_mu);
      std::string how = reaped == Reap::kReaped ? describe_exit(status) : ending_without_status(w, nullptr);
      std::lock_guard<std::mutex> lock(s.mu);
      w->cause = format("the LITE fork-mode worker (pid %lld) ", static_cast<long long>(w->pid)) + how;
      w->dead.store(true);
      for (auto& kv : w->blocks) kv.second.worker_released = true;
      collect_blocks(w);
      s.stats.workers_lost++;
      w = nullptr;
    }
  }
  if (w) return w;
  std::string error;
  w = start_worker(&error);
  if (!w) {
    api_fail(api, error);
    return nullptr;
  }
  std::vector<Replay> replays;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.current = w;
    replays = s.replays;
  }
  for (const Replay& r : replays) {  // settings made on earlier workers
    Writer req;
    req.u32(r.op);
    req.raw(r.args.data(), r.args.size());
    Response resp;
    rpc(w, req, &resp, api);
  }
  clear_error();
  return w;
}

Writer& thread_request() {
  Writer& w = this_thread_conn().request;
  w.clear();
  return w;
}

Response& thread_response() { return this_thread_conn().response; }

int rpc(Worker* w, const Writer& request, Response* out, const char* api, int fd, uint64_t mgf_lite_fork_stats::*count) {
  if (!worker_usable(w, api, "object")) return -1;
  State& s = state();
  std::string error;
  Conn& c = this_thread_conn();
  if (c.generation != w->generation || c.pid != g_pid.load() || c.ch.fd() < 0) {
    int sv[2];
    if (!make_socketpair(sv, &error)) return api_fail(api, error);
    bool sent;
    {
      std::lock_guard<std::mutex> lock(w->control_mu);
      sent = w->control.send(kFrameChannel, nullptr, 0, &sv[1], 1, deadline(), &error);
    }
    close(sv[1]);
    c.ch.reset(sv[0]);
    c.ch.set_timeout_ms(settings().timeout_ms);  // blocking: one recvmsg per answer, no poll
    c.spin = SpinWindow(settings().spin_effective_us);  // a new worker: forget the old one's waits
    c.generation = w->generation;
    c.pid = g_pid.load();
    if (!sent) {
      c.ch.reset(-1);
      lose_worker(w, api, Loss::kProtocol, "stopped accepting connections (" + error + ")");
      return api_fail(api, w->cause);
    }
  }
  if (!c.ch.send(kFrameRequest, request.data().data(), request.data().size(), fd >= 0 ? &fd : nullptr,
                 fd >= 0 ? 1 : 0, 0, &error)) {
    c.ch.reset(-1);
    lose_worker(w, api, error == "timed out sending" ? Loss::kTimeout : Loss::kEof);
    return api_fail(api, w->cause);
  }
  bool first = true;
  for (;;) {
    uint32_t kind = 0;
    const uint8_t* data = nullptr;
    size_t len = 0;
    // Only the wait for the first frame is worth polling for: the rest follow it at once.
    Channel::Result r = c.ch.recv(&kind, &data, &len, 0, &error, first ? &c.spin : nullptr);
    bool spun = first && c.spin.last_spun(), caught = first && c.spin.last_caught();
    bool contended = first && c.spin.last_contended();
    first = false;
    if (r != Channel::kOk) {
      {
        std::lock_guard<std::mutex> lock(s.mu);
        s.stats.spin_waits += spun;
        s.stats.spin_contended += contended;
      }
      c.ch.reset(-1);
      lose_worker(w, api, r == Channel::kTimeout ? Loss::kTimeout : r == Channel::kEof ? Loss::kEof : Loss::kProtocol,
                  "broke the channel (" + error + ")");
      return api_fail(api, w->cause);
    }
    Reader in(data, len);
    if (kind == kFrameBlock) {
      uint64_t id = in.u64(), size = in.u64();
      int bfd = c.ch.take_fd();
      void* base = nullptr;
      if (in.at_end() && bfd >= 0 && size > 0 && size <= (uint64_t(1) << 44) && shm_size(bfd) >= static_cast<long long>(size))
        base = shm_map(bfd, size, true, false, &error);
      if (bfd >= 0) close(bfd);
      if (!base) {
        c.ch.reset(-1);
        lose_worker(w, api, Loss::kProtocol, "sent an unusable memory block");
        return api_fail(api, w->cause);
      }
      std::lock_guard<std::mutex> lock(s.mu);
      s.stats.spin_waits += spun;
      s.stats.spin_caught += caught;
      s.stats.spin_contended += contended;
      Block& b = w->blocks[id];
      if (b.base) {  // an id reused by a confused worker: keep the newest
        shm_unmap(b.base, b.size);
        s.stats.shm_blocks_mapped--;
      }
      b = Block{static_cast<uint8_t*>(base), static_cast<size_t>(size), w->released_early.erase(id) > 0, 0};
      s.stats.shm_blocks_mapped++;
      continue;
    }
    if (kind != kFrameResponse) {
      c.ch.reset(-1);
      lose_worker(w, api, Loss::kProtocol, "sent an unexpected message");
      return api_fail(api, w->cause);
    }
    int status = in.i32();
    int code = in.i32();
    std::string message = in.str();
    uint64_t copied = in.u64();
    uint32_t nreleased = in.u32();
    std::vector<uint64_t> released;
    for (uint32_t i = 0; i < nreleased && in.ok(); ++i) released.push_back(in.u64());
    uint32_t nstates = in.u32();
    out->states.clear();
    for (uint32_t i = 0; i < nstates && in.ok(); ++i) out->states.push_back(in.pod<TensorState>());
    bool ok = in.ok();
    {
      std::lock_guard<std::mutex> lock(s.mu);
      s.stats.calls++;
      s.stats.bytes_copied += copied;
      s.stats.spin_waits += spun;
      s.stats.spin_caught += caught;
      s.stats.spin_contended += contended;
      for (uint64_t id : released) {
        auto it = w->blocks.find(id);
        if (it == w->blocks.end()) {
          w->released_early.insert(id);
        } else {
          it->second.worker_released = true;
          w->collect_needed = true;
        }
      }
      for (const TensorState& st : out->states) {
        auto it = w->tensors.find(st.id);
        if (it != w->tensors.end() && !apply_state(it->second, st)) ok = false;
      }
      if (count && ok && status == 0) ++(s.stats.*count);
      if (w->collect_needed) collect_blocks(w);
    }
    if (!ok) {
      c.ch.reset(-1);
      lose_worker(w, api, Loss::kProtocol, "sent a malformed answer");
      return api_fail(api, w->cause);
    }
    out->results = in;
    if (status != 0) return fail(message, code ? code : 1);
    return 0;
  }
}


namespace {
__attribute__((constructor)) void register_fork_handler() {
  g_pid.store(getpid());
  pthread_atfork(nullptr, nullptr, after_fork_in_child);
}
}  // namespace

}  // namespace fork
}  // namespace lite
}  // namespace mgf
