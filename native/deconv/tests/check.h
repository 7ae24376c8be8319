// CHECK(cond, printf-style message): on failure prints file:line and the message and counts it in
// check_failures(); a test's main returns check_report().
#pragma once

#include <cstdio>

inline int& check_failures() {
  static int failures = 0;
  return failures;
}

#define CHECK(cond, ...)                                          \
  do {                                                            \
    if (!(cond)) {                                                \
      std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);   \
      std::fprintf(stderr, __VA_ARGS__);                          \
      std::fprintf(stderr, "\n");                                 \
      ++check_failures();                                         \
    }                                                             \
  } while (0)

// 0 if nothing failed, else 1 after printing the count.
inline int check_report() {
  if (check_failures() == 0) return 0;
  std::fprintf(stderr, "%d failure(s)\n", check_failures());
  return 1;
}
