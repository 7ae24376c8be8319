// Locking for one worker call. Calls on a network and its IO tensors are serialized by the
// network's mutex, calls on standalone tensors by one mutex; locks are always taken in the order
// networks (ascending id), then standalone, so concurrent calls from several caller threads
// cannot deadlock. Objects are looked up again once locked: an id destroyed meanwhile fails.
#pragma once

#include <string>
#include <vector>

#include "worker.h"

namespace mgf {
namespace lite {

class OpLock {
 public:
  explicit OpLock(Server& s) : s_(s) {}
  ~OpLock();
  OpLock(const OpLock&) = delete;
  OpLock& operator=(const OpLock&) = delete;

  // Lock these networks (ids may repeat); false + *error naming an unknown id.
  bool networks(std::vector<uint64_t> ids, std::vector<WNetwork*>* out, std::string* error);
  WNetwork* network(uint64_t id, std::string* error);
  // Lock the owners of these tensors; *out in the order of ids.
  bool tensors(const std::vector<uint64_t>& ids, std::vector<WTensor*>* out, std::string* error);
  void standalone();

 private:
  bool lock_networks(std::vector<uint64_t> ids, std::string* error);

  Server& s_;
  std::vector<WNetwork*> nets_;
  bool standalone_ = false;
};

}  // namespace lite
}  // namespace mgf
