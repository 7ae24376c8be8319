// Framing and serialization for the private channel between a caller and its worker.
//
// A channel is one end of an AF_UNIX stream socketpair. Messages are frames:
// {u32 kind, u32 length} followed by `length` payload bytes; file descriptors (shared-memory
// blocks, new channels) travel as SCM_RIGHTS attached to the frame they belong to and are queued
// on receipt in arrival order. Payloads are native-endian (both ends run on one machine) and
// every read is bounds-checked: a malformed frame makes Reader::ok() false, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sys/types.h>
#include <deque>
#include <string>
#include <vector>

namespace mgf {
namespace lite {

class SpinWindow;

enum FrameKind : uint32_t {
  kFrameRequest = 1,   // caller -> worker: one call
  kFrameResponse = 2,  // worker -> caller: the answer to the last request
  kFrameBlock = 3,     // worker -> caller: a new shared-memory block (one fd), before the response
  kFrameHello = 4,     // worker -> caller, once on the control channel: ready (or why not)
  kFrameChannel = 5,   // caller -> worker on the control channel: serve this socket (one fd)
  kFrameExit = 6,      // worker -> caller on the control channel, from a fatal-signal handler:
                       // u32 signal number, sent just before the worker dies of it
};

constexpr uint32_t kMaxFrameBytes = 64u << 20;
constexpr int kMaxFdsPerFrame = 1;

int64_t monotonic_ms();

class Writer {
 public:
  void u8(uint8_t v) { raw(&v, 1); }
  void u32(uint32_t v) { raw(&v, 4); }
  void i32(int32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void i64(int64_t v) { raw(&v, 8); }
  void raw(const void* p, size_t n) {
    if (n == 0) return;
    size_t old = data_.size();
    data_.resize(old + n);
    std::memcpy(data_.data() + old, p, n);
  }
  void str(const char* p, size_t n) {
    u32(static_cast<uint32_t>(n));
    raw(p, n);
  }
  void str(const std::string& s) { str(s.data(), s.size()); }
  // A C string that may be NULL: u8 present, then the string.
  void opt_cstr(const char* p) {
    u8(p ? 1 : 0);
    if (p) str(p, std::strlen(p));
  }
  template <class T>
  void pod(const T& v) { raw(&v, sizeof v); }
  const std::vector<uint8_t>& data() const { return data_; }
  void clear() { data_.clear(); }

 private:
  std::vector<uint8_t> data_;
};

class Reader {
 public:
  Reader() = default;
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  bool ok() const { return ok_; }
  bool at_end() const { return ok_ && pos_ == n_; }
  size_t remaining() const { return ok_ ? n_ - pos_ : 0; }
  uint8_t u8() { uint8_t v = 0; raw(&v, 1); return v; }
  uint32_t u32() { uint32_t v = 0; raw(&v, 4); return v; }
  int32_t i32() { int32_t v = 0; raw(&v, 4); return v; }
  uint64_t u64() { uint64_t v = 0; raw(&v, 8); return v; }
  int64_t i64() { int64_t v = 0; raw(&v, 8); return v; }
  bool raw(void* out, size_t n) {
    if (!ok_ || n > n_ - pos_) {
      ok_ = false;
      std::memset(out, 0, n);
      return false;
    }
    std::memcpy(out, p_ + pos_, n);
    pos_ += n;
    return true;
  }
  std::string str() {
    uint32_t n = u32();
    if (!ok_ || n > n_ - pos_) {
      ok_ = false;
      return std::string();
    }
    std::string s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }
  // Reads what Writer::opt_cstr wrote; returns whether the string was present.
  bool opt_cstr(std::string* out) {
    bool present = u8() != 0;
    *out = present ? str() : std::string();
    return present;
  }
  template <class T>
  T pod() {
    T v;
    raw(&v, sizeof v);
    return v;
  }
  void fail() { ok_ = false; }

 private:
  const uint8_t* p_ = nullptr;
  size_t n_ = 0;
  size_t pos_ = 0;
  bool ok_ = true;
};

class Channel {
 public:
  enum Result { kOk, kEof, kTimeout, kError };

  Channel() = default;
  explicit Channel(int fd) : fd_(fd) {}
  ~Channel() { reset(-1); }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  int fd() const { return fd_; }
  // Close the current socket (and any queued fds), then own `fd`.
  void reset(int fd);
  // Forget the socket without closing it (after fork(): the parent still uses it).
  void abandon();
  // Non-blocking sockets honour deadlines in send() as well as recv().
  void set_nonblocking();
  // Blocking socket whose send() / recv() give up (kTimeout) after ms milliseconds without
  // progress (SO_SNDTIMEO / SO_RCVTIMEO): no poll() per message. 0: wait forever.
  void set_timeout_ms(int64_t ms);

  // Send one frame; false + *error if the peer is gone or the deadline (0 = none) passes.
  bool send(uint32_t kind, const void* payload, size_t len, const int* fds, int nfds, int64_t deadline_ms,
            std::string* error);
  bool send(uint32_t kind, const Writer& w, int64_t deadline_ms, std::string* error) {
    return send(kind, w.data().data(), w.data().size(), nullptr, 0, deadline_ms, error);
  }
  // Receive one frame; *data stays valid until the next recv(). deadline_ms 0: wait forever.
  // With `spin` (enabled), the wait for the frame first polls for it within spin's window
  // (spin.h), then blocks as without; spin learns how long the wait took.
  Result recv(uint32_t* kind, const uint8_t** data, size_t* len, int64_t deadline_ms, std::string* error,
              SpinWindow* spin = nullptr);
  // Oldest received file descriptor not yet taken, -1 if none.
  int take_fd();

 private:
  // Read more bytes; spin_until_ns > 0: poll with MSG_DONTWAIT until then before blocking.
  bool fill(int64_t deadline_ms, int64_t spin_until_ns, Result* result, std::string* error);
  ssize_t receive_once(int flags);

  int fd_ = -1;
  bool nonblocking_ = false;
  bool timeouts_ = false;
  std::vector<uint8_t> buf_;
  size_t begin_ = 0, end_ = 0;
  std::deque<int> fds_;
  bool caught_ = false;     // the last fill() got its bytes while polling
  bool contended_ = false;  // ... or stopped polling because another task had our CPU
};

// socketpair(AF_UNIX, SOCK_STREAM) with close-on-exec and no SIGPIPE on either end.
bool make_socketpair(int fds[2], std::string* error);

}  // namespace lite
}  // namespace mgf
