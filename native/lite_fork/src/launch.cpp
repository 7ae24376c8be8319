#include "launch.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "error.h"
#include "wire.h"

#if defined(__APPLE__)
#include <crt_externs.h>
#define MGF_ENVIRON (*_NSGetEnviron())
#else
extern "C" char** environ;
#define MGF_ENVIRON environ
#endif

namespace mgf {
namespace lite {

const char* signal_name(int sig) {
  switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGUSR1: return "SIGUSR1";
    case SIGSEGV: return "SIGSEGV";
    case SIGUSR2: return "SIGUSR2";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    case SIGSYS: return "SIGSYS";
    default: return "unknown signal";
  }
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return format("was killed by signal %d (%s)", sig, signal_name(sig));
  }
  if (WIFEXITED(status)) return format("exited with status %d", WEXITSTATUS(status));
  return format("ended with wait status 0x%x", static_cast<unsigned>(status));
}

Reap reap_worker(pid_t pid, int wait_ms, int* status) {
  int64_t deadline = wait_ms < 0 ? 0 : monotonic_ms() + wait_ms;
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return Reap::kReaped;
    if (r < 0 && errno != EINTR) return Reap::kNotChild;  // ECHILD: somebody else reaped it
    if (deadline && monotonic_ms() >= deadline) return Reap::kTimeout;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, nullptr);
  }
}

std::string lost_status_reason() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  if (sigaction(SIGCHLD, nullptr, &sa) == 0 && (sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_NOCLDWAIT)))
    return "this process ignores SIGCHLD (SIG_IGN or SA_NOCLDWAIT), so the system discarded it";
  return "something else in this process reaped it (a waitpid for any child)";
}


namespace {

std::vector<std::string> split_spaces(const char* s) {
  std::vector<std::string> out;
  std::string cur;
  for (; s && *s; ++s) {
    if (*s == ' ' || *s == '\t') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += *s;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

bool spawn_worker(const std::string& worker, const std::string& real_lib, int64_t spin_us, pid_t* pid, int* control,
                  std::string* error) {
  int sv[2];
  if (!make_socketpair(sv, error)) return false;
  int child_end = sv[1];
  if (child_end == kWorkerControlFd) {
    // dup2(fd, fd) would keep close-on-exec set: move it out of the way first.
    child_end = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
    close(sv[1]);
    if (child_end < 0) {
      close(sv[0]);
      *error = std::string("fcntl failed: ") + std::strerror(errno);
      return false;
    }
  }

  std::vector<std::string> args = split_spaces(std::getenv("MEGFORGE_LITE_WORKER_WRAPPER"));
  bool wrapped = !args.empty();
  args.push_back(worker);
  args.push_back(format("--control-fd=%d", kWorkerControlFd));
  args.push_back(format("--parent-pid=%lld", static_cast<long long>(getpid())));
  args.push_back("--real-lib=" + real_lib);
  args.push_back(format("--spin-us=%lld", static_cast<long long>(spin_us)));
  if (wrapped) args.push_back("--keep-fds");  // the wrapper (an emulator) may own descriptors
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(&a[0]);
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, child_end, kWorkerControlFd);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#if defined(POSIX_SPAWN_CLOEXEC_DEFAULT)
  flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;  // macOS: nothing but the descriptors named above leaks in
  posix_spawn_file_actions_addinherit_np(&actions, 1);
  posix_spawn_file_actions_addinherit_np(&actions, 2);
#endif
  posix_spawnattr_setflags(&attr, flags);
  sigset_t none, defaults;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGBUS, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);

  pid_t child = -1;
  const char* program = wrapped ? argv[0] : worker.c_str();
  int rc = wrapped ? posix_spawnp(&child, program, &actions, &attr, argv.data(), MGF_ENVIRON)
                   : posix_spawn(&child, program, &actions, &attr, argv.data(), MGF_ENVIRON);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(child_end);
  if (rc != 0) {
    close(sv[0]);
    *error = format("cannot start the worker %s: %s", program, std::strerror(rc));
    return false;
  }
  *pid = child;
  *control = sv[0];
  return true;
}

}  // namespace lite
}  // namespace mgf
