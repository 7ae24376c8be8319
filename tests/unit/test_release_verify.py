"""megforge verify: accepts good wheels, rejects each kind of bad wheel with the right reason."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from wheel_factory import gcc_so, make_wheel, zig_dylib  # noqa: E402

from megforge.cli import main as cli_main
from megforge.release import macho
from megforge.release.verify import verify_wheel


@pytest.fixture(scope="module")
def bins(tmp_path_factory):
    return tmp_path_factory.mktemp("bins")


def problems(wheel: Path) -> str:
    report = verify_wheel(wheel)
    return "\n".join(report.problems)


# --- Linux -----------------------------------------------------------------------------------


def test_good_linux_wheel_passes(tmp_path, bins):
    so = gcc_so(bins / "libgood.so")
    wheel = make_wheel(tmp_path, "manylinux_2_17_x86_64", {"probe/libgood.so": so.read_bytes()})
    assert problems(wheel) == ""


def test_linux_tag_is_not_distributable(tmp_path, bins):
    so = gcc_so(bins / "libgood2.so")
    wheel = make_wheel(tmp_path, "linux_x86_64", {"probe/libgood.so": so.read_bytes()})
    assert "not distributable: repair the wheel with auditwheel" in problems(wheel)


@pytest.mark.needs_qemu
def test_aarch64_binary_in_x86_64_wheel(tmp_path, bins):
    so = gcc_so(bins / "libarm.so", compiler="aarch64-linux-gnu-gcc")
    wheel = make_wheel(tmp_path, "manylinux_2_17_x86_64", {"probe/libarm.so": so.read_bytes()})
    assert "probe/libarm.so: architecture aarch64 does not match platform tag manylinux_2_17_x86_64" in problems(wheel)


def test_non_system_shared_library_dependency(tmp_path, bins):
    dep = gcc_so(bins / "libextra.so")
    user = gcc_so(bins / "libuser.so", extra=[f"-L{bins}", "-lextra"],
                  source="int megforge_probe(void);\nint user(void){return megforge_probe();}\n")
    wheel = make_wheel(tmp_path, "manylinux_2_17_x86_64", {"probe/libuser.so": user.read_bytes()})
    missing = "depends on libextra.so, which is neither a manylinux system library nor in the wheel where the loader looks"
    assert missing in problems(wheel)
    # in the wheel, but where the loader never looks (no RPATH): still unresolved
    (tmp_path / "unreachable").mkdir()
    unreachable = make_wheel(tmp_path / "unreachable", "manylinux_2_17_x86_64",
                             {"probe/libuser.so": user.read_bytes(), "probe.libs/libextra.so": dep.read_bytes()})
    assert f"{missing} (no RPATH/RUNPATH)" in problems(unreachable)
    # auditwheel's layout: grafted into probe.libs/, found through RUNPATH $ORIGIN/../probe.libs
    grafted = gcc_so(bins / "libgrafted.so", extra=[f"-L{bins}", "-lextra", "-Wl,-rpath,$ORIGIN/../probe.libs"],
                     source="int megforge_probe(void);\nint user(void){return megforge_probe();}\n")
    (tmp_path / "bundled").mkdir()
    bundled = make_wheel(tmp_path / "bundled", "manylinux_2_17_x86_64",
                         {"probe/libuser.so": grafted.read_bytes(), "probe.libs/libextra.so": dep.read_bytes()})
    assert problems(bundled) == ""


def test_glibc_newer_than_tag(tmp_path, bins):
    # pthread_create is versioned GLIBC_2.34 on Debian 12's glibc
    so = gcc_so(bins / "libthr.so", source="#include <pthread.h>\nvoid* f(void*p){return p;}\n"
                "int go(void){pthread_t t; return pthread_create(&t, 0, f, 0);}\n", extra=["-pthread"])
    wheel = make_wheel(tmp_path, "manylinux_2_17_x86_64", {"probe/libthr.so": so.read_bytes()})
    assert "needs GLIBC_2.34, newer than manylinux_2_17_x86_64 allows (glibc 2.17)" in problems(wheel)


# --- macOS -----------------------------------------------------------------------------------


@pytest.mark.needs_zig
def test_good_macos_wheel_passes(tmp_path, bins):
    lib = zig_dylib(bins / "libgood.dylib")
    wheel = make_wheel(tmp_path, "macosx_11_0_arm64", {"probe/libgood.dylib": lib.read_bytes()})
    assert problems(wheel) == ""


@pytest.mark.needs_zig
def test_x86_64_binary_in_arm64_wheel(tmp_path, bins):
    lib = zig_dylib(bins / "libx86.dylib", target="x86_64-macos.11.0")
    wheel = make_wheel(tmp_path, "macosx_11_0_arm64", {"probe/libx86.dylib": lib.read_bytes()})
    assert "probe/libx86.dylib: architecture x86_64 does not match platform tag macosx_11_0_arm64" in problems(wheel)


@pytest.mark.needs_zig
def test_minos_newer_than_tag(tmp_path, bins):
    lib = zig_dylib(bins / "lib13.dylib", target="aarch64-macos.13.0")
    wheel = make_wheel(tmp_path, "macosx_11_0_arm64", {"probe/lib13.dylib": lib.read_bytes()})
    assert "minimum macOS 13.0 is newer than platform tag macosx_11_0_arm64 (11.0)" in problems(wheel)


@pytest.mark.needs_zig
def test_non_system_dylib_dependency(tmp_path, bins):
    dep = zig_dylib(bins / "libbrew.dylib", extra=["-Wl,-install_name,/opt/homebrew/lib/libbrew.dylib"])
    user = zig_dylib(bins / "libuser.dylib", extra=[str(dep)],
                     source="int megforge_probe(void);\nint user(void){return megforge_probe();}\n")
    wheel = make_wheel(tmp_path, "macosx_11_0_arm64", {"probe/libuser.dylib": user.read_bytes()})
    assert "depends on /opt/homebrew/lib/libbrew.dylib, which is not a macOS system library" in problems(wheel)


@pytest.mark.needs_zig
def test_broken_code_signature(tmp_path, bins):
    lib = bytearray(zig_dylib(bins / "libsig.dylib").read_bytes())
    lib[64] ^= 0xFF  # inside the load commands, covered by the first page hash
    wheel = make_wheel(tmp_path, "macosx_11_0_arm64", {"probe/libsig.dylib": bytes(lib)})
    assert "code signature invalid: page hash mismatch" in problems(wheel)


@pytest.mark.needs_zig
def test_fat_binary_architectures(tmp_path, bins):
    arm = zig_dylib(bins / "libfa.dylib").read_bytes()
    x86 = zig_dylib(bins / "libfx.dylib", target="x86_64-macos.11.0").read_bytes()
    fat = _fat([(0x0100000C, arm), (0x01000007, x86)])
    assert [s.arch for s in macho.parse(fat)] == ["arm64", "x86_64"]
    good = make_wheel(tmp_path, "macosx_11_0_universal2", {"probe/libfat.dylib": fat})
    assert problems(good) == ""
    (tmp_path / "arm").mkdir()
    bad = make_wheel(tmp_path / "arm", "macosx_11_0_arm64", {"probe/libfat.dylib": fat})
    assert "architecture x86_64 does not match platform tag macosx_11_0_arm64" in problems(bad)


def _fat(slices):
    import struct

    header = struct.pack(">2I", 0xCAFEBABE, len(slices))
    offset, body, table = 1 << 14, b"", b""
    for cpu, data in slices:
        table += struct.pack(">5I", cpu, 0, offset + len(body), len(data), 14)
        body += data + b"\0" * (-len(data) % (1 << 14))
    return header + table + b"\0" * (offset - len(header) - len(table)) + body


# --- RECORD and metadata ---------------------------------------------------------------------


def _rewrite_member(wheel: Path, member: str, data: bytes) -> None:
    with zipfile.ZipFile(wheel) as zf:
        items = [(i, zf.read(i)) for i in zf.infolist()]
    with zipfile.ZipFile(wheel, "w") as zf:
        for info, content in items:
            zf.writestr(info, data if info.filename == member else content)


def test_tampered_record(tmp_path, bins):
    so = gcc_so(bins / "librec.so")
    wheel = make_wheel(tmp_path, "manylinux_2_17_x86_64", {"probe/librec.so": so.read_bytes(), "probe/__init__.py": b"x = 1\n"})
    _rewrite_member(wheel, "probe/__init__.py", b"x = 2\n")
    assert "RECORD hash mismatch for probe/__init__.py (file altered after packing)" in problems(wheel)


@pytest.mark.parametrize("edit, reason", [
    (lambda row: row.replace("sha256=", "sha256=A", 1), "RECORD hash mismatch for probe/__init__.py"),
    (lambda row: row.rsplit(",", 1)[0] + ",999", "size"),
    (lambda row: "", "probe/__init__.py is not listed in RECORD"),
])
def test_edited_record_row(tmp_path, edit, reason):
    """The file is intact; its RECORD row was edited (hash, size) or removed."""
    wheel = make_wheel(tmp_path, "manylinux_2_17_x86_64", {"probe/__init__.py": b"x = 1\n"})
    record = "probe-1.0.dist-info/RECORD"
    with zipfile.ZipFile(wheel) as zf:
        rows = zf.read(record).decode().splitlines()
    rows = [edit(r) if r.startswith("probe/__init__.py,") else r for r in rows]
    _rewrite_member(wheel, record, ("\n".join(r for r in rows if r) + "\n").encode())
    assert reason in problems(wheel)


def test_unlisted_file_and_wheel_tag_mismatch(tmp_path):
    wheel = make_wheel(tmp_path, "manylinux_2_17_x86_64", {"probe/__init__.py": b""}, wheel_tag="py3-none-any")
    assert "do not match the file name's tags" in problems(wheel)
    with zipfile.ZipFile(wheel, "a") as zf:
        zf.writestr("probe/extra.py", b"")
    assert "probe/extra.py is not listed in RECORD" in problems(wheel)


def test_truncated_wheel(tmp_path):
    wheel = make_wheel(tmp_path, "manylinux_2_17_x86_64", {"probe/__init__.py": b"pass\n" * 100})
    wheel.write_bytes(wheel.read_bytes()[:-40])
    assert "unreadable wheel archive" in problems(wheel)


def test_cli_exit_codes(tmp_path, bins, capsys):
    good = make_wheel(tmp_path, "manylinux_2_17_x86_64", {"probe/libc.so": gcc_so(bins / "libcli.so").read_bytes()})
    assert cli_main(["verify", str(good)]) == 0
    assert "OK   probe-1.0-py3-none-manylinux_2_17_x86_64.whl (1 binaries checked)" in capsys.readouterr().out
    (tmp_path / "l").mkdir()
    bad = make_wheel(tmp_path / "l", "linux_x86_64", {"probe/libc.so": gcc_so(bins / "libcli2.so").read_bytes()})
    assert cli_main(["verify", str(good), str(bad), str(tmp_path / "missing.whl")]) == 1
    out = capsys.readouterr().out
    assert "FAIL probe-1.0-py3-none-linux_x86_64.whl" in out and "missing.whl: no such file" in out
