// Helpers shared by the worker's request handlers (worker_ops_*.cpp).
#pragma once

#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "error.h"
#include "shm.h"
#include "worker.h"
#include "worker_lock.h"

namespace mgf {
namespace lite {

constexpr uint64_t kMaxList = 1u << 16;

// Inside Server handlers: fail the request if the official library lacks `fn`.
#define MGF_NEED(fn)                                   \
  do {                                                 \
    if (!api_.fn) return rep.error(api_.missing(#fn)); \
  } while (0)

// A sealed, read-only copy of a model, mapped privately (Lite may patch it in place).
inline void* map_model(int fd, uint64_t size, std::string* error) {
  if (fd < 0) {
    *error = "model memory descriptor missing";
    return nullptr;
  }
  long long have = shm_size(fd);
  if (size == 0 || have < 0 || static_cast<unsigned long long>(have) < size) {
    *error = format("model memory holds %lld bytes, %llu expected", have, static_cast<unsigned long long>(size));
    return nullptr;
  }
  return shm_map(fd, size, true, true, error);
}

inline bool take_ids(Reader& in, std::vector<uint64_t>* ids) {
  uint64_t n = in.u64();
  if (!in.ok() || n > kMaxList) return false;
  for (uint64_t i = 0; i < n; ++i) ids->push_back(in.u64());
  return in.ok();
}

}  // namespace lite
}  // namespace mgf
