"""Step 1 of a release: build megforge's py3-none-<platform> wheel for a target.

scikit-build-core drives CMake with the target's toolchain file; the wheel's platform tag
comes from ``_PYTHON_HOST_PLATFORM`` so cross builds need no target Python.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from megforge.errors import ToolchainError
from megforge.release.targets import MACOS_DEPLOYMENT_TARGET, Target


def build_wheel(target: Target, root: Path, out_dir: Path, epoch: int, build_dir: Path, quiet: bool = False) -> Path:
    """Build into ``out_dir`` (emptied first) and return the wheel's path."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    env = dict(os.environ)
    env["SOURCE_DATE_EPOCH"] = str(epoch)
    env["_PYTHON_HOST_PLATFORM"] = target.host_platform
    if target.os == "macos":
        env["MACOSX_DEPLOYMENT_TARGET"] = MACOS_DEPLOYMENT_TARGET
        env["MEGFORGE_ZIG_PYTHON"] = sys.executable  # toolchains/bin/zig-* run `python -m ziglang`
    cmd = [
        sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-cache-dir",
        "--wheel-dir", str(out_dir),
        f"--config-settings=cmake.define.CMAKE_TOOLCHAIN_FILE={target.toolchain(root)}",
        f"--config-settings=build-dir={build_dir}",
        str(root),
    ]
    if quiet:
        cmd.insert(4, "--quiet")
    result = subprocess.run(cmd, env=env, cwd=root)
    if result.returncode != 0:
        raise ToolchainError(f"building the {target.name} wheel failed (exit {result.returncode}); see the output above")
    wheels = sorted(out_dir.glob("megforge-*.whl"))
    if len(wheels) != 1:
        raise ToolchainError(f"expected one megforge wheel in {out_dir}, found {[w.name for w in wheels]}")
    return wheels[0]
