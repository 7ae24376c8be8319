// The worker process: test hook, control channel, one thread per caller channel, replies.
#include "worker.h"

#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "error.h"
#include "shm.h"
#include "spin.h"
#include "worker_lock.h"

namespace mgf {
namespace lite {

// ---- fatal signals --------------------------------------------------------------------------

namespace {

int g_report_fd = -1;

void on_fatal_signal(int sig) {
  // Async-signal-safe only: one small send, then die of the same signal.
  uint32_t frame[3] = {kFrameExit, 4, static_cast<uint32_t>(sig)};
  if (g_report_fd >= 0) {
#if defined(MSG_NOSIGNAL)
    (void)!send(g_report_fd, frame, sizeof frame, MSG_NOSIGNAL | MSG_DONTWAIT);
#else
    (void)!send(g_report_fd, frame, sizeof frame, MSG_DONTWAIT);
#endif
  }
  signal(sig, SIG_DFL);
  raise(sig);  // delivered on return (the handler masks nothing: SA_NODEFER)
}

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS, SIGQUIT, SIGTERM};

}  // namespace

void install_fatal_signal_report(int sig) {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fatal_signal;
  sa.sa_flags = SA_NODEFER | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, nullptr);
}

void report_fatal_signals(int fd) {
  g_report_fd = fd;
  for (int sig : kFatalSignals) install_fatal_signal_report(sig);
}

// ---- test hook ------------------------------------------------------------------------------

bool TestHook::parse(const char* spec, std::string* error) {
  if (!spec || !*spec) return true;
  std::string s = spec;
  size_t eq = s.find('=');
  if (eq == std::string::npos) {
    *error = "MEGFORGE_LITE_FORK_TEST_HOOK must look like <call>=<action>[@N]";
    return false;
  }
  call_ = s.substr(0, eq);
  action_ = s.substr(eq + 1);
  size_t at = action_.find('@');
  if (at != std::string::npos) {
    at_ = std::atoi(action_.c_str() + at + 1);
    action_.resize(at);
  }
  if (action_.compare(0, 6, "delay:") == 0) {
    delay_ms_ = std::atoi(action_.c_str() + 6);
    action_ = "delay";
  }
  bool known_call = call_ == "forward" || call_ == "load";
  bool known_action = action_ == "sigkill" || action_ == "sigsegv" || action_ == "hang" || action_ == "delay";
  if (!known_call || !known_action || at_ < 1) {
    *error = "MEGFORGE_LITE_FORK_TEST_HOOK='" + s + "': unknown call or action";
    return false;
  }
  return true;
}

