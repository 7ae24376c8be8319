/* What lets libmegforge_mge_op.so, built with the host toolchain (gcc 12, glibc 2.36), load on
 * the manylinux2014 baseline of the MegEngine wheel it ships in (glibc 2.17, GLIBCXX 3.4.19,
 * CXXABI 1.3.7), the way devtoolset's libstdc++_nonshared.a does for CentOS 7 builds.
 *
 * All definitions are hidden: they satisfy references inside this library and nothing else.
 *
 * - The deconv code runs on a private static libstdc++ (cmake/private_deconv.cmake); its
 *   references to glibc functions whose default symbol version is newer than 2.17 are renamed
 *   to the mgf_compat_* functions below, which call the versions glibc 2.17 has.
 * - gcc 12's libstdc++ headers read glibc 2.32's __libc_single_threaded to skip atomic
 *   reference counting; ours always says "maybe multi-threaded", so counts stay atomic.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

#define MGF_HIDDEN __attribute__((visibility("hidden")))

MGF_HIDDEN char __libc_single_threaded = 0;

/* pthread_* got new default versions (GLIBC_2.34) when libpthread moved into libc; bind the
 * original x86-64 ones (found in libpthread.so.0 on older glibc, in libc.so.6 since 2.34). */
extern int mgf_glibc_pthread_create(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
extern int mgf_glibc_pthread_join(pthread_t, void**);
extern int mgf_glibc_pthread_detach(pthread_t);
__asm__(".symver mgf_glibc_pthread_create, pthread_create@GLIBC_2.2.5");
__asm__(".symver mgf_glibc_pthread_join, pthread_join@GLIBC_2.2.5");
__asm__(".symver mgf_glibc_pthread_detach, pthread_detach@GLIBC_2.2.5");

MGF_HIDDEN int mgf_compat_pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
                                         void* arg) {
  return mgf_glibc_pthread_create(thread, attr, start, arg);
}
MGF_HIDDEN int mgf_compat_pthread_join(pthread_t thread, void** result) { return mgf_glibc_pthread_join(thread, result); }
MGF_HIDDEN int mgf_compat_pthread_detach(pthread_t thread) { return mgf_glibc_pthread_detach(thread); }

/* std::random_device's entropy sources (glibc 2.25 / 2.36). libstdc++'s random.o enters the
 * private copy only through object-file granularity (its COW-string instantiations); the deconv
 * code never makes a random_device, so these are unreachable. */
MGF_HIDDEN int mgf_compat_getentropy(void* buffer, size_t length) {
  (void)buffer;
  (void)length;
  errno = ENOSYS;
  return -1;
}
MGF_HIDDEN unsigned int mgf_compat_arc4random(void) { abort(); }
