"""The patched MegEngine as a user meets it: a fresh CPython 3.10 venv filled only from the
wheelhouse gets megengine 1.13.0+megforge.N, imports it with setuptools >= 82, cannot pair it
with numpy 2, and passes every smoke check (MegEngine fixes, training) there.

Runs after `megforge megengine-wheel` (the `wheels` tox env) on linux-x86_64.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from wheel_factory import make_wheel  # noqa: E402

from megforge.release.redistribute import smoke
from megforge.release.smoke import clean_env
from megforge.release.targets import host_target

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = Path(os.environ.get("MEGFORGE_WHEELHOUSE", ROOT / "wheelhouse"))

pytestmark = pytest.mark.skipif(host_target() != "linux-x86_64", reason="official MegEngine wheels exist only for linux-x86_64")


@pytest.fixture(scope="module")
def python310() -> str:
    exe = os.environ.get("MEGFORGE_PY310") or shutil.which("python3.10")
    if not exe:
        pytest.fail("CPython 3.10 not found (set MEGFORGE_PY310 or put python3.10 on PATH)")
    return exe


@pytest.fixture(scope="module")
def smoke_run(python310):
    if not list(WHEELHOUSE.glob("MegEngine-*+megforge.*.whl")):
        pytest.fail(f"no patched MegEngine wheel in {WHEELHOUSE}: run `megforge megengine-wheel` (tox -e wheels)")
    return smoke(ROOT, WHEELHOUSE, python310)


def test_every_smoke_check_passes(smoke_run):
    assert smoke_run.returncode == 0, smoke_run.stdout + smoke_run.stderr[-4000:]
    for check in ("deconv", "lite", "lite-fork", "megengine-install", "megengine-lite-fork-env",
                  "megengine-output-padding", "megengine-bool-mask", "megengine-nchw44-deconv", "train", "train-native"):
        assert f"PASS {check}" in smoke_run.stdout, smoke_run.stdout


def test_patched_wheel_is_what_installed(smoke_run):
    assert "megengine 1.13.0+megforge." in smoke_run.stdout
    assert "without pkg_resources" in smoke_run.stdout  # setuptools >= 82 in that venv


def test_numpy_2_is_refused_by_metadata(smoke_run, tmp_path):
    """A numpy 2 wheel on offer next to the wheelhouse: pip must refuse the combination."""
    fake = make_wheel(tmp_path, "any", {"numpy/__init__.py": b""}, name="numpy", version="2.0.0")
    env_dir = ROOT / "build" / "smoke" / "megengine"
    py = env_dir / "bin" / "python"
    result = subprocess.run(
        [str(py), "-m", "pip", "install", "--dry-run", "--no-index", "--find-links", str(WHEELHOUSE),
         "--find-links", str(fake.parent), "megengine", "numpy==2.0.0"],
        capture_output=True, text=True, env=clean_env(),
    )
    assert result.returncode != 0
    assert "numpy<2" in result.stdout + result.stderr.replace(" ", ""), result.stderr[-2000:]
