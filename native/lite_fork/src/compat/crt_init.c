/* Constructors of the worker executable, for start_<arch>.S (used instead of glibc's Scrt1.o
 * on glibc >= 2.34 build hosts). Passing this as __libc_start_main's `init` makes every glibc
 * run them the same way: glibc < 2.34 only runs what `init` runs, newer ones call `init` instead
 * of walking DT_INIT / DT_INIT_ARRAY themselves. */
#include <stddef.h>

typedef void (*init_fn)(int, char**, char**);
extern init_fn __init_array_start[] __attribute__((visibility("hidden")));
extern init_fn __init_array_end[] __attribute__((visibility("hidden")));
extern void _init(void);

__attribute__((visibility("hidden"))) void mgf_crt_init(int argc, char** argv, char** envp) {
  _init();
  size_t n = (size_t)(__init_array_end - __init_array_start);
  for (size_t i = 0; i < n; ++i) __init_array_start[i](argc, argv, envp);
}
