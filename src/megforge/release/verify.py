"""Verify a wheel before it is published.

Rules (each failure is reported with the file and the reason):

* the file name and ``WHEEL`` agree on the tags; a platform wheel is ``Root-Is-Purelib: false``;
* the platform tag is distributable (``manylinux_*`` / ``macosx_*``, never ``linux_*``);
* every binary matches the tag's architecture(s) and minimum OS (glibc version for Linux,
  ``LC_BUILD_VERSION`` minos for macOS) and libstdc++/libgcc symbol versions for its manylinux;
* external dependencies come only from the allowed system set (``policy.json``) or from the
  wheel itself;
* every Mach-O slice carries a valid code signature (mandatory on arm64);
* RECORD lists every file with the right sha256 and size.
"""

from __future__ import annotations

import json
import posixpath
import re
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Set, Tuple

from megforge.errors import VerifyError
from megforge.release import elf, macho
from megforge.release.wheelfile import check_record, parse_name, scan

LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
MACOS_ARCHS = {"arm64": {"arm64"}, "x86_64": {"x86_64"}, "universal2": {"arm64", "x86_64"}}


@lru_cache(maxsize=1)
def policy() -> dict:
    return json.loads((Path(__file__).with_name("policy.json")).read_text())


@dataclass(frozen=True)
class Platform:
    os: str  # "linux" | "macos"
    archs: FrozenSet[str]  # ELF machine names for Linux, Mach-O arch names for macOS
    version: Tuple[int, int]  # glibc for Linux, macOS for macos
    tag: str


def parse_platform(tag: str) -> Platform:
    """A distributable platform tag -> Platform; VerifyError for anything else."""
    m = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", tag)
    if m:
        return Platform("linux", frozenset([m[3]]), (int(m[1]), int(m[2])), tag)
    m = re.fullmatch(r"(manylinux1|manylinux2010|manylinux2014)_(\w+)", tag)
    if m:
        return Platform("linux", frozenset([m[2]]), LEGACY_MANYLINUX[m[1]], tag)
    m = re.fullmatch(r"macosx_(\d+)_(\d+)_(\w+)", tag)
    if m and m[3] in MACOS_ARCHS:
        return Platform("macos", frozenset(MACOS_ARCHS[m[3]]), (int(m[1]), int(m[2])), tag)
    if tag.startswith("linux_"):
        raise VerifyError(f"platform tag {tag} is not distributable: repair the wheel with auditwheel")
    raise VerifyError(f"unsupported platform tag {tag}")


def _version_tuple(text: str) -> Tuple[int, ...]:
    return elf.version_key(text)


def _symbol_ceilings(glibc: Tuple[int, int], arch: str) -> Dict[str, str]:
    table = policy()["linux"]["symbol_ceilings"]
    usable = [v for v in table if _version_tuple(v) <= glibc]
    if not usable:
        return {}
    best = max(usable, key=_version_tuple)
    return table[best].get(arch, {})


class Report:
    """Problems found in one wheel."""

    def __init__(self, wheel: str) -> None:
        self.wheel = wheel
        self.problems: List[str] = []
        self.binaries: List[str] = []

    def add(self, message: str) -> None:
        self.problems.append(message)

    @property
    def ok(self) -> bool:
        return not self.problems


def _is_binary(head: bytes) -> bool:
    return elf.is_elf(head) or macho.is_macho(head)


def verify_wheel(path: Path) -> Report:
    """Check ``path`` against every rule in the module doc; problems are collected, not raised."""
    path = Path(path)
    report = Report(path.name)
    with tempfile.TemporaryDirectory(prefix="megforge-verify-") as spool:
        try:
            name = parse_name(path.name)
            digests, binaries, meta = scan(path, _is_binary, Path(spool))
            record = meta.get(f"{name.dist_info}/RECORD")
            check_record(path.name, digests, None if record is None else record.decode("utf-8"), name.dist_info)
        except VerifyError as exc:
            report.add(str(exc))
            return report
        _check_wheel_metadata(report, name, meta)
        platforms = []
        for tag in name.platform_tags:
            if tag == "any":
                continue
            try:
                platforms.append(parse_platform(tag))
            except VerifyError as exc:
                report.add(f"{path.name}: {exc}")
        names = set(digests)
        for member, spooled in sorted(binaries.items()):
            report.binaries.append(member)
            if not platforms:
                report.add(f"{member}: native binary in a wheel tagged {'.'.join(name.platform_tags)}")
                continue
            with open(spooled, "rb") as f:
                is_elf = elf.is_elf(f.read(4))
            for plat in platforms:
                try:
                    if is_elf:
                        _check_elf(report, member, spooled, plat, names)
                    else:
                        _check_macho(report, member, spooled.read_bytes(), plat, names)
                except VerifyError as exc:
                    report.add(str(exc))
    return report


