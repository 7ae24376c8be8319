// A persistent pool: workers sleep on a condition variable between jobs and pull chunks of the
// range from an atomic counter; the calling thread works too. Errors travel as (status,
// message), not std::exception_ptr (whose out-of-line refcounting needs CXXABI_1.3.13, i.e.
// a manylinux_2_34 wheel). After fork() the child drops the parent's pool (its threads do not
// exist there) and starts a fresh one on first use.
#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

#include "error.h"

namespace megforge::deconv {

namespace {

int32_t hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int32_t>(std::min(n, 256u));
}

std::atomic<int32_t> g_threads{1};

class Pool {
 public:
  // Runs fn over [0, count) with `helpers` workers besides the caller. Returns false (without
  // running anything) if the pool is busy.
  bool run(int64_t count, int helpers, RangeFn fn) {
    std::unique_lock<std::mutex> submit(submit_, std::try_to_lock);
    if (!submit.owns_lock()) return false;
    while (int(threads_.size()) < helpers) {
      const int index = int(threads_.size());
      threads_.emplace_back([this, index] { worker(index); });
    }
    {
      std::lock_guard<std::mutex> lock(m_);
      fn_ = &fn;
      count_ = count;
      chunk_ = std::max<int64_t>(1, count / (int64_t(helpers + 1) * 4));
      next_.store(0);
      helpers_ = helpers;
      pending_ = helpers;
      error_status_ = MGF_OK;
      error_message_.clear();
      ++generation_;
    }
    work_cv_.notify_all();
    drain();
    std::unique_lock<std::mutex> lock(m_);
    done_cv_.wait(lock, [this] { return pending_ == 0; });
    fn_ = nullptr;
    if (error_status_ != MGF_OK) throw Error(error_status_, error_message_);
    return true;
  }

 private:
  void worker(int index) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      work_cv_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (index >= helpers_) continue;
      lock.unlock();
      drain();
      lock.lock();
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  void drain() {
    for (;;) {
      const int64_t begin = next_.fetch_add(chunk_);
      if (begin >= count_) return;
      const int64_t end = std::min(count_, begin + chunk_);
      try {
        (*fn_)(begin, end);
      } catch (const Error& e) {
        record(e.status(), e.what());
      } catch (const std::bad_alloc&) {
        record(MGF_ERR_OUT_OF_MEMORY, "out of memory");
      } catch (const std::exception& e) {
        record(MGF_ERR_INTERNAL, e.what());
      } catch (...) {
        record(MGF_ERR_INTERNAL, "unknown error in a worker thread");
      }
    }
  }

  void record(int status, const char* message) {
    std::lock_guard<std::mutex> lock(m_);
    if (error_status_ == MGF_OK) {
      error_status_ = status;
      error_message_ = message;
    }
  }

  std::mutex submit_;  // one job at a time
  std::mutex m_;       // guards everything below except next_
  std::condition_variable work_cv_, done_cv_;
  std::vector<std::thread> threads_;
  const RangeFn* fn_ = nullptr;
  int64_t count_ = 0, chunk_ = 1;
  std::atomic<int64_t> next_{0};
  int helpers_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  int error_status_ = MGF_OK;
  std::string error_message_;
};

// Never destroyed: workers may still sleep in it at exit. Dropped (leaked) in a forked child.
std::atomic<Pool*> g_pool{nullptr};
std::mutex g_pool_create;

#if defined(__unix__) || defined(__APPLE__)
void drop_pool_in_child() { g_pool.store(nullptr); }
#endif

Pool& pool() {
  Pool* p = g_pool.load();
  if (p) return *p;
  std::lock_guard<std::mutex> lock(g_pool_create);
  p = g_pool.load();
  if (!p) {
#if defined(__unix__) || defined(__APPLE__)
    static const int registered = pthread_atfork(nullptr, nullptr, drop_pool_in_child);
    (void)registered;
#endif
    p = new Pool;
    g_pool.store(p);
  }
  return *p;
}

}  // namespace

void set_num_threads(int32_t n) {
  if (n < 0 || n > 1024) throw_invalid("num_threads must be in [0, 1024], got " + std::to_string(n));
  g_threads.store(n == 0 ? hardware_threads() : n);
}

int32_t num_threads() { return g_threads.load(); }

void parallel_for(int64_t count, RangeFn fn) {
  if (count <= 0) return;
  const int64_t workers = std::min<int64_t>(num_threads(), count);
  if (workers > 1 && pool().run(count, int(workers - 1), fn)) return;
  fn(0, count);
}

}  // namespace megforge::deconv
