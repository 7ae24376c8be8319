#include "wire.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "spin.h"

namespace mgf {
namespace lite {

namespace {

struct FrameHeader {
  uint32_t kind;
  uint32_t length;
};

#if defined(MSG_NOSIGNAL)
constexpr int kSendFlags = MSG_NOSIGNAL;
#else
constexpr int kSendFlags = 0;  // SO_NOSIGPIPE is set on the socket instead
#endif
#if defined(MSG_CMSG_CLOEXEC)
constexpr int kRecvFlags = MSG_CMSG_CLOEXEC;
#else
constexpr int kRecvFlags = 0;
#endif

void set_cloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

// Wait until fd is ready for `events` or the deadline passes. 1 ready, 0 timeout, -1 error.
int wait_ready(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    int timeout = -1;
    if (deadline_ms > 0) {
      int64_t left = deadline_ms - monotonic_ms();
      if (left <= 0) return 0;
      timeout = left > 1000000 ? 1000000 : static_cast<int>(left);
    }
    struct pollfd p = {fd, events, 0};
    int n = poll(&p, 1, timeout);
    if (n > 0) return 1;
    if (n == 0) {
      if (deadline_ms > 0 && monotonic_ms() >= deadline_ms) return 0;
      continue;
    }
    if (errno != EINTR) return -1;
  }
}

}  // namespace

int64_t monotonic_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void Channel::reset(int fd) {
  if (fd_ >= 0) close(fd_);
  for (int f : fds_) close(f);
  fds_.clear();
  fd_ = fd;
  nonblocking_ = false;
  timeouts_ = false;
  begin_ = end_ = 0;
  if (fd < 0) std::vector<uint8_t>().swap(buf_);  // a closed channel keeps no buffer
}

void Channel::abandon() {
  fd_ = -1;
  fds_.clear();  // the parent process owns these descriptors too; closing our copies is its business
  begin_ = end_ = 0;
}

void Channel::set_timeout_ms(int64_t ms) {
  struct timeval tv;
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  timeouts_ = ms > 0;
}

void Channel::set_nonblocking() {
  int flags = fcntl(fd_, F_GETFL);
  if (flags >= 0) fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  nonblocking_ = true;
}

bool Channel::send(uint32_t kind, const void* payload, size_t len, const int* fds, int nfds, int64_t deadline_ms,
                   std::string* error) {
  if (fd_ < 0) {
    *error = "channel is closed";
    return false;
  }
  if (len > kMaxFrameBytes || nfds < 0 || nfds > kMaxFdsPerFrame) {
    *error = "message too large";
    return false;
  }
  FrameHeader h = {kind, static_cast<uint32_t>(len)};
  const uint8_t* parts[2] = {reinterpret_cast<const uint8_t*>(&h), static_cast<const uint8_t*>(payload)};
  size_t sizes[2] = {sizeof h, len};
  size_t part = 0, off = 0;
  bool fds_sent = nfds == 0;
  while (part < 2) {
    if (sizes[part] == off) {
      ++part;
      off = 0;
      continue;
    }
    struct iovec iov[2];
    int niov = 0;
    iov[niov].iov_base = const_cast<uint8_t*>(parts[part] + off);
    iov[niov++].iov_len = sizes[part] - off;
    if (part == 0 && sizes[1] > 0) {
      iov[niov].iov_base = const_cast<uint8_t*>(parts[1]);
      iov[niov++].iov_len = sizes[1];
    }
    struct msghdr msg;
    std::memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = niov;
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerFrame)];
    if (!fds_sent) {
      std::memset(control, 0, sizeof control);
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
      struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
      std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    ssize_t n = sendmsg(fd_, &msg, kSendFlags);
    if (n < 0) {
      if (errno == EINTR) continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && timeouts_ && !nonblocking_) {
        *error = "timed out sending";
        return false;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        int r = wait_ready(fd_, POLLOUT, deadline_ms);
        if (r == 1) continue;
        *error = r == 0 ? "timed out sending" : std::string("poll failed: ") + std::strerror(errno);
        return false;
      }
      *error = std::string("send failed: ") + std::strerror(errno);
      return false;
    }
    fds_sent = true;
    size_t sent = static_cast<size_t>(n);
    while (sent > 0 && part < 2) {
      size_t take = sizes[part] - off < sent ? sizes[part] - off : sent;
      off += take;
      sent -= take;
      if (off == sizes[part]) {
        ++part;
        off = 0;
      }
    }
  }
  return true;
}

// One recvmsg into the buffer; queues received descriptors. >0 bytes, 0 end of file, -1 errno
// set (EINTR, EAGAIN ... are the caller's business), -2 descriptors were truncated.
ssize_t Channel::receive_once(int flags) {
  struct iovec iov = {buf_.data() + end_, buf_.size() - end_};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)];
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = recvmsg(fd_, &msg, kRecvFlags | flags);
  if (n < 0) return -1;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int f;
      std::memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
      if (kRecvFlags == 0) set_cloexec(f);
      fds_.push_back(f);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) return -2;
  end_ += static_cast<size_t>(n);
  return n;
}

