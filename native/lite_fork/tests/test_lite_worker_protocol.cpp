// The worker checks every request: talking its protocol directly, a corrupted caller (bad ids,
// offsets and sizes outside shared blocks, truncated or oversized messages) gets errors, and the
// worker stays alive and correct. Usage: test_lite_worker_protocol <worker> (fake Lite library in
// MEGFORGE_LITE_REAL_LIB).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "launch.h"
#include "protocol.h"
#include "shm.h"
#include "wire.h"

using namespace mgf::lite;

namespace {

int g_failures = 0;
#define CHECK(cond, what)                                                       \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::fprintf(stderr, "FAIL %s:%d: %s -- %s\n", __FILE__, __LINE__, #cond, std::string(what).c_str()); \
      ++g_failures;                                                             \
    }                                                                           \
  } while (0)

struct Answer {
  bool received = false;
  int status = -1;
  std::string message;
  std::vector<TensorState> states;
  std::vector<uint8_t> results;
};

struct Client {
  pid_t pid = -1;
  Channel control, ch;
  std::vector<std::pair<uint64_t, size_t>> blocks;

  bool open_channel() {
    int sv[2];
    std::string error;
    if (!make_socketpair(sv, &error)) return false;
    bool ok = control.send(kFrameChannel, nullptr, 0, &sv[1], 1, 0, &error);
    close(sv[1]);
    ch.reset(sv[0]);
    return ok;
  }

  Answer call(const std::vector<uint8_t>& payload, int fd = -1, uint32_t kind = kFrameRequest) {
    Answer a;
    std::string error;
    if (!ch.send(kind, payload.data(), payload.size(), fd >= 0 ? &fd : nullptr, fd >= 0 ? 1 : 0, 0, &error)) return a;
    for (;;) {
      uint32_t k;
      const uint8_t* data;
      size_t len;
      if (ch.recv(&k, &data, &len, monotonic_ms() + 20000, &error) != Channel::kOk) return a;
      Reader in(data, len);
      if (k == kFrameBlock) {
        uint64_t id = in.u64(), size = in.u64();
        blocks.emplace_back(id, size);
        int f = ch.take_fd();
        if (f >= 0) close(f);
        continue;
      }
      a.received = true;
      a.status = in.i32();
      in.i32();
      a.message = in.str();
      in.u64();
      uint32_t n = in.u32();
      for (uint32_t i = 0; i < n; ++i) in.u64();
      n = in.u32();
      for (uint32_t i = 0; i < n; ++i) a.states.push_back(in.pod<TensorState>());
      a.results.assign(data + (len - in.remaining()), data + len);
      return a;
    }
  }
  Answer call(const Writer& w, int fd = -1) { return call(w.data(), fd); }
};

Writer req(uint32_t op) {
  Writer w;
  w.u32(op);
  return w;
}

uint64_t u64_of(const Answer& a) {
  Reader r(a.results.data(), a.results.size());
  return r.u64();
}

bool alive(pid_t pid) { return kill(pid, 0) == 0; }

}  // namespace

