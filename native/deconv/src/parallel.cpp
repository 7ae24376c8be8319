// A persistent pool: workers sleep on a condition variable between jobs and pull chunks of the
// range from an atomic counter; the calling thread works too. After fork() the child drops the
// parent's pool (its threads do not exist there) and starts a fresh one on first use.
//
// Symbol versions (the wheels are manylinux_2_24): errors travel as (status, message), not
// std::exception_ptr (CXXABI_1.3.13); the condition variable is pthread's, not
// std::condition_variable (whose wait() is GLIBCXX_3.4.30 with GCC 12); "pool busy" is an atomic
// flag, not std::mutex::try_lock (pthread_mutex_trylock is GLIBC_2.34).
#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>

#include "error.h"

namespace megforge::deconv {

namespace {

int32_t hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int32_t>(std::min(n, 256u));
}

std::atomic<int32_t> g_threads{1};

// pthread mutex + condition variables, RAII-free on purpose: the pool is never destroyed.
class Pool {
 public:
  Pool() {
    pthread_mutex_init(&m_, nullptr);
    pthread_cond_init(&work_cv_, nullptr);
    pthread_cond_init(&done_cv_, nullptr);
  }

  // Runs fn over [0, count) with `helpers` workers besides the caller. Returns false (without
  // running anything) if the pool is busy.
  bool run(int64_t count, int helpers, RangeFn fn) {
    bool expected = false;
    if (!busy_.compare_exchange_strong(expected, true)) return false;
    struct Release {
      std::atomic<bool>& flag;
      ~Release() { flag.store(false); }
    } release{busy_};
    while (int(threads_.size()) < helpers) {
      const int index = int(threads_.size());
      threads_.emplace_back([this, index] { worker(index); });
      threads_.back().detach();
    }
    pthread_mutex_lock(&m_);
    fn_ = &fn;
    count_ = count;
    chunk_ = std::max<int64_t>(1, count / (int64_t(helpers + 1) * 4));
    next_.store(0);
    helpers_ = helpers;
    pending_ = helpers;
    error_status_ = MGF_OK;
    error_message_.clear();
    ++generation_;
    pthread_cond_broadcast(&work_cv_);
    pthread_mutex_unlock(&m_);
    drain();
    pthread_mutex_lock(&m_);
    while (pending_ != 0) pthread_cond_wait(&done_cv_, &m_);
    fn_ = nullptr;
    const int status = error_status_;
    const std::string message = error_message_;
    pthread_mutex_unlock(&m_);
    if (status != MGF_OK) throw Error(status, message);
    return true;
  }

 private:
  void worker(int index) {
    uint64_t seen = 0;
    pthread_mutex_lock(&m_);
    for (;;) {
      while (generation_ == seen) pthread_cond_wait(&work_cv_, &m_);
      seen = generation_;
      if (index >= helpers_) continue;
      pthread_mutex_unlock(&m_);
      drain();
      pthread_mutex_lock(&m_);
      if (--pending_ == 0) pthread_cond_signal(&done_cv_);
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
    pthread_mutex_lock(&m_);
    if (error_status_ == MGF_OK) {
      error_status_ = status;
      error_message_ = message;
    }
    pthread_mutex_unlock(&m_);
  }

  std::atomic<bool> busy_{false};  // one job at a time
  pthread_mutex_t m_;              // guards everything below except next_
  pthread_cond_t work_cv_, done_cv_;
  std::vector<std::thread> threads_;  // detached; only the caller holding busy_ touches this
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

void drop_pool_in_child() { g_pool.store(nullptr); }

Pool& pool() {
  Pool* p = g_pool.load();
  if (p) return *p;
  std::lock_guard<std::mutex> lock(g_pool_create);
  p = g_pool.load();
  if (!p) {
    static const int registered = pthread_atfork(nullptr, nullptr, drop_pool_in_child);
    (void)registered;
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
