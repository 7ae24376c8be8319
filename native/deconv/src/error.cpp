#include "error.h"

namespace megforge {

namespace {
thread_local std::string g_last_error;
}

void throw_invalid(const std::string& message) { throw Error(MGF_ERR_INVALID_ARGUMENT, message); }
void throw_unsupported(const std::string& message) { throw Error(MGF_ERR_UNSUPPORTED, message); }

void set_last_error(const char* message) noexcept {
  try {
    g_last_error = message;
  } catch (...) {
    g_last_error.clear();
  }
}

const char* last_error() noexcept { return g_last_error.c_str(); }

}  // namespace megforge
