// Error plumbing between the C++ internals and the C API: internals throw megforge::Error,
// the C API catches everything at the boundary and turns it into a status + message.
#pragma once

#include <string>
#include <stdexcept>

namespace megforge {

class Error : public std::runtime_error {
 public:
  Error(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

[[noreturn]] void throw_invalid(const std::string& message);
[[noreturn]] void throw_unsupported(const std::string& message);

void set_last_error(const char* message) noexcept;
const char* last_error() noexcept;

// Runs fn at the C boundary: returns MGF_OK, or the status of what it threw.
template <class Fn>
int guarded(Fn&& fn) noexcept;

}  // namespace megforge

#include "error_inl.h"
