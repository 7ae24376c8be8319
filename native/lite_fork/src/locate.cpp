#include "locate.h"

#include <dirent.h>
#include <dlfcn.h>

#include "compat/glibc_compat.h"
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace mgf {
namespace lite {

std::string self_path() {
  Dl_info info;
  std::memset(&info, 0, sizeof info);
  if (!dladdr(reinterpret_cast<void*>(&self_path), &info) || !info.dli_fname) return std::string();
  char resolved[PATH_MAX];
  if (realpath(info.dli_fname, resolved)) return resolved;
  return info.dli_fname;
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool is_file(const std::string& path) {
  if (path.empty()) return false;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  // A directory opens read-only too, but cannot be read.
  char c;
  bool ok = read(fd, &c, 1) >= 0;
  close(fd);
  return ok;
}

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// First file in `dir` named lite*<suffix> after "lib", sorted, other than `self`.
std::string glob_liblite(const std::string& dir, const std::string& self) {
  DIR* d = opendir(dir.c_str());
  if (!d) return std::string();
  std::vector<std::string> names;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    // Python packages name shared objects .so on macOS too (liblite_shared_whl.cpython-310-darwin.so).
    bool shared = n.find(kSharedSuffix) != std::string::npos || n.find(".so") != std::string::npos;
    if (n.compare(0, 7, "liblite") == 0 && shared) names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    std::string p = dir + "/" + n;
    char resolved[PATH_MAX];
    if (realpath(p.c_str(), resolved) && self == resolved) continue;
    if (is_file(p)) return p;
  }
  return std::string();
}

}  // namespace

std::string find_real_library(std::string* searched) {
  std::string explicit_path = env("MEGFORGE_LITE_REAL_LIB");
  if (!explicit_path.empty()) {
    *searched = "MEGFORGE_LITE_REAL_LIB=" + explicit_path;
    return is_file(explicit_path) ? explicit_path : std::string();
  }
  std::string self = self_path();
  std::string here = dir_of(self);
  std::string real_name = std::string("lite_real") + kSharedSuffix;
  std::string libs = here + "/../../megenginelite/libs";
  *searched = here + "/" + real_name + ", " + libs + "/" + real_name + ", " + libs + "/liblite*" + kSharedSuffix;
  for (const std::string& p : {here + "/" + real_name, libs + "/" + real_name, here + "/lite_real.so", libs + "/lite_real.so"}) {
    if (is_file(p)) return p;
  }
  return glob_liblite(libs, self);
}

std::string find_worker(std::string* searched) {
  std::string explicit_path = env("MEGFORGE_LITE_WORKER");
  if (!explicit_path.empty()) {
    *searched = "MEGFORGE_LITE_WORKER=" + explicit_path;
    return access(explicit_path.c_str(), X_OK) == 0 ? explicit_path : std::string();
  }
  std::string p = dir_of(self_path()) + "/" + kWorkerName;
  *searched = p;
  return access(p.c_str(), X_OK) == 0 ? p : std::string();
}

std::string absolute_path(const char* path) {
  if (!path || !*path || path[0] == '/') return path ? std::string(path) : std::string();
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return path;
  return std::string(cwd) + "/" + path;
}

}  // namespace lite
}  // namespace mgf
