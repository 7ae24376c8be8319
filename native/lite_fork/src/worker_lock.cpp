#include "worker_lock.h"

#include <algorithm>

#include "error.h"
#include "shm.h"

namespace mgf {
namespace lite {

OpLock::~OpLock() {
  if (standalone_) s_.standalone_mu_.unlock();
  for (auto it = nets_.rbegin(); it != nets_.rend(); ++it) (*it)->mu.unlock();
  std::lock_guard<std::mutex> lock(s_.mu_);
  for (WNetwork* n : nets_) {
    if (--n->refs == 0 && n->destroyed) delete n;
  }
}

bool OpLock::lock_networks(std::vector<uint64_t> ids, std::string* error) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<WNetwork*> found;
  {
    std::lock_guard<std::mutex> lock(s_.mu_);
    for (uint64_t id : ids) {
      auto it = s_.nets_.find(id);
      if (it == s_.nets_.end()) {
        *error = format("unknown network id %llu", static_cast<unsigned long long>(id));
        return false;
      }
      found.push_back(it->second);
    }
    for (WNetwork* n : found) ++n->refs;
  }
  for (WNetwork* n : found) {
    n->mu.lock();
    nets_.push_back(n);
  }
  for (WNetwork* n : found) {
    if (n->destroyed) {
      *error = format("network id %llu was destroyed", static_cast<unsigned long long>(n->id));
      return false;
    }
  }
  return true;
}

bool OpLock::networks(std::vector<uint64_t> ids, std::vector<WNetwork*>* out, std::string* error) {
  if (!lock_networks(ids, error)) return false;
  out->clear();
  for (uint64_t id : ids) {
    for (WNetwork* n : nets_)
      if (n->id == id) out->push_back(n);
  }
  return true;
}

WNetwork* OpLock::network(uint64_t id, std::string* error) {
  std::vector<WNetwork*> out;
  if (!networks({id}, &out, error)) return nullptr;
  return out[0];
}

void OpLock::standalone() {
  if (standalone_) return;
  s_.standalone_mu_.lock();
  standalone_ = true;
}

bool OpLock::tensors(const std::vector<uint64_t>& ids, std::vector<WTensor*>* out, std::string* error) {
  std::vector<uint64_t> owners;
  bool need_standalone = false;
  {
    std::lock_guard<std::mutex> lock(s_.mu_);
    for (uint64_t id : ids) {
      auto it = s_.tensors_.find(id);
      if (it == s_.tensors_.end()) {
        *error = format("unknown tensor id %llu", static_cast<unsigned long long>(id));
        return false;
      }
      if (it->second->owner)
        owners.push_back(it->second->owner);
      else
        need_standalone = true;
    }
  }
  if (!lock_networks(owners, error)) return false;
  if (need_standalone) standalone();
  std::lock_guard<std::mutex> lock(s_.mu_);
  out->clear();
  for (uint64_t id : ids) {
    auto it = s_.tensors_.find(id);
    if (it == s_.tensors_.end()) {
      *error = format("tensor id %llu was destroyed", static_cast<unsigned long long>(id));
      return false;
    }
    WTensor* t = it->second;
    bool locked = t->owner ? std::any_of(nets_.begin(), nets_.end(), [&](WNetwork* n) { return n->id == t->owner; })
                           : standalone_;
    if (!locked) {
      *error = format("tensor id %llu changed owner", static_cast<unsigned long long>(id));
      return false;
    }
    out->push_back(t);
  }
  return true;
}

}  // namespace lite
}  // namespace mgf