def _check_wheel_metadata(report: Report, name, meta: Dict[str, bytes]) -> None:
    wheel_file = meta.get(f"{name.dist_info}/WHEEL")
    if wheel_file is None:
        report.add(f"{name.dist_info}/WHEEL is missing")
        return
    text = wheel_file.decode("utf-8", "replace")
    tags = sorted(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:"))
    if tags != sorted(name.tags):
        report.add(f"WHEEL tags {tags} do not match the file name's tags {sorted(name.tags)}")
    if "any" not in name.platform_tags and "Root-Is-Purelib: true" in text:
        report.add("platform wheel declares Root-Is-Purelib: true")


def _check_elf(report: Report, member: str, path: Path, plat: Platform, names: Set[str]) -> None:
    if plat.os != "linux":
        report.add(f"{member}: ELF binary in a {plat.tag} wheel")
        return
    info = elf.read_file(path, member)
    if info.machine not in plat.archs:
        report.add(f"{member}: architecture {info.machine} does not match platform tag {plat.tag}")
    glibc = info.max_versions.get("GLIBC")
    if glibc and _version_tuple(glibc) > plat.version:
        report.add(
            f"{member}: needs GLIBC_{glibc}, newer than {plat.tag} allows (glibc {plat.version[0]}.{plat.version[1]})"
        )
    for prefix, ceiling in _symbol_ceilings(plat.version, info.machine).items():
        have = info.max_versions.get(prefix)
        if have and _version_tuple(have) > _version_tuple(ceiling):
            report.add(f"{member}: needs {prefix}_{have}, newer than {plat.tag} allows ({prefix}_{ceiling})")
    allowed = set(policy()["linux"]["allowed_libs"])
    for lib in info.needed:
        if lib in allowed:
            continue
        if _resolve_elf_dep(lib, member, info.rpaths, names) is None:
            where = f" (RPATH/RUNPATH {':'.join(info.rpaths)})" if info.rpaths else " (no RPATH/RUNPATH)"
            report.add(f"{member}: depends on {lib}, which is neither a manylinux system library nor in the "
                       f"wheel where the loader looks{where}")


def _resolve_elf_dep(lib: str, member: str, rpaths: List[str], names: Set[str]) -> Optional[str]:
    """Wheel member the dynamic loader finds for DT_NEEDED ``lib`` through ``$ORIGIN``-relative
    RPATH/RUNPATH entries of ``member``, or None (absolute entries point outside the wheel)."""
    here = posixpath.dirname(member)
    for rp in rpaths:
        for origin in ("$ORIGIN", "${ORIGIN}"):
            if rp == origin or rp.startswith(origin + "/"):
                candidate = posixpath.normpath(posixpath.join(here, rp[len(origin):].lstrip("/"), lib))
                if candidate in names:
                    return candidate
    return None


def _resolve_macho_dep(dep: str, member: str, rpaths: List[str], names: Set[str]) -> Optional[str]:
    """Wheel member a @loader_path/@rpath dependency resolves to, or None."""
    here = posixpath.dirname(member)
    candidates = []
    if dep.startswith("@loader_path/") or dep.startswith("@executable_path/"):
        candidates.append(posixpath.join(here, dep.split("/", 1)[1]))
    elif dep.startswith("@rpath/"):
        for rp in rpaths:
            base = posixpath.join(here, rp.split("/", 1)[1]) if rp.startswith("@loader_path") else rp
            candidates.append(posixpath.join(base, dep.split("/", 1)[1]))
    for c in candidates:
        norm = posixpath.normpath(c)
        if norm in names:
            return norm
    return None


def _check_macho(report: Report, member: str, data: bytes, plat: Platform, names: Set[str]) -> None:
    if plat.os != "macos":
        report.add(f"{member}: Mach-O binary in a {plat.tag} wheel")
        return
    slices = macho.parse(data, member)
    archs = {s.arch for s in slices}
    for extra in sorted(archs - plat.archs):
        report.add(f"{member}: architecture {extra} does not match platform tag {plat.tag}")
    for missing in sorted(plat.archs - archs):
        report.add(f"{member}: lacks architecture {missing} required by platform tag {plat.tag}")
    prefixes = tuple(policy()["macos"]["allowed_prefixes"])
    for sl in slices:
        if sl.minos is None:
            report.add(f"{member} [{sl.arch}]: no minimum macOS version (LC_BUILD_VERSION) recorded")
        elif _version_tuple(sl.minos) > plat.version:
            report.add(
                f"{member} [{sl.arch}]: minimum macOS {sl.minos} is newer than platform tag {plat.tag} "
                f"({plat.version[0]}.{plat.version[1]})"
            )
        for dep in sl.dylibs:
            if dep.startswith(prefixes):
                continue
            if dep.startswith("@"):
                if _resolve_macho_dep(dep, member, sl.rpaths, names) is None:
                    report.add(f"{member} [{sl.arch}]: dependency {dep} does not resolve inside the wheel")
                continue
            report.add(f"{member} [{sl.arch}]: depends on {dep}, which is not a macOS system library")
        if sl.signature is not None or sl.arch == "arm64":
            try:
                macho.verify_signature(data, sl, member)
            except VerifyError as exc:
                report.add(str(exc))
