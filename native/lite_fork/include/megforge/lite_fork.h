/*
 * megforge/lite_fork.h - megforge's additions to its drop-in Lite library (libmegforge_lite).
 *
 * Modes, decided once when the library is loaded (no API call changes them):
 *   LITE_FORK_MODE unset, "" or "0"  in-process: every LITE_* call is forwarded to the official
 *                                     Lite library, dlopen'ed on first use (never linked).
 *   LITE_FORK_MODE=1                  fork mode: models run in a worker process
 *                                     (megforge_lite_worker, found beside this library).
 *   anything else                     every LITE_* call fails, naming the bad value.
 *
 * Environment read at load:
 *   LITE_FORK_TIMEOUT_MS    fork mode: a worker that does not answer a call within this many
 *                           milliseconds is killed and the call fails ("timeout"). Unset or 0:
 *                           no limit (a crash is still detected at once; starting a worker is
 *                           limited to 2 minutes).
 *   LITE_FORK_SPIN_US       fork mode: each process may poll up to this many microseconds for the
 *                           answer / next request before blocking (adaptive, see
 *                           docs/lite_fork.md). Unset: 50. 0: always block. At most 10000. Off
 *                           when the process may use a single CPU only.
 * Environment read when a worker starts / when the real library is first needed:
 *   MEGFORGE_LITE_REAL_LIB  path of the official library. Otherwise, in this order: lite_real.so
 *                           (.dylib) beside libmegforge_lite; ../../megenginelite/libs/lite_real.so
 *                           and ../../megenginelite/libs/liblite*.so relative to it (a megforge
 *                           wheel installed next to MegEngine's in one site-packages).
 *   MEGFORGE_LITE_WORKER    path of the worker executable (default: beside libmegforge_lite).
 *   MEGFORGE_LITE_WORKER_WRAPPER  command prefix for the worker, split on spaces (e.g. an
 *                           emulator "qemu-aarch64 -L /usr/aarch64-linux-gnu", or valgrind).
 *   MEGFORGE_LITE_FORK_TEST_HOOK  fault injection for tests, read by the worker:
 *                           "<call>=<action>[@N]" with call in {forward, load} and action in
 *                           {sigkill, sigsegv, hang, delay:<ms>}; fires on the N-th call (default 1).
 */
#ifndef MEGFORGE_LITE_FORK_H
#define MEGFORGE_LITE_FORK_H

#include <stddef.h>
#include <stdint.h>

#include "megforge/lite_c.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MGF_LITE_FORK_VERSION_MAJOR 0
#define MGF_LITE_FORK_VERSION_MINOR 2
#define MGF_LITE_FORK_VERSION_PATCH 0

/* 0 in-process pass-through, 1 fork mode, -1 LITE_FORK_MODE (or LITE_FORK_TIMEOUT_MS) is invalid. */
MGF_LITE_API int mgf_lite_fork_mode(void);

/* Counters since load (fork mode; all zero in-process). Tensor data copied by the fork layer
 * itself is counted in bytes_copied: caller memory given to LITE_reset_tensor_memory (copied
 * into / out of shared memory around the calls that read / write it), outputs whose shape
 * changed (copied once into shared memory), concat results. Zero-copy paths add nothing. */
typedef struct mgf_lite_fork_stats {
  uint64_t calls;            /* round trips to a worker */
  uint64_t forwards;         /* successful LITE_forward calls */
  uint64_t bytes_copied;     /* tensor data copied by the fork layer, both processes */
  uint64_t workers_started;
  uint64_t workers_lost;     /* crashed, killed after a timeout, or unreachable */
  uint64_t shm_blocks_mapped; /* shared-memory blocks currently mapped in this process */
  /* Since 0.2 (LITE_FORK_SPIN_US): */
  uint64_t spin_waits;       /* answers this process polled for before blocking */
  uint64_t spin_caught;      /* ... of which arrived while it polled (no sleep, no wake-up) */
  uint64_t spin_contended;   /* waits that did not poll (crowded machine) or stopped polling
                                because other tasks needed the CPU */
} mgf_lite_fork_stats;

/* Fill *stats; size = sizeof(mgf_lite_fork_stats), or the size of the 0.1 struct (its first six
 * fields, 48 bytes). Returns 0, or -1 for a NULL / wrong size. */
MGF_LITE_API int mgf_lite_fork_get_stats(mgf_lite_fork_stats* stats, size_t size);

/* The spin window in force, in microseconds (LITE_FORK_SPIN_US, default 50; 0 when it is 0, on a
 * single usable CPU, in-process or with invalid settings): how long either process may poll for
 * the next message before it blocks. */
MGF_LITE_API int64_t mgf_lite_fork_spin_us(void);

/* Process id of the running worker, 0 if none. */
MGF_LITE_API int64_t mgf_lite_fork_worker_pid(void);

/* Stop the running worker (if any) and wait for it: every network and tensor it served fails
 * afterwards (destroying them still succeeds); the next call that needs a worker starts one. */
MGF_LITE_API int mgf_lite_fork_shutdown(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MEGFORGE_LITE_FORK_H */
