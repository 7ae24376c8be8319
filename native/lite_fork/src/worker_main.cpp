// megforge_lite_worker: the process that runs models for a caller in LITE fork mode.
//
//   megforge_lite_worker --control-fd=3 --parent-pid=PID --real-lib=PATH [--spin-us=N] [--keep-fds]
//
// Started by libmegforge_lite (launch.cpp); it is not meant to be run by hand. It lives exactly
// as long as its caller: it exits when the control channel closes (the caller went away or shut
// it down) and, on Linux, when the caller process dies (PR_SET_PDEATHSIG).
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include "spin.h"
#include "worker.h"

namespace {

pid_t g_parent = 0;

#if defined(__linux__)
// The parent-death signal also arrives when the *thread* that started us exits; only a changed
// parent process means the caller is gone.
void on_parent_signal(int) {
  if (getppid() != g_parent) _exit(0);
}

// Descriptors the caller forgot to mark close-on-exec must not stay open in here.
void close_inherited_fds(int keep) {
  std::vector<int> fds;
  if (DIR* d = opendir("/proc/self/fd")) {
    int self = dirfd(d);
    while (struct dirent* e = readdir(d)) {
      int fd = std::atoi(e->d_name);
      if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && fd > 2 && fd != keep && fd != self) fds.push_back(fd);
    }
    closedir(d);
  }
  for (int fd : fds) close(fd);
}
#endif

void watch_parent() {
#if defined(__linux__)
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_parent_signal;
  sigaction(SIGHUP, &sa, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGHUP);
#else
  std::thread([] {
    while (getppid() == g_parent) usleep(200000);
    _exit(0);
  }).detach();
#endif
  if (getppid() != g_parent) _exit(0);  // the caller died before we got here
}

bool take(const char* arg, const char* prefix, std::string* value) {
  size_t n = std::strlen(prefix);
  if (std::strncmp(arg, prefix, n) != 0) return false;
  *value = arg + n;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string control, parent, real_lib, spin = "0", value;
  bool keep_fds = false;
  for (int i = 1; i < argc; ++i) {
    if (take(argv[i], "--control-fd=", &value)) control = value;
    else if (take(argv[i], "--parent-pid=", &value)) parent = value;
    else if (take(argv[i], "--real-lib=", &value)) real_lib = value;
    else if (take(argv[i], "--spin-us=", &value)) spin = value;
    else if (std::strcmp(argv[i], "--keep-fds") == 0) keep_fds = true;
  }
  if (control.empty() || parent.empty() || real_lib.empty()) {
    std::fprintf(stderr, "megforge_lite_worker is started by libmegforge_lite in LITE fork mode; it takes "
                         "--control-fd=N --parent-pid=PID --real-lib=PATH\n");
    return 2;
  }
  int control_fd = std::atoi(control.c_str());
  // The caller's window (LITE_FORK_SPIN_US, already 0 on a single CPU); re-checked against the
  // CPUs this process may use.
  long long spin_us = std::atoll(spin.c_str());
  spin_us = mgf::lite::effective_spin_us(spin_us < 0 || spin_us > mgf::lite::kMaxSpinUs ? 0 : spin_us);
  g_parent = static_cast<pid_t>(std::atoll(parent.c_str()));

  signal(SIGPIPE, SIG_IGN);  // a vanished caller shows up as EPIPE
  signal(SIGINT, SIG_IGN);   // Ctrl-C is for the caller; we go when it goes
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  watch_parent();
#if defined(__linux__)
  if (!keep_fds) close_inherited_fds(control_fd);
#else
  (void)keep_fds;
#endif

  static mgf::lite::Server server;  // never destroyed: _exit below skips every destructor
  int status = server.run(control_fd, real_lib, spin_us);
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(status);
}
