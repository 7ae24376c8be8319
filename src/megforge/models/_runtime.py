"""CPU runtime settings for MegEngine inference, applied before the first MegEngine operator.

MegEngine 1.13's x86 wheel links Intel MKL statically and runs float32 matrix products
through it. That MKL picks its fast AVX2 kernels only on Intel CPUs; on other x86 CPUs
(AMD EPYC here) it falls back to a generic path about 2.5x slower. MKL reads
``MKL_DEBUG_CPU_TYPE`` lazily, at its first call, and ``5`` selects the AVX2 path. We set it
only when the CPU reports AVX2 and FMA (so the kernels can run), the vendor is not Intel,
and the user has not set it. Results are unchanged: it only chooses which kernels run.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _cpu_info() -> tuple[str, set[str]]:
    """(vendor id, flags) of the first CPU in /proc/cpuinfo; empty outside Linux."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return "", set()
    vendor, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "vendor_id" and not vendor:
            vendor = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
        if vendor and flags:
            break
    return vendor, flags


def prefer_avx2_mkl() -> bool:
    """Set ``MKL_DEBUG_CPU_TYPE=5`` on non-Intel AVX2+FMA x86 CPUs; return True if it is in effect."""
    if "MKL_DEBUG_CPU_TYPE" in os.environ:
        return os.environ["MKL_DEBUG_CPU_TYPE"] == "5"
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    vendor, flags = _cpu_info()
    if vendor == "GenuineIntel" or not {"avx2", "fma"} <= flags:
        return False
    os.environ["MKL_DEBUG_CPU_TYPE"] = "5"
    return True


def default_device() -> str | None:
    """MegEngine device for inference when the caller names none.

    With a GPU: None (MegEngine's default, the GPU). On CPU: ``multithread<N>:0`` with N the
    usable cores, so that convolutions (our projections are 1x1 convolutions) and elementwise
    kernels use every core; ``cpux`` (one thread) on a single core.
    """
    import megengine as mge

    if mge.is_cuda_available():
        return None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return f"multithread{cores}:0" if cores > 1 else "cpux"
