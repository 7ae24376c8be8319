// NEON intrinsics for the kernels in this folder: native <arm_neon.h> on arm64, SIMDe's
// emulation (SSE2 / AVX2+FMA, chosen by the flags CMake gives each ISA variant) elsewhere.
// Every file here is compiled once per ISA variant, inside namespace megforge::deconv::MGF_ISA,
// so two variants never share a symbol (see CMakeLists.txt and dispatch.cpp).
#pragma once

#include <cstddef>

#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define MGF_NATIVE_NEON 1
#else
#include <simde/arm/neon.h>  // SIMDE_ENABLE_NATIVE_ALIASES comes from the megforge::neon target
#define MGF_NATIVE_NEON 0
#endif

#ifndef MGF_ISA
#error "MGF_ISA (the ISA variant's namespace) must be defined by the build"
#endif

// Fully unroll a short constant-trip loop early enough that arrays of vectors become registers
// (without it GCC 12 keeps such accumulator arrays in memory).
#if defined(__clang__)
#define MGF_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define MGF_UNROLL _Pragma("GCC unroll 16")
#else
#define MGF_UNROLL
#endif

// Force inlining of the small helpers a tile is built from: GCC's size limits otherwise turn
// some of them into calls inside the larger tiles, with the tile's registers spilled around them.
#if defined(__GNUC__)
#define MGF_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define MGF_ALWAYS_INLINE inline
#endif

namespace megforge::deconv::MGF_ISA {

// Four consecutive q registers. (Plain loads: GCC pairs them into `ldp q, q`; vld1q_f32_x4
// would save two instructions but makes GCC 12 shuffle registers to make them consecutive.)
struct f32x4x4 {
  float32x4_t v[4];
};

static inline f32x4x4 load4(const float* p) {
  f32x4x4 r;
  r.v[0] = vld1q_f32(p); r.v[1] = vld1q_f32(p + 4); r.v[2] = vld1q_f32(p + 8); r.v[3] = vld1q_f32(p + 12);
  return r;
}

// The same as one `ld1 {v0.4s-v3.4s}` on arm64. GCC 12 must then find 4 consecutive registers;
// it copes when the group is used as loaded (the dense tiles of deconv_dense_pack4.cpp), but
// may add `mov`s or spills elsewhere: check the object code (objdump -d) when using it.
static inline f32x4x4 load4_x4(const float* p) {
#if MGF_NATIVE_NEON
  const float32x4x4_t t = vld1q_f32_x4(p);
  f32x4x4 r;
  r.v[0] = t.val[0]; r.v[1] = t.val[1]; r.v[2] = t.val[2]; r.v[3] = t.val[3];
  return r;
#else
  return load4(p);
#endif
}

// N consecutive vectors with the fewest loads: `ld1 {4 regs}` per 4, then 3/2/1 (arm64).
// (Same register-allocation caveat as load4_x4.)
template <int N>
static MGF_ALWAYS_INLINE void load_vectors(const float* p, float32x4_t* v) {
#if MGF_NATIVE_NEON
  int i = 0;
  MGF_UNROLL for (; i + 4 <= N; i += 4) {
    const float32x4x4_t t = vld1q_f32_x4(p + 4 * i);
    v[i] = t.val[0]; v[i + 1] = t.val[1]; v[i + 2] = t.val[2]; v[i + 3] = t.val[3];
  }
  if constexpr (N % 4 == 3) {
    const float32x4x3_t t = vld1q_f32_x3(p + 4 * (N - 3));
    v[N - 3] = t.val[0]; v[N - 2] = t.val[1]; v[N - 1] = t.val[2];
  } else if constexpr (N % 4 == 2) {
    const float32x4x2_t t = vld1q_f32_x2(p + 4 * (N - 2));
    v[N - 2] = t.val[0]; v[N - 1] = t.val[1];
  } else if constexpr (N % 4 == 1) {
    v[N - 1] = vld1q_f32(p + 4 * (N - 1));
  }
#else
  MGF_UNROLL for (int i = 0; i < N; ++i) v[i] = vld1q_f32(p + 4 * i);
#endif
}

// p + n (floats), hidden from GCC's address folding: an empty asm statement (no instruction)
// that makes the result opaque. Loads from successive `p = advance(p, 16)` then become
// post-indexed `ld1 {..}, [x], #64` instead of an `add` per load, and loads from one advanced
// base keep immediate offsets (so they pair into `ldp`) instead of one address register each.
template <class T>
static MGF_ALWAYS_INLINE T* advance(T* p, ptrdiff_t n) {
  p += n;
#if defined(__GNUC__)
  __asm__("" : "+r"(p));
#endif
  return p;
}

// acc + w * x[lane]: `fmla v.4s, w.4s, x.s[lane]` on arm64.
template <int lane>
static inline float32x4_t fma_lane(float32x4_t acc, float32x4_t w, float32x4_t x) {
  return vfmaq_laneq_f32(acc, w, x, lane);
}

}  // namespace megforge::deconv::MGF_ISA
