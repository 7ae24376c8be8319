#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
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
  // The first failure is kept as (status, message) and rethrown as megforge::Error. (Not
  // std::exception_ptr: its out-of-line refcounting needs CXXABI_1.3.13, i.e. manylinux_2_34.)
  std::mutex error_mutex;
  int error_status = MGF_OK;
  std::string error_message;
  auto record = [&](int status, const char* message) {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (error_status == MGF_OK) {
      error_status = status;
      error_message = message;
    }
  };
  auto run = [&](int64_t begin, int64_t end) {
    try {
      fn(begin, end);
    } catch (const Error& e) {
      record(e.status(), e.what());
    } catch (const std::bad_alloc&) {
      record(MGF_ERR_OUT_OF_MEMORY, "out of memory");
    } catch (const std::exception& e) {
      record(MGF_ERR_INTERNAL, e.what());
    } catch (...) {
      record(MGF_ERR_INTERNAL, "unknown error in a worker thread");
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
  if (error_status != MGF_OK) throw Error(error_status, error_message);
}

}  // namespace megforge::deconv
