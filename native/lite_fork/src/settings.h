// LITE_FORK_MODE, LITE_FORK_TIMEOUT_MS and LITE_FORK_SPIN_US, read once when the library is loaded.
#pragma once

#include <cstdint>
#include <string>

namespace mgf {
namespace lite {

enum class Mode { kInvalid = -1, kPassThrough = 0, kFork = 1 };

struct Settings {
  Mode mode = Mode::kPassThrough;
  int64_t timeout_ms = 0;  // 0: no limit
  int64_t spin_us = 0;     // LITE_FORK_SPIN_US as given (default kDefaultSpinUs), 0: always block
  int64_t spin_effective_us = 0;  // what both processes use: 0 on a single usable CPU
  std::string error;       // why mode is kInvalid
};

// Parsed from the environment by a load-time constructor; never changes afterwards.
const Settings& settings();

// Parse helpers (exposed for tests of the parser).
bool parse_mode(const char* value, Mode* mode);
bool parse_timeout_ms(const char* value, int64_t* ms);
bool parse_spin_us(const char* value, int64_t* us);  // unset / "": the default

}  // namespace lite
}  // namespace mgf
