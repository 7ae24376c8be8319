"""The MegEngine redistribution's inputs and re-packing: pins, the hash check of a fetched
wheel, metadata/tags/RECORD of a re-packed wheel (on a small stand-in for the official one)."""

from __future__ import annotations

import hashlib
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from megforge.errors import VerifyError
from megforge.release import megengine
from megforge.release.megengine import Pin, fetch, load_pins, open_original, set_metadata
from megforge.release.verify import verify_wheel
from megforge.release.wheelfile import record_hash, write_wheel

ROOT = Path(__file__).resolve().parents[2]
FILENAME = "MegEngine-1.13.0-cp310-cp310-manylinux2014_x86_64.whl"
INIT = "__version__ = '1.13.0'\n"


def fake_pin(sha256: str) -> Pin:
    return Pin("MegEngine", "1.13.0", "3.10", "linux-x86_64", FILENAME, sha256, "https://pypi.org/simple/megengine/")


def test_every_pin_names_file_index_and_sha256():
    pins = load_pins(ROOT)
    assert {(p.python, p.target) for p in pins} >= {("3.10", "linux-x86_64")}
    for pin in pins:
        assert pin.filename.startswith(f"MegEngine-{pin.version}-cp{pin.python.replace('.', '')}-")
        assert re.fullmatch(r"[0-9a-f]{64}", pin.sha256), pin
        assert pin.index == "https://pypi.org/simple/megengine/"


def test_fetch_refuses_a_wheel_whose_sha256_differs(tmp_path, monkeypatch):
    cached = tmp_path / FILENAME
    cached.write_bytes(b"not the official wheel")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("a cached file must not be downloaded again"))
    pinned = "0" * 64
    with pytest.raises(VerifyError) as info:
        fetch(fake_pin(pinned), tmp_path)
    message = str(info.value)
    assert hashlib.sha256(b"not the official wheel").hexdigest() in message and pinned in message
    assert "refusing to use it" in message
    assert cached.read_bytes() == b"not the official wheel"  # left for the user to inspect


def test_fetch_takes_a_cached_wheel_with_the_pinned_hash(tmp_path, monkeypatch):
    (tmp_path / FILENAME).write_bytes(b"wheel bytes")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("a cached file must not be downloaded again"))
    assert fetch(fake_pin(hashlib.sha256(b"wheel bytes").hexdigest()), tmp_path) == tmp_path / FILENAME


def _official_stand_in(path: Path, init_hash: str) -> Path:
    """A wheel shaped like the official one; RECORD gives megengine/__init__.py ``init_hash``
    (re-packing reuses the official RECORD's hashes for members it copies unchanged)."""
    dist = "MegEngine-1.13.0.dist-info"
    with zipfile.ZipFile(path / FILENAME, "w") as zf:
        zf.writestr("megengine/__init__.py", INIT)
        zf.writestr(f"{dist}/METADATA", "Metadata-Version: 2.1\nName: MegEngine\nVersion: 1.13.0\n")
        zf.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp310-cp310-manylinux2014_x86_64\n")
        zf.writestr(f"{dist}/RECORD", f"megengine/__init__.py,{init_hash},{len(INIT)}\n")
    return path / FILENAME


def _repack(tmp_path: Path, record: str) -> Path:
    original = _official_stand_in(tmp_path, record)
    dist = "MegEngine-1.13.0.dist-info"
    members = open_original(original, [f"{dist}/METADATA", f"{dist}/WHEEL"], tmp_path / "tree")
    for name in (f"{dist}/METADATA", f"{dist}/WHEEL"):
        members[name] = ((tmp_path / "tree" / name).read_bytes(), 0o644)
    new_dist, filename = set_metadata(members, fake_pin("0" * 64), "1.13.0+megforge.1", "2_24")
    assert filename == "MegEngine-1.13.0+megforge.1-cp310-cp310-manylinux_2_24_x86_64.whl"
    out = tmp_path / filename
    write_wheel(out, members, new_dist, 1_700_000_000)
    return out


def test_repacked_wheel_has_new_version_tags_and_a_valid_record(tmp_path):
    out = _repack(tmp_path, record_hash(INIT.encode()))
    new_dist, dist = "MegEngine-1.13.0+megforge.1.dist-info", "MegEngine-1.13.0.dist-info"
    with zipfile.ZipFile(out) as zf:
        assert "Version: 1.13.0+megforge.1" in zf.read(f"{new_dist}/METADATA").decode()
        assert "Tag: cp310-cp310-manylinux_2_24_x86_64" in zf.read(f"{new_dist}/WHEEL").decode()
        assert not any(n.startswith(f"{dist}/") for n in zf.namelist())
    report = verify_wheel(out)
    assert report.ok, report.problems  # RECORD regenerated: every hash matches


def test_a_wrong_hash_in_the_official_record_is_caught_by_verify(tmp_path):
    problems = verify_wheel(_repack(tmp_path, "sha256=stale")).problems
    assert any("RECORD hash mismatch for megengine/__init__.py" in p for p in problems), problems


def test_a_patch_that_does_not_apply_stops_the_build(tmp_path):
    patches = tmp_path / "patches"
    patches.mkdir()
    (patches / "series").write_text("0001-bad.patch\n")
    (patches / "0001-bad.patch").write_text(
        "--- a/megengine/__init__.py\n+++ b/megengine/__init__.py\n@@ -1 +1 @@\n-something else\n+x = 1\n")
    tree = tmp_path / "tree" / "megengine"
    tree.mkdir(parents=True)
    (tree / "__init__.py").write_text("__version__ = '1.13.0'\n")
    with pytest.raises(VerifyError, match="patch 0001-bad.patch does not apply cleanly"):
        megengine.apply_series(tmp_path / "tree", patches)
