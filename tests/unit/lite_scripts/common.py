"""Shared by the scripts that tests/unit/test_lite.py runs in subprocesses (one process per
LITE_FORK_MODE: the library reads it once, when megenginelite loads it)."""

from __future__ import annotations

import ctypes
import os
from typing import Dict

import numpy as np


class _Stats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("calls", "forwards", "bytes_copied", "workers_started",
                                               "workers_lost", "shm_blocks_mapped", "spin_waits", "spin_caught",
                                               "spin_contended")]


def our_lib():
    """libmegforge_lite as megenginelite loaded it (LITE_LIB_PATH), or None for the official library."""
    path = os.environ.get("LITE_LIB_PATH")
    if not path:
        return None
    lib = ctypes.CDLL(path)  # the instance already loaded by megenginelite
    lib.mgf_lite_fork_worker_pid.restype = ctypes.c_int64
    lib.LITE_get_last_error.restype = ctypes.c_char_p
    return lib


def stats() -> Dict[str, int]:
    lib = our_lib()
    s = _Stats()
    if lib is not None:
        lib.mgf_lite_fork_get_stats(ctypes.byref(s), ctypes.sizeof(s))
    return {n: int(getattr(s, n)) for n, _ in _Stats._fields_}


def inputs_for(batch: int, hw: int, seed: int) -> Dict[str, np.ndarray]:
    """Inputs of models/multi_io: data (N,3,H,W) f32, bias (N,4) f32, mask (N,1,H,W) u8."""
    rng = np.random.default_rng(seed)
    return {
        "data": rng.standard_normal((batch, 3, hw, hw)).astype(np.float32),
        "bias": rng.standard_normal((batch, 4)).astype(np.float32),
        "mask": (rng.random((batch, 1, hw, hw)) > 0.3).astype(np.uint8),
    }
