// Process-wide worker-thread setting and a static-partition parallel_for.
#pragma once

#include <cstdint>
#include <functional>

namespace megforge::deconv {

void set_num_threads(int32_t n);  // 0 = one per hardware thread
int32_t num_threads();

// Calls fn(begin, end) over disjoint chunks covering [0, count); blocks until all finish.
// The first exception thrown by fn is rethrown in the caller as megforge::Error.
void parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace megforge::deconv