void TestHook::fire(const char* call) {
  if (call_.empty() || call_ != call) return;  // no hook (always, outside tests): nothing to compare
  if (seen_.fetch_add(1) + 1 != at_) return;
  if (action_ == "sigkill") {
    kill(getpid(), SIGKILL);
  } else if (action_ == "sigsegv") {
    // A real invalid write, as a crashing kernel would do; our reporting handler (which dies
    // of the signal with the default disposition) so that the caller sees the signal even if
    // the library installed a handler of its own.
    install_fatal_signal_report(SIGSEGV);
    volatile uintptr_t address = 16;
    *reinterpret_cast<volatile int*>(address) = 1;
    raise(SIGSEGV);
  } else if (action_ == "hang") {
    for (;;) pause();
  } else if (action_ == "delay") {
    struct timespec ts = {delay_ms_ / 1000, (delay_ms_ % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
  }
}

// ---- lifecycle ------------------------------------------------------------------------------

int Server::run(int control_fd, const std::string& real_lib, int64_t spin_us) {
  spin_us_ = spin_us;
  Channel control(control_fd);
  Writer hello;
  hello.u32(kProtocolVersion);
  std::string error;
  bool ok = hook_.parse(std::getenv("MEGFORGE_LITE_FORK_TEST_HOOK"), &error) && open_real_lite(real_lib, &api_, &error);
  int major = 0, minor = 0, patch = 0;
  bool have_version = ok && api_.LITE_get_version && api_.LITE_get_version(&major, &minor, &patch) == 0;
  hello.i32(ok ? 1 : 0);
  hello.str(error);
  hello.i32(have_version ? 1 : 0);
  hello.i32(major);
  hello.i32(minor);
  hello.i32(patch);
  std::string send_error;
  if (!control.send(kFrameHello, hello, 0, &send_error) || !ok) return ok ? 3 : 1;
  // From now on nothing else goes to the caller on the control channel: a fatal signal's report.
  report_fatal_signals(control_fd);

  // Each caller thread gets its own channel, announced on the control channel with its fd.
  for (;;) {
    uint32_t kind;
    const uint8_t* data;
    size_t len;
    Channel::Result r = control.recv(&kind, &data, &len, 0, &error);
    if (r != Channel::kOk) return 0;  // the caller closed the control channel or died
    int fd = control.take_fd();
    if (kind != kFrameChannel || fd < 0) {
      if (fd >= 0) close(fd);
      continue;
    }
    try {
      std::thread(&Server::serve, this, fd).detach();
    } catch (...) {
      close(fd);
    }
  }
}

void Server::serve(int fd) {
  Channel ch(fd);
  std::string error;
  // After each reply, poll briefly for the caller's next request (its thread usually sends it
  // soon when it runs forwards in a loop) before blocking.
  SpinWindow spin(spin_us_);
  for (;;) {
    uint32_t kind;
    const uint8_t* data;
    size_t len;
    if (ch.recv(&kind, &data, &len, 0, &error, &spin) != Channel::kOk) return;
    if (kind != kFrameRequest) return;  // protocol violation: drop this channel only
    Reader in(data, len);
    uint32_t op = in.u32();
    Reply rep;
    handle(op, in, ch, rep);
    for (int stray; (stray = ch.take_fd()) >= 0;) close(stray);  // descriptors a request did not use
    send_reply(ch, rep);
  }
}

void Server::handle(uint32_t op, Reader& in, Channel& ch, Reply& rep) {
  if (!in.ok()) return rep.error("malformed request");
  bool known = (op >= kOpGetLogLevel && op <= kOpModelIoInfoMemory) || (op >= kOpMakeNetwork && op <= kOpExtraConfigure) ||
               (op >= kOpMakeTensor && op <= kOpGetMemory);
  if (!known) return rep.error(format("unknown request %u", op));
  if (op >= kOpMakeTensor) {
    if (op == kOpMakeTensor) return op_make_tensor(in, rep);
    if (op == kOpCopy || op == kOpShareMemory) return op_tensor_pair(op, in, rep);
    if (op == kOpConcat) return op_concat(in, rep);
    return op_tensor(op, in, rep);
  }
  if (op >= kOpMakeNetwork) {
    if (op == kOpMakeNetwork) return op_make_network(in, rep);
    if (op == kOpNetworkPair) return op_network_pair(in, rep);
    return op_network(op, in, ch, rep);
  }
  if (op == kOpModelIoInfoPath || op == kOpModelIoInfoMemory) return op_model_io_info(op, in, ch, rep);
  return op_global(op, in, ch, rep);
}

void Server::send_reply(Channel& ch, Reply& rep) {
  std::string error;
  for (const Reply::NewBlock& b : rep.new_blocks) {
    Writer w;
    w.u64(b.id);
    w.u64(b.size);
    ch.send(kFrameBlock, w.data().data(), w.data().size(), &b.fd, 1, 0, &error);
    close(b.fd);
  }
  Writer w;
  w.i32(rep.status);
  w.i32(rep.code);
  w.str(rep.message);
  w.u64(rep.copied);
  {
    std::lock_guard<std::mutex> lock(mu_);
    w.u32(static_cast<uint32_t>(released_.size()));
    for (uint64_t id : released_) w.u64(id);
    released_.clear();
  }
  w.u32(static_cast<uint32_t>(rep.states.size()));
  for (const TensorState& s : rep.states) w.pod(s);
  if (rep.status == 0) w.raw(rep.results.data().data(), rep.results.data().size());
  ch.send(kFrameResponse, w, 0, &error);
}

std::string Server::real_error(const char* call) {
  std::string msg = api_.error_message();
  return msg.empty() ? std::string(call) + " failed" : msg;
}

}  // namespace lite
}  // namespace mgf
