#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "error.h"

namespace megforge::deconv {

namespace {

int32_t hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int32_t>(std::min(n, 256u));
}

std::atomic<int32_t> g_threads{1};

}  // namespace

void set_num_threads(int32_t n) {
  if (n < 0 || n > 1024) throw_invalid("num_threads must be in [0, 1024], got " + std::to_string(n));
  g_threads.store(n == 0 ? hardware_threads() : n);
}

int32_t num_threads() { return g_threads.load(); }

void parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& fn) {
  if (count <= 0) return;
  const int64_t workers = std::min<int64_t>(num_threads(), count);
  if (workers <= 1) {
    fn(0, count);
    return;
  }
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto run = [&](int64_t begin, int64_t end) {
    try {
      fn(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(size_t(workers - 1));
  const int64_t chunk = (count + workers - 1) / workers;
  for (int64_t t = 1; t < workers; ++t) {
    const int64_t begin = t * chunk, end = std::min(count, begin + chunk);
    if (begin < end) threads.emplace_back(run, begin, end);
  }
  run(0, std::min(count, chunk));
  for (auto& th : threads) th.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace megforge::deconv
