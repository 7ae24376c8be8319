#include "error.h"

#include <cstdarg>
#include <cstdio>

namespace mgf {
namespace lite {

namespace {
struct LastError {
  std::string message;
  int code = 0;
};
thread_local LastError t_error;
}  // namespace

int fail(const std::string& message, int code) {
  t_error.message = message;
  t_error.code = code;
  return -1;
}

void clear_error() {
  t_error.message.clear();
  t_error.code = 0;
}

const char* last_error() { return t_error.message.c_str(); }

int last_error_code() { return t_error.code; }

std::string format(const char* fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return std::string();
  if (static_cast<size_t>(n) < sizeof small) return std::string(small, static_cast<size_t>(n));
  std::string out(static_cast<size_t>(n) + 1, '\0');
  va_start(ap, fmt);
  std::vsnprintf(&out[0], out.size(), fmt, ap);
  va_end(ap);
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace lite
}  // namespace mgf
