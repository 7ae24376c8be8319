"""Step 2 of a release: make a wheel distributable.

Linux: ``auditwheel repair`` (grafts any non-system library) to the pinned baseline
manylinux_2_24_<arch> (``--plat`` on the host's own architecture, where auditwheel accepts it;
checked afterwards on every target): a binary needing more fails here. macOS: ``delocate-wheel`` (copies non-system dylibs, fixes install names,
retags to the binaries' minimum macOS); on Linux hosts delocate runs against our stand-ins
for otool / install_name_tool / codesign / lipo (megforge.release.standins).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from megforge.errors import ToolchainError, VerifyError
from megforge.release import standins
from megforge.release.targets import Target
from megforge.release.wheelfile import parse_name


def repair_wheel(target: Target, wheel: Path, out_dir: Path) -> Path:
    """Repair ``wheel`` into ``out_dir`` (emptied first); return the repaired wheel."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="megforge-standins-") as tmp:
        if target.os == "linux":
            # auditwheel accepts --plat for the host's architecture only; elsewhere it picks the
            # tag itself and the check below holds it to the baseline
            plat = ["--plat", target.repaired_platform] if target.is_host else []
            cmd = [sys.executable, "-m", "auditwheel", "repair", *plat, "--wheel-dir", str(out_dir), str(wheel)]
        else:
            cmd = [sys.executable, "-m", "delocate.cmd.delocate_wheel", "--require-archs", target.arch,
                   "--wheel-dir", str(out_dir), "-v", str(wheel)]
            if sys.platform != "darwin":
                env["PATH"] = f"{standins.shim_dir(Path(tmp))}{os.pathsep}{env.get('PATH', '')}"
        result = subprocess.run(cmd, env=env)
    if result.returncode != 0:
        raise ToolchainError(f"repairing {wheel.name} failed (exit {result.returncode}); see the output above")
    wheels = sorted(out_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise ToolchainError(f"expected one repaired wheel in {out_dir}, found {[w.name for w in wheels]}")
    want = target.repaired_platform
    if want and want not in parse_name(wheels[0].name).platform_tags:
        raise VerifyError(f"{wheels[0].name}: auditwheel did not reach the {want} baseline "
                          "(a binary needs newer glibc/libstdc++ symbols; `auditwheel show` says which)")
    return wheels[0]
