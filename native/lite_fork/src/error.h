// The last error of the calling thread, as LITE_get_last_error() reports it for the calls our
// layer answers itself (fork mode; pass-through failures before the real library is reached).
#pragma once

#include <string>

namespace mgf {
namespace lite {

// Record message (and code: an ErrorCode value) for this thread; returns -1 for `return fail(...)`.
int fail(const std::string& message, int code = 1);
void clear_error();
const char* last_error();
int last_error_code();

// printf-style formatting into a std::string.
std::string format(const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

}  // namespace lite
}  // namespace mgf
