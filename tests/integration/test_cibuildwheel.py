"""The cibuildwheel configuration builds one py3-none wheel per native runner."""

from __future__ import annotations

import shutil
import subprocess

import pytest


@pytest.mark.parametrize("platform,archs,expected", [
    ("linux", "x86_64", ["cp311-manylinux_x86_64"]),
    ("linux", "aarch64", ["cp311-manylinux_aarch64"]),
    ("macos", "arm64", ["cp311-macosx_arm64"]),
])
def test_build_identifiers(root, platform, archs, expected):
    exe = shutil.which("cibuildwheel")
    if exe is None:
        pytest.fail("cibuildwheel not installed (requirements/release.txt)")
    out = subprocess.run([exe, "--print-build-identifiers", "--platform", platform, "--archs", archs, str(root)],
                         capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.split() == expected
