// The spin window (spin.h) and the channel's polling receive (wire.h), without a worker: what the
// window decides from a history of waits, and that a polling receive sees data, end of file
// (a dead peer), SO_RCVTIMEO timeouts and signals exactly as a blocking one does.
// No test depends on how long anything takes.
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "spin.h"
#include "wire.h"

using namespace mgf::lite;

namespace {

int g_failures = 0;
#define CHECK(cond, what)                                                                           \
  do {                                                                                              \
    if (!(cond)) {                                                                                  \
      std::fprintf(stderr, "FAIL %s:%d: %s -- %s\n", __FILE__, __LINE__, #cond, std::string(what).c_str()); \
      ++g_failures;                                                                                 \
    }                                                                                               \
  } while (0)

constexpr int64_t kUs = 1000;

void window_decisions() {
  SpinWindow off(0);
  CHECK(!off.enabled() && off.budget_ns() == 0, "cap 0: never polls");

  SpinWindow w(50);
  CHECK(w.enabled(), "cap 50 us");
  CHECK(w.budget_ns() == 50 * kUs, "no history yet: the whole cap");
  w.record(5 * kUs, true, true);
  CHECK(w.budget_ns() == 2 * 5 * kUs + 10 * kUs, "twice the typical wait plus 10 us");
  for (int i = 0; i < 40; ++i) w.record(40 * kUs, true, true);
  CHECK(w.budget_ns() == 50 * kUs, "never more than the cap");

  // Long waits (a slow model, or a caller that thinks between calls): polling stops after at
  // most 9 of them, except for probes, spaced out while they keep failing.
  auto wait = [&](int64_t waited, bool contended = false) {
    bool spun = w.budget_ns() > 0;
    w.record(waited, spun, false, contended);
    return spun;
  };
  int polled = 0;
  for (int i = 0; i < 16; ++i) polled += wait(5000 * kUs);
  CHECK(polled <= 10, "long waits stop polling: " + std::to_string(polled) + " of the first 16 polled");
  polled = 0;
  for (int i = 0; i < 32; ++i) polled += wait(5000 * kUs);
  CHECK(polled >= 1 && polled <= 2, "then only probes poll: " + std::to_string(polled) + " of 32");
  polled = 0;
  for (int i = 0; i < 4096; ++i) polled += wait(5000 * kUs);
  CHECK(polled >= 4 && polled <= 10, "failing probes are spaced out: " + std::to_string(polled) + " of 4096");

  // Fast again: once half of the last 16 waits were within the cap, polling resumes.
  int fast = 0;
  while (w.budget_ns() == 0 && fast < 16) {
    w.record(3 * kUs, false, false);
    ++fast;
  }
  CHECK(fast <= 9, "polling resumes after at most 9 fast waits: " + std::to_string(fast));
  CHECK(w.budget_ns() > 0 && w.budget_ns() <= 50 * kUs, "polling again, within the cap");

  // Polling cut short because another task had the CPU: no polling for 16 waits, then 32 ...
  // even though the (blocking) waits in between are short.
  SpinWindow c(50);
  polled = 0;
  for (int i = 0; i < 64; ++i) {
    bool spun = c.budget_ns() > 0;
    polled += spun;
    c.record(2 * kUs, spun, false, spun);
  }
  CHECK(polled == 3, "contended polls back off: " + std::to_string(polled) + " of 64 polled");
  for (int i = 0; i < 64 && c.budget_ns() == 0; ++i) c.record(2 * kUs, false, false);
  c.record(2 * kUs, true, true);  // a poll that caught its message: the back-off (128) is halved
  c.record(2 * kUs, true, false, true);
  int skipped = 0;
  while (c.budget_ns() == 0 && skipped < 200) ++skipped, c.record(2 * kUs, false, false);
  CHECK(skipped == 64, "after a good poll, contention skips half as many waits: " + std::to_string(skipped));
}

// Polling only while it pays: waits that poll are compared with waits that block.
void window_compares() {
  for (bool polling_faster : {false, true}) {
    SpinWindow w(50);
    int polled = 0;
    for (int i = 0; i < 320; ++i) {
      bool spun = w.budget_ns() > 0;
      polled += spun;
      int64_t waited = spun == polling_faster ? 5 * kUs : 40 * kUs;  // both within the cap
      w.record(waited, spun, spun);
    }
    if (polling_faster)
      CHECK(polled >= 300, "polling is faster: it polls, but for probes: " + std::to_string(polled) + " of 320");
    else
      CHECK(polled >= 31 && polled <= 45, "blocking is faster: only probes poll once learnt: " + std::to_string(polled) + " of 320");
  }
}

void cpu_checks() {
  CHECK(usable_cpus() >= 1, "at least one CPU");
  CHECK(effective_spin_us(0) == 0, "0 stays 0");
  CHECK(effective_spin_us(50) == (usable_cpus() > 1 ? 50 : 0), "off on a single CPU");
  CHECK(online_cpus() >= 1, "online CPUs");
#if defined(__linux__)
  CHECK(runnable_tasks() >= 1, "the running test itself is runnable: " + std::to_string(runnable_tasks()));
#else
  CHECK(runnable_tasks() == -1, "unknown without /proc/loadavg");
#endif
}

struct Pair {
  int fds[2] = {-1, -1};
  Pair() {
    std::string error;
    if (!make_socketpair(fds, &error)) std::fprintf(stderr, "socketpair: %s\n", error.c_str());
  }
  ~Pair() {
    for (int fd : fds)
      if (fd >= 0) close(fd);
  }
};

void send_frame(int fd, uint32_t kind, uint32_t value) {
  uint32_t frame[3] = {kind, 4, value};
  if (write(fd, frame, sizeof frame) != static_cast<ssize_t>(sizeof frame)) std::perror("write");
}

uint32_t value_of(const uint8_t* data, size_t len) {
  Reader in(data, len);
  return in.u32();
}

void polling_receives_data() {
  Pair p;
  Channel ch(p.fds[0]);
  p.fds[0] = -1;
  SpinWindow spin(kMaxSpinUs);  // a long window: the frame arrives while polling
  std::thread peer([&] { send_frame(p.fds[1], kFrameResponse, 7); });
  uint32_t kind = 0;
  const uint8_t* data = nullptr;
  size_t len = 0;
  std::string error;
  CHECK(ch.recv(&kind, &data, &len, 0, &error, &spin) == Channel::kOk, error);
  CHECK(kind == kFrameResponse && value_of(data, len) == 7, "the frame");
  CHECK(spin.last_spun(), "it polled");
  peer.join();
}

void polling_sees_end_of_file() {
  Pair p;
  Channel ch(p.fds[0]);
  p.fds[0] = -1;
  SpinWindow spin(kMaxSpinUs);
  std::thread peer([&] {
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, nullptr);
    close(p.fds[1]);  // as a dying worker's descriptors are closed by the kernel
    p.fds[1] = -1;
  });
  uint32_t kind;
  const uint8_t* data;
  size_t len;
  std::string error;
  CHECK(ch.recv(&kind, &data, &len, 0, &error, &spin) == Channel::kEof, "end of file while polling: " + error);
  peer.join();
}

void timeout_after_polling() {
  Pair p;
  Channel ch(p.fds[0]);
  p.fds[0] = -1;
  ch.set_timeout_ms(20);  // SO_RCVTIMEO, as LITE_FORK_TIMEOUT_MS sets it
  SpinWindow spin(100);
  uint32_t kind;
  const uint8_t* data;
  size_t len;
  std::string error;
  CHECK(ch.recv(&kind, &data, &len, 0, &error, &spin) == Channel::kTimeout, "times out: " + error);
  CHECK(spin.last_spun() && !spin.last_caught(), "polled, then blocked until the timeout");
  send_frame(p.fds[1], kFrameResponse, 9);
  CHECK(ch.recv(&kind, &data, &len, 0, &error, &spin) == Channel::kOk && value_of(data, len) == 9,
        "usable afterwards: " + error);
}

std::atomic<int> g_signals{0};
void on_signal(int) { g_signals.fetch_add(1); }

void signals_interrupt_nothing() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;  // no SA_RESTART: a blocking recvmsg returns EINTR
  sigaction(SIGUSR1, &sa, nullptr);
  for (int64_t cap : {int64_t(0), int64_t(50)}) {
    Pair p;
    Channel ch(p.fds[0]);
    p.fds[0] = -1;
    SpinWindow spin(cap);
    pthread_t self = pthread_self();
    g_signals.store(0);
    std::thread peer([&] {
      for (int i = 0; i < 5; ++i) {
        struct timespec ts = {0, 3000000};
        nanosleep(&ts, nullptr);
        pthread_kill(self, SIGUSR1);
      }
      send_frame(p.fds[1], kFrameResponse, 11);
    });
    uint32_t kind;
    const uint8_t* data;
    size_t len;
    std::string error;
    CHECK(ch.recv(&kind, &data, &len, 0, &error, &spin) == Channel::kOk && value_of(data, len) == 11,
          "signals during the wait (cap " + std::to_string(cap) + "): " + error);
    peer.join();
    CHECK(g_signals.load() >= 1, "signals were delivered (pending ones coalesce)");
  }
  signal(SIGUSR1, SIG_DFL);
}

}  // namespace

int main() {
  window_decisions();
  window_compares();
  cpu_checks();
  polling_receives_data();
  polling_sees_end_of_file();
  timeout_after_polling();
  signals_interrupt_nothing();
  if (g_failures) {
    std::fprintf(stderr, "test_lite_spin: %d failure(s)\n", g_failures);
    return 1;
  }
  std::printf("test_lite_spin: ok\n");
  return 0;
}
