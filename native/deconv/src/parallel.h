// Process-wide worker-thread setting and a parallel_for over a persistent thread pool.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

namespace megforge::deconv {

void set_num_threads(int32_t n);  // 0 = one per hardware thread
int32_t num_threads();

// A non-owning reference to a callable void(int64_t begin, int64_t end) (no allocation).
class RangeFn {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, RangeFn>>>
  RangeFn(F&& f) : obj_(const_cast<void*>(static_cast<const void*>(&f))),  // NOLINT: implicit by design
                   call_([](void* o, int64_t b, int64_t e) { (*static_cast<std::remove_reference_t<F>*>(o))(b, e); }) {}
  void operator()(int64_t begin, int64_t end) const { call_(obj_, begin, end); }

 private:
  void* obj_;
  void (*call_)(void*, int64_t, int64_t);
};

// Calls fn(begin, end) over disjoint chunks covering [0, count) on up to num_threads() threads
// (the caller is one of them); blocks until all finish. The first exception thrown by fn is
// rethrown in the caller as megforge::Error. A parallel_for issued while the pool is busy
// (nested, or from another thread) runs serially in its caller.
void parallel_for(int64_t count, RangeFn fn);

}  // namespace megforge::deconv