bool Channel::fill(int64_t deadline_ms, int64_t spin_until_ns, Result* result, std::string* error) {
  if (begin_ > 0 && begin_ == end_) begin_ = end_ = 0;
  if (buf_.size() - end_ < 4096) {
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buf_.size() - end_ < 4096) buf_.resize(buf_.size() < 65536 ? 65536 : buf_.size() * 2);
  }
  bool polling = spin_until_ns > 0;
  int64_t last_look = monotonic_ns();
  const int64_t contended_ns = contended_yield_ns(spin_until_ns - last_look);
  for (;;) {
    if (!polling && (nonblocking_ || deadline_ms > 0)) {
      int r = wait_ready(fd_, POLLIN, deadline_ms);
      if (r == 0) {
        *result = kTimeout;
        *error = "timed out";
        return false;
      }
      if (r < 0) {
        *result = kError;
        *error = std::string("poll failed: ") + std::strerror(errno);
        return false;
      }
    }
    // While polling every recvmsg returns at once: data, end of file (a dead peer) and errors
    // are seen exactly as a blocking receive sees them.
    ssize_t n = receive_once(polling ? MSG_DONTWAIT : 0);
    if (n == -2) {
      *result = kError;
      *error = "file descriptors were truncated";
      return false;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (polling) {
          int64_t now = monotonic_ns();
          // A long gap since the last look (in the yield, or preempted anywhere in the loop)
          // means another runnable task had our CPU (a job sharing the core): a blocked thread
          // is woken promptly, one that keeps polling waits behind that task's time slices.
          // One more look, then block.
          if (now - last_look > contended_ns) {
            contended_ = true;
            spin_until_ns = 0;
            last_look = now;
            continue;
          }
          last_look = now;
          if (now < spin_until_ns && (deadline_ms <= 0 || monotonic_ms() < deadline_ms)) {
            spin_pause();
          } else {
            polling = false;  // the window is over: block (or poll() up to the deadline)
          }
          continue;
        }
        if (timeouts_ && !nonblocking_) {
          *result = kTimeout;
          *error = "timed out";
          return false;
        }
        continue;
      }
      *result = (errno == ECONNRESET) ? kEof : kError;
      *error = std::string("receive failed: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) {
      *result = kEof;
      *error = "peer closed the channel";
      return false;
    }
    if (polling) {
      caught_ = true;
      contended_ = false;  // the one more look found it: the peer itself had our CPU
    }
    return true;
  }
}

Channel::Result Channel::recv(uint32_t* kind, const uint8_t** data, size_t* len, int64_t deadline_ms,
                              std::string* error, SpinWindow* spin) {
  if (fd_ < 0) {
    *error = "channel is closed";
    return kError;
  }
  bool waited = false;
  for (;;) {
    size_t have = end_ - begin_;
    if (have >= sizeof(FrameHeader)) {
      FrameHeader h;
      std::memcpy(&h, buf_.data() + begin_, sizeof h);
      if (h.length > kMaxFrameBytes) {
        *error = "frame too large";
        return kError;
      }
      if (have >= sizeof h + h.length) {
        *kind = h.kind;
        *data = buf_.data() + begin_ + sizeof h;
        *len = h.length;
        begin_ += sizeof h + h.length;
        return kOk;
      }
      if (buf_.size() - begin_ < sizeof h + h.length) {
        // Make room for the whole frame.
        std::memmove(buf_.data(), buf_.data() + begin_, have);
        end_ = have;
        begin_ = 0;
        if (buf_.size() < sizeof h + h.length + 4096) buf_.resize(sizeof h + h.length + 4096);
      }
    }
    Result r;
    if (!spin || !spin->enabled() || waited) {
      if (!fill(deadline_ms, 0, &r, error)) return r;
      continue;
    }
    // The first wait for this frame: poll for it within the spin window, then block.
    waited = true;
    int64_t start = monotonic_ns();
    int64_t budget = spin->budget_ns(start);
    caught_ = contended_ = false;
    bool ok = fill(deadline_ms, budget > 0 ? start + budget : 0, &r, error);
    spin->record(monotonic_ns() - start, budget > 0, caught_, contended_);
    if (!ok) return r;
  }
}

int Channel::take_fd() {
  if (fds_.empty()) return -1;
  int f = fds_.front();
  fds_.pop_front();
  return f;
}

bool make_socketpair(int fds[2], std::string* error) {
#if defined(SOCK_CLOEXEC)
  int rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
#else
  int rc = socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
#endif
  if (rc != 0) {
    *error = std::string("socketpair failed: ") + std::strerror(errno);
    return false;
  }
  for (int i = 0; i < 2; ++i) {
#if !defined(SOCK_CLOEXEC)
    set_cloexec(fds[i]);
#endif
#if defined(SO_NOSIGPIPE)
    int one = 1;
    setsockopt(fds[i], SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
  }
  return true;
}

}  // namespace lite
}  // namespace mgf
