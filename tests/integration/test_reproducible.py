"""Building the same commit twice gives byte-identical wheels (SOURCE_DATE_EPOCH, sorted entries)."""

from __future__ import annotations

import zipfile

import pytest

from megforge.release.pipeline import release
from megforge.release.targets import get_target
from megforge.release.wheelfile import source_date_epoch


@pytest.mark.parametrize("target", [
    "linux-x86_64",
    pytest.param("macos-arm64", marks=pytest.mark.needs_zig),
])
def test_two_builds_are_identical(target, root, tmp_path):
    first = release(get_target(target), root, tmp_path / "house-a", work=tmp_path / "work-a", quiet=True)
    second = release(get_target(target), root, tmp_path / "house-b", work=tmp_path / "work-b", quiet=True)
    assert first.wheel.name == second.wheel.name
    assert first.wheel.read_bytes() == second.wheel.read_bytes(), f"{target}: wheels differ"
    epoch = source_date_epoch(root)
    with zipfile.ZipFile(first.wheel) as zf:
        names = zf.namelist()
        stamps = {info.date_time for info in zf.infolist()}
    assert names[-1].endswith(".dist-info/RECORD")
    import time

    expected = time.gmtime(max(epoch, 315532800))[:6]
    expected = expected[:5] + (expected[5] - expected[5] % 2,)  # zip (DOS) times have 2 s resolution
    assert stamps == {expected}
