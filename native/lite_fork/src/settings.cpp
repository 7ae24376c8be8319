#include "settings.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "spin.h"

namespace mgf {
namespace lite {

bool parse_mode(const char* value, Mode* mode) {
  if (!value || !*value || std::strcmp(value, "0") == 0) {
    *mode = Mode::kPassThrough;
    return true;
  }
  if (std::strcmp(value, "1") == 0) {
    *mode = Mode::kFork;
    return true;
  }
  return false;
}

bool parse_timeout_ms(const char* value, int64_t* ms) {
  if (!value || !*value) {
    *ms = 0;
    return true;
  }
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(value, &end, 10);
  if (errno != 0 || *end != '\0' || v < 0 || v > 365LL * 24 * 3600 * 1000) return false;
  *ms = static_cast<int64_t>(v);
  return true;
}

bool parse_spin_us(const char* value, int64_t* us) {
  if (!value || !*value) {
    *us = kDefaultSpinUs;
    return true;
  }
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(value, &end, 10);
  if (errno != 0 || *end != '\0' || v < 0 || v > kMaxSpinUs || !(*value >= '0' && *value <= '9')) return false;
  *us = static_cast<int64_t>(v);
  return true;
}

namespace {

Settings read_environment() {
  Settings s;
  const char* mode = std::getenv("LITE_FORK_MODE");
  if (!parse_mode(mode, &s.mode)) {
    s.mode = Mode::kInvalid;
    s.error = std::string("LITE_FORK_MODE='") + mode + "' is invalid: use 0 (in-process) or 1 (fork mode)";
    return s;
  }
  const char* timeout = std::getenv("LITE_FORK_TIMEOUT_MS");
  if (!parse_timeout_ms(timeout, &s.timeout_ms)) {
    s.mode = Mode::kInvalid;
    s.error = std::string("LITE_FORK_TIMEOUT_MS='") + timeout +
              "' is invalid: use a whole number of milliseconds (0 = no limit)";
    return s;
  }
  const char* spin = std::getenv("LITE_FORK_SPIN_US");
  if (!parse_spin_us(spin, &s.spin_us)) {
    s.mode = Mode::kInvalid;
    s.error = std::string("LITE_FORK_SPIN_US='") + spin + "' is invalid: use a whole number of microseconds from 0 " +
              "(always block) to " + std::to_string(kMaxSpinUs);
    return s;
  }
  s.spin_effective_us = s.mode == Mode::kFork ? effective_spin_us(s.spin_us) : 0;
  return s;
}

}  // namespace

const Settings& settings() {
  static const Settings s = read_environment();
  return s;
}

namespace {
// Runs when the library is loaded, before any LITE call can be made: the environment seen
// then is the one that counts.
__attribute__((constructor)) void read_settings_at_load() { (void)settings(); }
}  // namespace

}  // namespace lite
}  // namespace mgf
