"""Locate and load megforge's native shared libraries with ctypes.

Libraries live in ``megforge/_lib/`` inside the wheel. ``MEGFORGE_LIB_DIR`` overrides the
directory (tests against a CMake build tree; several directories separated by ``os.pathsep``).
``ctypes.CDLL`` releases the GIL for the duration of every foreign call, so native compute never
blocks other Python threads.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from pathlib import Path

from megforge.errors import NativeLibraryError

_SUFFIX = ".dylib" if sys.platform == "darwin" else ".so"


def lib_dirs() -> list[Path]:
    """Directories searched for native libraries, in order."""
    dirs = []
    override = os.environ.get("MEGFORGE_LIB_DIR")
    if override:
        dirs.extend(Path(d) for d in override.split(os.pathsep) if d)
    dirs.append(Path(__file__).resolve().parent / "_lib")
    return dirs


def library_path(name: str) -> Path:
    """Path of ``lib<name>.so`` / ``.dylib``; raises NativeLibraryError naming where it looked."""
    filename = f"lib{name}{_SUFFIX}"
    searched = []
    for directory in lib_dirs():
        candidate = directory / filename
        if candidate.is_file():
            return candidate
        searched.append(str(directory))
    raise NativeLibraryError(
        f"{filename} not found in {', '.join(searched)}; install a megforge wheel for this platform "
        "or set MEGFORGE_LIB_DIR to a build directory containing it"
    )


@functools.lru_cache(maxsize=None)
def load(name: str) -> ctypes.CDLL:
    """Load ``lib<name>`` once per process."""
    path = library_path(name)
    try:
        return ctypes.CDLL(str(path))
    except OSError as exc:
        raise NativeLibraryError(f"cannot load {path}: {exc}") from exc
