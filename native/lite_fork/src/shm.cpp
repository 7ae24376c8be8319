#include "shm.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#if defined(__linux__)
#include <sys/syscall.h>
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif
#endif

namespace mgf {
namespace lite {

namespace {

#if defined(__linux__) && defined(SYS_memfd_create)
int linux_memfd(bool seal) {
  // The raw syscall keeps us independent of the libc version (memfd_create() is glibc >= 2.27).
  unsigned flags = 0x0001U /* MFD_CLOEXEC */ | (seal ? 0x0002U /* MFD_ALLOW_SEALING */ : 0U);
  return static_cast<int>(syscall(SYS_memfd_create, "megforge-lite", flags));
}
#endif

// A POSIX shm object (or a file in /dev/shm on Linux), unlinked immediately.
int unlinked_shm() {
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; attempt < 16; ++attempt) {
    char name[64];
    unsigned n = counter.fetch_add(1);
#if defined(__linux__)
    std::snprintf(name, sizeof name, "/dev/shm/mgf-lite-%d-%u", static_cast<int>(getpid()), n);
    int fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) unlink(name);
#else
    std::snprintf(name, sizeof name, "/mgf%x.%x", static_cast<unsigned>(getpid()), n);  // macOS: <= 31 chars
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
      shm_unlink(name);
      int flags = fcntl(fd, F_GETFD);
      if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
#endif
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

}  // namespace

size_t page_round(size_t n) {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

int shm_create(size_t size, bool seal, std::string* error) {
  if (size == 0) {
    *error = "zero-sized shared memory";
    return -1;
  }
  int fd = -1;
  bool sealable = false;
#if defined(__linux__) && defined(SYS_memfd_create)
  fd = linux_memfd(seal);
  sealable = fd >= 0 && seal;
#endif
  if (fd < 0) fd = unlinked_shm();
  if (fd < 0) {
    *error = std::string("cannot create shared memory: ") + std::strerror(errno);
    return -1;
  }
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    *error = std::string("cannot size shared memory to ") + std::to_string(size) + " bytes: " + std::strerror(errno);
    close(fd);
    return -1;
  }
#if defined(__linux__)
  if (sealable) fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
#else
  (void)sealable;
#endif
  return fd;
}

bool shm_seal_readonly(int fd) {
#if defined(__linux__)
  return fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) == 0;
#else
  (void)fd;
  return false;
#endif
}

long long shm_size(int fd) {
  off_t end = lseek(fd, 0, SEEK_END);
  return end < 0 ? -1 : static_cast<long long>(end);
}

void* shm_map(int fd, size_t size, bool writable, bool private_copy, std::string* error) {
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* p = mmap(nullptr, size, prot, private_copy ? MAP_PRIVATE : MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    *error = std::string("cannot map ") + std::to_string(size) + " bytes of shared memory: " + std::strerror(errno);
    return nullptr;
  }
  return p;
}

void shm_unmap(void* base, size_t size) {
  if (base) munmap(base, size);
}

}  // namespace lite
}  // namespace mgf
