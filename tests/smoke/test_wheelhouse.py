"""The wheelhouse as a user meets it: a fresh venv, `pip install --no-index --find-links wheelhouse`,
then the installed package's smoke checks (native code included) in that venv.

Runs after `megforge release --target host --with-deps <python>` (the `wheels` tox env).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from megforge.release.smoke import EVERY_TARGET, clean_env, fresh_venv, install_from_wheelhouse, run_smoke
from megforge.release.targets import host_target
from megforge.release.verify import parse_platform
from megforge.release.wheelfile import parse_name
from megforge.release.wheelhouse import check_manifest

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = Path(os.environ.get("MEGFORGE_WHEELHOUSE", ROOT / "wheelhouse"))
HOST_ARCH = {"linux-x86_64": "x86_64", "linux-aarch64": "aarch64", "macos-arm64": "arm64"}.get(host_target() or "")


def host_wheels():
    found = []
    for wheel in sorted(WHEELHOUSE.glob("megforge-*.whl")):
        tags = parse_name(wheel.name).platform_tags
        if any(HOST_ARCH in parse_platform(t).archs for t in tags if t != "any"):
            found.append(wheel)
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    if not host_wheels():
        pytest.fail(f"no megforge wheel for {host_target()} in {WHEELHOUSE}: run `tox -e wheels` first")
    env_dir = tmp_path_factory.mktemp("smoke") / "venv"
    py = fresh_venv(env_dir)
    items = install_from_wheelhouse(py, WHEELHOUSE, ["megforge"], env_dir.parent / "report.json")
    return py, items


def test_manifest_matches_wheels():
    assert check_manifest(WHEELHOUSE) == {}


def test_installed_from_wheelhouse_only(installed):
    _py, items = installed
    names = {item["metadata"]["name"].lower() for item in items}
    assert "megforge" in names and "numpy" in names


def test_smoke_checks_pass_in_fresh_venv(installed):
    """Every megforge-only check PASSes (a SKIP is a failure), training included."""
    py, _items = installed
    result = run_smoke(py, require=["numpy"], must_pass=EVERY_TARGET)
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("deconv", "cli", "lite", "train-native"):
        assert f"PASS {check} " in result.stdout, result.stdout


def test_native_library_comes_from_the_installed_wheel(installed):
    py, _ = installed
    import subprocess

    out = subprocess.run([str(py), "-c", "import megforge._native as n; print(n.library_path('megforge_deconv'))"],
                         capture_output=True, text=True, check=True, cwd=py.parent,
                         env=clean_env())
    assert str(py.parent.parent) in out.stdout, out.stdout


def test_host_wheel_carries_the_pinned_baseline():
    """The Linux wheel is tagged with the pinned manylinux baseline, not what auditwheel guessed."""
    from megforge.release.targets import get_target

    target = get_target("host")
    tags = {t for w in host_wheels() for t in parse_name(w.name).platform_tags}
    want = target.repaired_platform or "macosx_11_0_arm64"
    assert want in tags, f"{sorted(tags)} lacks {want}"
