// Starting and reaping the worker process.
//
// The worker is started with posix_spawn (vfork + exec inside libc): safe from a
// multi-threaded caller (no atfork handlers, nothing but exec runs in the child), available on
// Linux and macOS, and the worker begins with a fresh address space instead of a copy of the
// caller's (possibly corrupted) heap. Its only inherited descriptors are stdout/stderr, stdin
// from /dev/null, and its end of the control socket as fd 3.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace mgf {
namespace lite {

constexpr int kWorkerControlFd = 3;

// Spawn `worker` (prefixed by MEGFORGE_LITE_WORKER_WRAPPER, if set) serving the Lite library at
// `real_lib`; on success *pid and *control (our end of the control socket, close-on-exec).
// spin_us: the worker's spin window (spin.h) while it waits for the next request, 0: none.
bool spawn_worker(const std::string& worker, const std::string& real_lib, int64_t spin_us, pid_t* pid, int* control,
                  std::string* error);

enum class Reap {
  kReaped,    // *status is its wait status
  kNotChild,  // ECHILD: already reaped elsewhere (SIGCHLD ignored, or a waitpid(-1) in the caller);
              // the pid may belong to another process by now: never signal it
  kTimeout,   // still running after wait_ms
};
// Wait up to wait_ms (-1: no limit) for pid to exit.
Reap reap_worker(pid_t pid, int wait_ms, int* status);
// true + *status once reaped.
inline bool reap(pid_t pid, int wait_ms, int* status) { return reap_worker(pid, wait_ms, status) == Reap::kReaped; }

// Why this process cannot read its children's exit status: "ignores SIGCHLD" (SIG_IGN or
// SA_NOCLDWAIT: the system discards it) or "reaped it elsewhere" (some waitpid in this process).
std::string lost_status_reason();


// "was killed by signal 11 (SIGSEGV)" / "exited with status 3".
std::string describe_exit(int status);
const char* signal_name(int sig);

}  // namespace lite
}  // namespace mgf
