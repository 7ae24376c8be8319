/* Links megforge::lite (the drop-in LITE C library) and calls it. This package carries no
 * official MegEngine Lite, so in the default (pass-through) mode every LITE call must fail
 * cleanly with a message naming what is missing - not crash. */
#include <stdio.h>
#include <string.h>

#include "megforge/lite_fork.h"

int main(void) {
  int major = 0, minor = 0, patch = 0;
  const int mode = mgf_lite_fork_mode();
  const int rc = LITE_get_version(&major, &minor, &patch);
  const char* error = LITE_get_last_error();
  printf("megforge lite: mode %d, LITE_get_version -> %d (%s)\n", mode, rc, error ? error : "(null)");
  if (mode < 0) return 1; /* LITE_FORK_MODE / LITE_FORK_TIMEOUT_MS invalid */
  if (rc == 0) return 0;  /* an official library was found (MEGFORGE_LITE_REAL_LIB) */
  return error && strstr(error, "Lite") ? 0 : 1;
}