int main(int argc, char** argv) {
  const char* real = std::getenv("MEGFORGE_LITE_REAL_LIB");
  if (argc < 2 || !real) {
    std::fprintf(stderr, "usage: MEGFORGE_LITE_REAL_LIB=<fake lite> %s <worker>\n", argv[0]);
    return 2;
  }
  Client c;
  int control = -1;
  std::string error;
  CHECK(spawn_worker(argv[1], real, 0, &c.pid, &control, &error), error);
  c.control.reset(control);
  uint32_t kind;
  const uint8_t* data;
  size_t len;
  CHECK(c.control.recv(&kind, &data, &len, monotonic_ms() + 20000, &error) == Channel::kOk && kind == kFrameHello, error);
  CHECK(c.open_channel(), "channel");

  // A network with a model, as a well-behaved caller would make it.
  Writer make = req(kOpMakeNetwork);
  make.u32(0);
  Answer a = c.call(make);
  CHECK(a.received && a.status == 0, a.message);
  uint64_t net = u64_of(a);
  const char model[] = "fake-lite-model scale=2 shape=2x3";
  int fd = shm_create(sizeof model, true, &error);
  CHECK(fd >= 0 && pwrite(fd, model, sizeof model - 1, 0) == sizeof model - 1, error);
  Writer load = req(kOpLoadModelMemory);
  load.u64(net);
  load.u64(sizeof model - 1);
  CHECK(c.call(load, fd).status == 0, "load");
  Writer get_x = req(kOpGetIoTensor);
  get_x.u64(net);
  get_x.opt_cstr("x");
  get_x.i32(LITE_IO);
  a = c.call(get_x);
  CHECK(a.status == 0 && a.states.size() == 1 && (a.states[0].flags & kTensorShared), a.message);
  uint64_t x = u64_of(a);
  uint64_t block = a.states.empty() ? 0 : a.states[0].block;
  size_t block_size = c.blocks.empty() ? 0 : c.blocks.back().second;

  auto fails = [&](const Writer& w, const char* needle, int with_fd = -1) {
    Answer r = c.call(w, with_fd);
    CHECK(r.received && r.status != 0 && r.message.find(needle) != std::string::npos,
          std::string(needle) + " -> " + (r.received ? r.message : "no answer"));
  };
  Writer w = req(9999);
  fails(w, "unknown request");
  w = req(kOpForward);
  fails(w, "malformed request");  // no id
  w = req(kOpForward);
  w.u64(123456);
  fails(w, "unknown network id 123456");
  w = req(kOpFillZero);
  w.u64(777777);
  fails(w, "unknown tensor id 777777");
  for (uint64_t offset : {uint64_t(block_size - 4), uint64_t(1) << 63, ~uint64_t(0)}) {
    w = req(kOpResetShared);
    w.u64(x);
    w.u32(0);
    w.pod(LiteLayout{});
    w.u64(block);
    w.u64(offset);
    w.u64(24);
    fails(w, "outside its block");
  }
  w = req(kOpResetShared);
  w.u64(x);
  w.u32(0);
  w.pod(LiteLayout{});
  w.u64(987654);
  w.u64(0);
  w.u64(24);
  fails(w, "unknown memory block");
  w = req(kOpLoadModelMemory);
  w.u64(net);
  w.u64(1 << 20);
  fails(w, "model memory holds", fd);  // the descriptor is smaller than claimed: no SIGBUS
  w = req(kOpLoadModelMemory);
  w.u64(net);
  w.u64(16);
  fails(w, "descriptor missing");
  close(fd);
  LiteLayout huge{};
  huge.ndim = 100;
  w = req(kOpSetLayout);
  w.u64(x);
  w.pod(huge);
  fails(w, "malformed request");
  w = req(kOpReshape);
  w.u64(x);
  w.u64(1000000);
  fails(w, "malformed request");
  w = req(kOpConcat);
  w.u64(uint64_t(1) << 40);
  fails(w, "malformed request");

  // Every truncation of valid requests is refused, never misread.
  Writer fwd = req(kOpForward);
  fwd.u64(net);
  for (const Writer* full : {&get_x, &make, &fwd}) {
    for (size_t cut = 0; cut < full->data().size(); ++cut) {
      std::vector<uint8_t> part(full->data().begin(), full->data().begin() + cut);
      Answer r = c.call(part);
      CHECK(r.received && r.status != 0, "truncated request of " + std::to_string(cut) + " bytes accepted");
    }
  }
  CHECK(c.call(fwd).status == 0, "a valid forward still works");

  // A frame too large to be real, or of the wrong kind, ends that channel only.
  std::vector<uint8_t> junk(16, 0xff);
  c.call(junk, -1, kFrameHello);
  CHECK(alive(c.pid), "alive after a wrong frame kind");
  CHECK(c.open_channel(), "new channel");
  uint32_t bogus_header[2] = {kFrameRequest, 0x7fffffff};
  CHECK(write(c.ch.fd(), bogus_header, sizeof bogus_header) == sizeof bogus_header, "write");
  Answer none = c.call(fwd);
  CHECK(!none.received, "an oversized frame closes the channel");
  CHECK(alive(c.pid), "alive after an oversized frame");
  CHECK(c.open_channel(), "new channel");
  a = c.call(fwd);
  CHECK(a.status == 0, a.message);

  // Closing the control channel ends the worker cleanly.
  c.control.reset(-1);
  int status = -1;
  CHECK(reap(c.pid, 20000, &status) && WIFEXITED(status) && WEXITSTATUS(status) == 0, describe_exit(status));
  if (g_failures) {
    std::fprintf(stderr, "test_lite_worker_protocol: %d failure(s)\n", g_failures);
    return 1;
  }
  std::printf("test_lite_worker_protocol: ok\n");
  return 0;
}
