// The exported LITE_* functions: each call goes to the fork-mode implementation or straight to
// the official library, as LITE_FORK_MODE said when this library was loaded.
#include <cstring>
#include <mutex>

#include "api_list.h"
#include "error.h"
#include "fork_api.h"
#include "locate.h"
#include "real_api.h"
#include "settings.h"

namespace mgf {
namespace lite {
namespace passthrough {

namespace {

struct Loaded {
  RealLite api;
  bool ok = false;
  std::string error;
};

// Whether the last failure on this thread came from us rather than from the official library.
thread_local bool t_own_error = false;

const Loaded& loaded() {
  static Loaded* l = [] {
    Loaded* x = new Loaded;  // never unloaded: the official library must outlive every caller
    std::string searched;
    std::string path = find_real_library(&searched);
    if (path.empty()) {
      x->error = "cannot find MegEngine's Lite library (looked for " + searched +
                 "); set MEGFORGE_LITE_REAL_LIB to its path";
    } else {
      x->ok = open_real_lite(path, &x->api, &x->error);
    }
    return x;
  }();
  return *l;
}

}  // namespace

// The official library, or nullptr with this thread's error set.
const RealLite* real(const char* api) {
  const Loaded& l = loaded();
  if (!l.ok) {
    t_own_error = true;
    fail(std::string(api) + ": " + l.error);
    return nullptr;
  }
  t_own_error = false;
  return &l.api;
}

int missing(const RealLite* r, const char* api) {
  t_own_error = true;
  return fail(r->missing(api));
}

bool own_error() { return t_own_error || !loaded().ok; }

}  // namespace passthrough

int invalid_mode() { return fail(settings().error); }

}  // namespace lite
}  // namespace mgf

using mgf::lite::Mode;

#define MGF_EXPORT(name, params, args)                                         \
  extern "C" MGF_LITE_API int name params {                                   \
    switch (mgf::lite::settings().mode) {                                      \
      case Mode::kFork:                                                        \
        return mgf::lite::fork::name args;                                     \
      case Mode::kPassThrough: {                                               \
        const mgf::lite::RealLite* r = mgf::lite::passthrough::real(#name);    \
        if (!r) return -1;                                                     \
        if (!r->name) return mgf::lite::passthrough::missing(r, #name);        \
        return r->name args;                                                   \
      }                                                                        \
      default:                                                                 \
        return mgf::lite::invalid_mode();                                      \
    }                                                                          \
  }
MGF_LITE_INT_API(MGF_EXPORT)
#undef MGF_EXPORT

extern "C" MGF_LITE_API const char* LITE_get_last_error(void) {
  if (mgf::lite::settings().mode == Mode::kPassThrough && !mgf::lite::passthrough::own_error()) {
    const mgf::lite::RealLite* r = mgf::lite::passthrough::real("LITE_get_last_error");
    if (r && r->LITE_get_last_error) return r->LITE_get_last_error();
  }
  return mgf::lite::last_error();
}

extern "C" MGF_LITE_API ErrorCode LITE_get_last_error_code(void) {
  if (mgf::lite::settings().mode == Mode::kPassThrough && !mgf::lite::passthrough::own_error()) {
    const mgf::lite::RealLite* r = mgf::lite::passthrough::real("LITE_get_last_error_code");
    if (r && r->LITE_get_last_error_code) return r->LITE_get_last_error_code();
  }
  return static_cast<ErrorCode>(mgf::lite::last_error_code());
}

extern "C" MGF_LITE_API void LITE_clear_last_error(void) {
  mgf::lite::clear_error();
  if (mgf::lite::settings().mode == Mode::kPassThrough) {
    const mgf::lite::RealLite* r = mgf::lite::passthrough::real("LITE_clear_last_error");
    if (r && r->LITE_clear_last_error) r->LITE_clear_last_error();
    mgf::lite::clear_error();
  }
}

namespace {

// The official defaults (checked against the 1.13 library by the tests).
LiteConfig make_default_config() {
  LiteConfig c;
  std::memset(&c, 0, sizeof c);
  c.device_id = -1;
  c.device_type = LITE_CPU;
  c.backend = LITE_DEFAULT;
  c.options.var_sanity_check_first_run = 1;
  c.options.graph_opt_level = 2;
  c.options.async_exec_level = 1;
  return c;
}

}  // namespace

extern "C" MGF_LITE_API LiteConfig* default_config(void) {
  if (mgf::lite::settings().mode == Mode::kPassThrough) {
    const mgf::lite::RealLite* r = mgf::lite::passthrough::real("default_config");
    if (r && r->default_config) return r->default_config();
  }
  static LiteConfig config = make_default_config();
  return &config;
}

extern "C" MGF_LITE_API LiteNetworkIO* default_network_io(void) {
  if (mgf::lite::settings().mode == Mode::kPassThrough) {
    const mgf::lite::RealLite* r = mgf::lite::passthrough::real("default_network_io");
    if (r && r->default_network_io) return r->default_network_io();
  }
  static LiteNetworkIO io = {nullptr, nullptr, 0, 0};
  return &io;
}
