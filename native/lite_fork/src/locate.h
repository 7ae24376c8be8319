// Where things live: this library (dladdr), the official Lite library, the worker executable.
#pragma once

#include <string>

namespace mgf {
namespace lite {

#if defined(__APPLE__)
constexpr const char* kSharedSuffix = ".dylib";
#else
constexpr const char* kSharedSuffix = ".so";
#endif
constexpr const char* kWorkerName = "megforge_lite_worker";

// Absolute path of the shared object containing this code ("" if unknown).
std::string self_path();
std::string dir_of(const std::string& path);
bool is_file(const std::string& path);

// The official library: MEGFORGE_LITE_REAL_LIB, else lite_real<ext> beside us, else
// ../../megenginelite/libs/{lite_real<ext>, liblite*<ext>} from our directory. "" if none;
// *searched lists what was tried (for the error message).
std::string find_real_library(std::string* searched);

// The worker executable: MEGFORGE_LITE_WORKER, else megforge_lite_worker beside us.
std::string find_worker(std::string* searched);

// `path` made absolute against the current directory (unchanged if already absolute or empty).
std::string absolute_path(const char* path);

}  // namespace lite
}  // namespace mgf
