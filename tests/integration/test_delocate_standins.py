"""delocate on a Linux host, through our stand-ins: a non-system dylib is grafted into the wheel,
install names are rewritten, signatures stay valid and the result verifies."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from wheel_factory import make_wheel, zig_dylib  # noqa: E402

from megforge.release import macho
from megforge.release.repair import repair_wheel
from megforge.release.targets import get_target
from megforge.release.verify import verify_wheel


@pytest.mark.needs_zig
def test_delocate_grafts_and_resigns(tmp_path):
    libdir = tmp_path / "opt" / "lib"
    libdir.mkdir(parents=True)
    dep = zig_dylib(libdir / "libextra.dylib", extra=[f"-Wl,-install_name,{libdir}/libextra.dylib"])
    user = zig_dylib(tmp_path / "libuser.dylib", extra=[str(dep)],
                     source="int megforge_probe(void);\nint user(void){return megforge_probe();}\n")
    wheel = make_wheel(tmp_path, "macosx_11_0_arm64", {"probe/libuser.dylib": user.read_bytes()})
    before = verify_wheel(wheel)
    assert any("which is not a macOS system library" in p for p in before.problems)

    repaired = repair_wheel(get_target("macos-arm64"), wheel, tmp_path / "out")
    report = verify_wheel(repaired)
    assert report.ok, report.problems
    with zipfile.ZipFile(repaired) as zf:
        grafted = [n for n in zf.namelist() if n.endswith("libextra.dylib")]
        assert grafted, zf.namelist()
        user_data = zf.read("probe/libuser.dylib")
    (sl,) = macho.parse(user_data)
    assert not any(d.startswith(str(tmp_path)) for d in sl.dylibs), sl.dylibs
    macho.verify_signature(user_data, sl, "libuser.dylib")
