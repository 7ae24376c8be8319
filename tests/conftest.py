"""Shared pytest configuration.

Optional requirements are declared with markers; a test whose requirement is
missing is skipped, unless the requirement is listed in ``MEGFORGE_REQUIRE``
(comma separated, set by tox), in which case it fails: CI never skips silently.

Markers:
  needs_megengine   MegEngine 1.13 importable (CPython <= 3.10)
  needs_torch       PyTorch importable (reference env)
  needs_fixtures    parity fixtures made by ``tox -e refs`` exist
  needs_qemu        qemu-aarch64 + the aarch64 cross toolchain
  needs_zig         ziglang importable (macOS cross builds)
  slow              long-running; deselect with -m "not slow"
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("MEGFORGE_FIXTURES", ROOT / "build" / "fixtures"))


def _have_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


REQUIREMENTS = {
    "needs_megengine": ("megengine", lambda: _have_module("megengine")),
    "needs_torch": ("torch", lambda: _have_module("torch")),
    "needs_fixtures": ("fixtures", lambda: FIXTURES.is_dir() and any(FIXTURES.iterdir())),
    "needs_qemu": ("qemu", lambda: bool(shutil.which("qemu-aarch64") and shutil.which("aarch64-linux-gnu-g++"))),
    "needs_zig": ("zig", lambda: _have_module("ziglang")),
}


def _required() -> set[str]:
    return {r.strip() for r in os.environ.get("MEGFORGE_REQUIRE", "").split(",") if r.strip()}


def pytest_configure(config: pytest.Config) -> None:
    for marker in list(REQUIREMENTS) + ["slow"]:
        config.addinivalue_line("markers", f"{marker}: see tests/conftest.py")


_probed: dict[str, bool] = {}


def pytest_runtest_setup(item: pytest.Item) -> None:
    required = _required()
    for marker, (name, probe) in REQUIREMENTS.items():
        if item.get_closest_marker(marker) is None:
            continue
        if marker not in _probed:
            _probed[marker] = probe()
        if _probed[marker]:
            continue
        if name in required:
            pytest.fail(f"{name} is required here (MEGFORGE_REQUIRE) but not available")
        pytest.skip(f"{name} not available")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Directory of parity fixtures written by the ``refs`` tox env."""
    return FIXTURES
