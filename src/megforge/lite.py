"""The drop-in MegEngine Lite C library with fork mode (``libmegforge_lite``).

``libmegforge_lite`` exports every ``LITE_*`` function of the official Lite library (MegEngine
1.13) with the same C signatures. Which way it serves them is decided once, when the library is
loaded, by ``LITE_FORK_MODE``:

* unset or ``0``: in-process; every call goes straight to the official library, ``dlopen``'ed
  on first use (never linked).
* ``1``: fork mode; models run in a worker process (``megforge_lite_worker``, beside the
  library). Tensor data lives in shared memory mapped by both processes, so
  ``LITE_get_tensor_memory`` points at the very pages the worker computes in: a forward copies no
  tensor data. A worker crash or hang (``LITE_FORK_TIMEOUT_MS``) fails the call in progress with
  the cause in ``LITE_get_last_error()``; the next ``LITE_make_network`` starts a new worker.
  Each process first polls for the answer / next request for up to ``LITE_FORK_SPIN_US``
  microseconds (default 50, adaptive; 0 always blocks; off on a single CPU) before it blocks.

Any megenginelite program runs in fork mode unchanged::

    LITE_LIB_PATH=$(python -c 'import megforge.lite as l; print(l.library_path())') \\
    LITE_FORK_MODE=1 python app.py

The official library is found through ``MEGFORGE_LITE_REAL_LIB`` or, failing that, beside ours
(``lite_real.so``) or in ``megenginelite/libs`` of the same site-packages (a megforge wheel next
to MegEngine's). :func:`real_library_path` finds it in an installed megenginelite without
importing it; :func:`environment` returns all the variables above for a subprocess.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

from megforge import _native
from megforge.errors import InvalidArgumentError, NativeLibraryError

__all__ = [
    "ForkStats",
    "environment",
    "library_path",
    "real_library_path",
    "shutdown",
    "stats",
    "worker_path",
    "worker_pid",
]

LIBRARY = "megforge_lite"
WORKER = "megforge_lite_worker"
_SUFFIX = ".dylib" if sys.platform == "darwin" else ".so"
_MARKER = b"mgf_lite_fork_mode"  # exported by our library only


def library_path() -> Path:
    """Absolute path of ``libmegforge_lite`` (give it to megenginelite as ``LITE_LIB_PATH``)."""
    return _native.library_path(LIBRARY).resolve()


def worker_path() -> Path:
    """Absolute path of the worker executable the library starts in fork mode."""
    path = library_path().parent / WORKER
    if not os.access(path, os.X_OK):
        raise NativeLibraryError(f"{path} is missing or not executable; reinstall megforge")
    return path


def _is_ours(path: Path) -> bool:
    try:
        return _MARKER in path.read_bytes()
    except OSError:
        return False


def real_library_path() -> Path:
    """The official Lite library: ``MEGFORGE_LITE_REAL_LIB``, else the one of the installed
    megenginelite package (``megenginelite/libs/lite_real*`` or ``liblite*``), located without
    importing megenginelite. Raises NativeLibraryError naming where it looked."""
    explicit = os.environ.get("MEGFORGE_LITE_REAL_LIB")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise NativeLibraryError(f"MEGFORGE_LITE_REAL_LIB={explicit} is not a file")
        return path.resolve()
    spec = importlib.util.find_spec("megenginelite")
    if spec is None or not spec.origin:
        raise NativeLibraryError("megenginelite is not installed; install MegEngine 1.13 or set MEGFORGE_LITE_REAL_LIB")
    libs = Path(spec.origin).parent / "libs"
    # Python packages name shared objects .so on macOS too.
    suffixes = sorted({_SUFFIX, ".so"})
    candidates = [p for prefix in ("lite_real", "liblite") for sfx in suffixes for p in sorted(libs.glob(f"{prefix}*{sfx}*"))]
    for candidate in candidates:
        if candidate.is_file() and not _is_ours(candidate):
            return candidate.resolve()
    raise NativeLibraryError(f"no official Lite library in {libs} (looked for lite_real*{_SUFFIX}, liblite*{_SUFFIX})")


MAX_SPIN_US = 10000


def environment(fork: bool = True, timeout_ms: Optional[int] = None, spin_us: Optional[int] = None) -> Dict[str, str]:
    """Environment variables that make a megenginelite program use our library.

    fork: ``LITE_FORK_MODE`` 1 (worker process) or 0 (in-process pass-through).
    timeout_ms: ``LITE_FORK_TIMEOUT_MS``, milliseconds a worker may take per call (None: no limit).
    spin_us: ``LITE_FORK_SPIN_US``, microseconds each process may poll for the next message before
    blocking, 0 to ``MAX_SPIN_US`` (None: the library's default, 50; 0: always block).
    Merge the result into ``os.environ`` of a subprocess; the library reads it when loaded.
    """
    if timeout_ms is not None and (isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms < 0):
        raise InvalidArgumentError(f"timeout_ms must be a whole number of milliseconds >= 0, got {timeout_ms!r}")
    if spin_us is not None and (isinstance(spin_us, bool) or not isinstance(spin_us, int) or not 0 <= spin_us <= MAX_SPIN_US):
        raise InvalidArgumentError(f"spin_us must be a whole number of microseconds from 0 to {MAX_SPIN_US}, got {spin_us!r}")
    env = {
        "LITE_LIB_PATH": str(library_path()),
        "LITE_FORK_MODE": "1" if fork else "0",
        "MEGFORGE_LITE_REAL_LIB": str(real_library_path()),
    }
    if timeout_ms is not None:
        env["LITE_FORK_TIMEOUT_MS"] = str(timeout_ms)
    if spin_us is not None:
        env["LITE_FORK_SPIN_US"] = str(spin_us)
    return env


class _Stats(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64)
        for name in ("calls", "forwards", "bytes_copied", "workers_started", "workers_lost", "shm_blocks_mapped",
                     "spin_waits", "spin_caught", "spin_contended")
    ]


@dataclass(frozen=True)
class ForkStats:
    """Counters of the library loaded in this process since it was loaded (zero in-process).

    bytes_copied: bytes of tensor data the fork layer copied (caller memory bound with
    LITE_reset_tensor_memory, outputs whose shape changed); zero-copy forwards add nothing.
    spin_waits / spin_caught: answers this process polled for before blocking, and how many of
    them arrived while it polled; spin_contended: waits that did not poll (crowded machine) or
    stopped polling because other tasks needed the CPU. spin_us: the window in force (``LITE_FORK_SPIN_US``; 0 when
    it is 0, in-process, or on a single CPU).
    """

    mode: int  # 0 in-process, 1 fork mode, -1 invalid LITE_FORK_MODE / LITE_FORK_TIMEOUT_MS / LITE_FORK_SPIN_US
    calls: int
    forwards: int
    bytes_copied: int
    workers_started: int
    workers_lost: int
    shm_blocks_mapped: int
    spin_waits: int
    spin_caught: int
    spin_contended: int
    spin_us: int


def _lib() -> ctypes.CDLL:
    # The same file megenginelite loads (LITE_LIB_PATH): dlopen returns the loaded instance.
    lib = _native.load(LIBRARY)
    lib.mgf_lite_fork_worker_pid.restype = ctypes.c_int64
    lib.mgf_lite_fork_spin_us.restype = ctypes.c_int64
    return lib


def stats() -> ForkStats:
    """Counters of ``libmegforge_lite`` as loaded in this process."""
    lib = _lib()
    raw = _Stats()
    if lib.mgf_lite_fork_get_stats(ctypes.byref(raw), ctypes.sizeof(raw)) != 0:
        raise NativeLibraryError("mgf_lite_fork_get_stats failed: library and bindings disagree")
    return ForkStats(lib.mgf_lite_fork_mode(), *(getattr(raw, n) for n, _ in _Stats._fields_),
                     spin_us=int(lib.mgf_lite_fork_spin_us()))


def worker_pid() -> int:
    """Process id of the running worker, 0 if none."""
    return int(_lib().mgf_lite_fork_worker_pid())


def shutdown() -> None:
    """Stop the worker; its networks and tensors fail afterwards, the next call starts a new one."""
    _lib().mgf_lite_fork_shutdown()
