// The official Lite library, dlopen'ed at run time (never linked): every LITE_* symbol resolved
// into a table. Used by the pass-through mode (in the caller's process) and by the worker.
#pragma once

#include <string>

#include "api_list.h"

namespace mgf {
namespace lite {

struct RealLite {
  void* handle = nullptr;
  std::string path;
#define MGF_REAL_MEMBER(name, params, args) int(*name) params = nullptr;
  MGF_LITE_INT_API(MGF_REAL_MEMBER)
#undef MGF_REAL_MEMBER
  const char* (*LITE_get_last_error)(void) = nullptr;
  ErrorCode (*LITE_get_last_error_code)(void) = nullptr;
  void (*LITE_clear_last_error)(void) = nullptr;
  LiteConfig* (*default_config)(void) = nullptr;
  LiteNetworkIO* (*default_network_io)(void) = nullptr;

  // "LITE_xyz is not provided by the Lite library at <path>"
  std::string missing(const char* name) const;
  // The real library's last error message, or "" if it has none / no such symbol.
  std::string error_message() const;
};

// Load every library listed in MEGFORGE_LITE_PRELOAD (':'-separated) with RTLD_GLOBAL, e.g.
// MegEngine custom-op libraries a model needs; in fork mode this happens in the worker.
bool preload_libraries(std::string* error);

// Preload (above), then dlopen `path` (RTLD_NOW | RTLD_LOCAL) and resolve every symbol; missing
// ones stay NULL.
// Refuses megforge's own library (it would forward to itself). On failure: false + *error.
bool open_real_lite(const std::string& path, RealLite* out, std::string* error);

}  // namespace lite
}  // namespace mgf
