"""Toolchain files: a cross build without its emulator still builds, and running a test says
what to install instead of failing to exec a foreign binary."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT = """cmake_minimum_required(VERSION 3.21)
project(probe C)
enable_testing()
add_executable(probe probe.c)
add_test(NAME probe COMMAND probe)
"""


def _bin_without_qemu(tmp_path: Path) -> Path:
    """A PATH directory holding cmake, ninja and the cross compilers, but no qemu."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("cmake", "ctest", "ninja", "aarch64-linux-gnu-gcc", "sh"):
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} not installed")
        (bin_dir / tool).symlink_to(found)
    return bin_dir


@pytest.mark.needs_qemu  # the cross gcc; qemu itself is hidden from the build
def test_aarch64_without_qemu_names_the_package(root, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(PROJECT)
    (src / "probe.c").write_text("int main(void) { return 0; }\n")
    env = dict(os.environ, PATH=str(_bin_without_qemu(tmp_path)))
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", src, "-B", build, "-G", "Ninja",
                    f"-DCMAKE_TOOLCHAIN_FILE={root / 'toolchains' / 'linux-aarch64.cmake'}"],
                   env=env, check=True, capture_output=True)
    subprocess.run(["cmake", "--build", build], env=env, check=True, capture_output=True)
    result = subprocess.run(["ctest", "--test-dir", build, "--output-on-failure"], env=env,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "needs qemu-user (apt-get install qemu-user)" in result.stdout + result.stderr
