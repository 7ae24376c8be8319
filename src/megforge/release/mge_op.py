"""The MegEngine custom-op library (native/mge_op/) for the redistributed MegEngine wheel.

It is compiled by the host toolchain against the pinned official wheel itself: the wheel's
custom-op headers (``megengine/core/include/**``) and its ``libmegengine_shared.so`` are
extracted once into ``<work>/mge_root`` and the op links against that library. No MegEngine
C++ is built. The result, ``libmegforge_mge_op.so``, goes to ``megengine/core/lib/`` of the
patched wheel (``patches/manifest.toml``), where its RUNPATH ``$ORIGIN`` finds
``libmegengine_shared.so``.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from megforge.errors import ToolchainError, VerifyError

LIBRARY = "libmegforge_mge_op.so"


def default_build_dir(root: Path) -> Path:
    """One CMake tree for every build of the op (pipeline and tests): the library only depends
    on the pinned wheel's headers and libmegengine_shared.so, so a build against another copy of
    them recompiles the four op sources, not megforge's deconvolution."""
    return root / "build" / "mge_op"
_SDK_MEMBERS = ("megengine/core/include/", "megengine/core/lib/libmegengine_shared.so")


def extract_sdk(wheel: Path, dest: Path) -> Path:
    """Headers and libmegengine_shared.so of the official ``wheel`` under ``dest`` (reused
    while the wheel's size and time stamp are unchanged); returns ``dest``, a MEGFORGE_MGE_ROOT."""
    stat = wheel.stat()
    stamp = dest / ".extracted-from.json"
    identity = {"wheel": wheel.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if stamp.is_file() and json.loads(stamp.read_text()) == identity:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.startswith(_SDK_MEMBERS) and not n.endswith("/")]
        if not any(n.endswith("megbrain/custom/custom.h") for n in names) or _SDK_MEMBERS[1] not in names:
            raise VerifyError(f"{wheel.name} lacks MegEngine's custom-op headers or libmegengine_shared.so")
        for name in names:
            if name.startswith("/") or ".." in name.split("/"):
                raise VerifyError(f"{wheel.name}: unsafe archive path {name!r}")
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(name) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
    stamp.write_text(json.dumps(identity))
    return dest


def build_op_library(root: Path, mge_root: Path, build_dir: Path) -> Path:
    """Configure and build ``megforge_mge_op`` (static deconv inside) against ``mge_root`` (a
    directory holding ``megengine/core/{include,lib}``); returns the built library."""
    if not (sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")):
        raise ToolchainError(f"the MegEngine op library builds on linux-x86_64 only (host: {sys.platform} "
                             f"{platform.machine()}); MegEngine exists nowhere else")
    cmake = shutil.which("cmake")
    if cmake is None:
        raise ToolchainError("building the MegEngine op library needs cmake (pip install cmake)")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    configure = [cmake, "-S", str(root / "native"), "-B", str(build_dir), *generator,
                 "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DMEGFORGE_BUILD_TESTS=OFF",
                 f"-DCMAKE_TOOLCHAIN_FILE={root / 'toolchains' / 'linux-x86_64.cmake'}",
                 f"-DMEGFORGE_MGE_ROOT={mge_root}",
                 f"-DPython_EXECUTABLE={sys.executable}"]  # SIMDe from this interpreter's simde-py
    for cmd in (configure, [cmake, "--build", str(build_dir), "--target", "megforge_mge_op"]):
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise ToolchainError(f"building the MegEngine op library failed: {' '.join(cmd)}\n"
                                 f"{result.stdout[-4000:]}{result.stderr[-4000:]}")
    library = build_dir / "mge_op" / LIBRARY
    if not library.is_file():
        raise ToolchainError(f"the build finished without {library}")
    return library
