#include "real_api.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>

#include "compat/glibc_compat.h"

namespace mgf {
namespace lite {

std::string RealLite::missing(const char* name) const {
  return std::string(name) + " is not provided by the Lite library at " + path;
}

std::string RealLite::error_message() const {
  if (!LITE_get_last_error) return std::string();
  const char* msg = LITE_get_last_error();
  return msg ? std::string(msg) : std::string();
}

bool preload_libraries(std::string* error) {
  const char* list = std::getenv("MEGFORGE_LITE_PRELOAD");
  if (!list) return true;
  std::string paths(list);
  size_t start = 0;
  while (start <= paths.size()) {
    size_t end = paths.find(':', start);
    if (end == std::string::npos) end = paths.size();
    const std::string lib = paths.substr(start, end - start);
    start = end + 1;
    if (lib.empty()) continue;
    // Kept loaded for the life of the process, like a model's custom-op library must be.
    if (!dlopen(lib.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
      const char* why = dlerror();
      *error = "MEGFORGE_LITE_PRELOAD: cannot load " + lib + ": " + (why ? why : "unknown dlopen error");
      return false;
    }
  }
  return true;
}

// megforge's MegEngine op library (NCHW44 transposed convolution) where the redistributed
// MegEngine wheel installs it, relative to the official Lite library it renames to
// megenginelite/libs/lite_real.so: ../../megengine/core/lib/libmegforge_mge_op.so. Loaded
// RTLD_GLOBAL, like MEGFORGE_LITE_PRELOAD, so models using the op load in both modes with no
// setting: a fork-mode worker cannot see what its caller loaded.
static bool preload_bundled_op(const std::string& real_path, std::string* error) {
  const size_t slash = real_path.rfind('/');
  const std::string dir = slash == std::string::npos ? std::string(".") : real_path.substr(0, slash);
  const std::string op = dir + "/../../megengine/core/lib/libmegforge_mge_op.so";
  if (access(op.c_str(), F_OK) != 0) return true;  // not the redistribution: nothing to load
  if (!dlopen(op.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
    const char* why = dlerror();
    *error = "cannot load megforge's MegEngine op library " + op + ": " + (why ? why : "unknown dlopen error");
    return false;
  }
  return true;
}

bool open_real_lite(const std::string& path, RealLite* out, std::string* error) {
  if (!preload_libraries(error)) return false;
  if (!preload_bundled_op(path, error)) return false;
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* why = dlerror();
    *error = "cannot load the Lite library " + path + ": " + (why ? why : "unknown dlopen error");
    return false;
  }
  if (dlsym(h, "mgf_lite_fork_mode")) {
    dlclose(h);
    *error = path + " is megforge's drop-in Lite library, not the official one; point "
             "MEGFORGE_LITE_REAL_LIB at MegEngine's liblite_shared library";
    return false;
  }
  RealLite r;
  r.handle = h;
  r.path = path;
#define MGF_REAL_RESOLVE(name, params, args) \
  r.name = reinterpret_cast<decltype(r.name)>(dlsym(h, #name));
  MGF_LITE_INT_API(MGF_REAL_RESOLVE)
  MGF_REAL_RESOLVE(LITE_get_last_error, , )
  MGF_REAL_RESOLVE(LITE_get_last_error_code, , )
  MGF_REAL_RESOLVE(LITE_clear_last_error, , )
  MGF_REAL_RESOLVE(default_config, , )
  MGF_REAL_RESOLVE(default_network_io, , )
#undef MGF_REAL_RESOLVE
  if (!r.LITE_make_network && !r.LITE_make_tensor && !r.LITE_get_version) {
    dlclose(h);
    *error = path + " exports no LITE_* functions: not a Lite library";
    return false;
  }
  *out = r;
  return true;
}

}  // namespace lite
}  // namespace mgf
