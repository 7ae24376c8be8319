// Building on a glibc newer than the wheel's manylinux baseline: bind the few symbols whose
// default version moved in glibc 2.34 (dlopen & co. moved into libc.so.6) to the baseline
// versions every glibc since the baseline provides. MGF_GLIBC_BASELINE is set by CMake only
// when the build host's glibc is >= 2.34 (GLIBC_2.2.5 on x86_64, GLIBC_2.17 on aarch64); the
// binary then also lists libdl.so.2, where glibc < 2.34 defines these functions.
#pragma once

#if defined(__GLIBC__) && defined(MGF_GLIBC_BASELINE)
#define MGF_SYMVER(name) __asm__(".symver " #name "," #name "@" MGF_GLIBC_BASELINE)
MGF_SYMVER(dlopen);
MGF_SYMVER(dlsym);
MGF_SYMVER(dlclose);
MGF_SYMVER(dlerror);
MGF_SYMVER(dladdr);
#undef MGF_SYMVER
#endif
