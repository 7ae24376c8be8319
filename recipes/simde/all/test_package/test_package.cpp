// One NEON multiply-accumulate through SIMDe (native NEON on arm64).
#include <cstdio>

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/arm/neon.h>

int main() {
  float a[4] = {1, 2, 3, 4}, b[4] = {2, 2, 2, 2}, c[4] = {1, 1, 1, 1}, out[4];
  vst1q_f32(out, vmlaq_f32(vld1q_f32(c), vld1q_f32(a), vld1q_f32(b)));
  std::printf("simde %d.%d.%d: %g %g %g %g\n", SIMDE_VERSION_MAJOR, SIMDE_VERSION_MINOR, SIMDE_VERSION_MICRO,
              out[0], out[1], out[2], out[3]);
  return out[3] == 9.f ? 0 : 1;
}
