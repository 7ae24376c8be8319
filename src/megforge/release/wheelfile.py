"""Wheel archives: file names and tags, RECORD hashes, and reproducible re-packing.

A re-packed wheel is byte-identical for identical contents: entries sorted (``.dist-info``
last, ``RECORD`` at the very end), every timestamp set to ``SOURCE_DATE_EPOCH``, modes
normalised to 0644 / 0755, one compression level, RECORD regenerated.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import stat
import struct
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

from megforge.errors import VerifyError

WHEEL_RE = re.compile(
    r"^(?P<name>[^-]+)-(?P<version>[^-]+)(?:-(?P<build>\d[^-]*))?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$"
)
ZIP_EPOCH_MIN = 315532800  # 1980-01-01, the earliest time a zip entry can hold


@dataclass(frozen=True)
class RawEntry:
    """A member copied with its compressed bytes as they are in another zip (no recompression).

    ``record_hash`` / ``size`` describe the uncompressed content for RECORD.
    """

    source: Path
    info: zipfile.ZipInfo
    record_hash: str
    mode: int

    @property
    def size(self) -> int:
        return self.info.file_size


Member = Union[Tuple[bytes, int], RawEntry]


@dataclass(frozen=True)
class WheelName:
    name: str
    version: str
    build: str
    python_tags: Tuple[str, ...]
    abi_tags: Tuple[str, ...]
    platform_tags: Tuple[str, ...]

    @property
    def dist_info(self) -> str:
        return f"{self.name}-{self.version}.dist-info"

    @property
    def tags(self) -> List[str]:
        return [f"{p}-{a}-{pl}" for p in self.python_tags for a in self.abi_tags for pl in self.platform_tags]


def parse_name(filename: str) -> WheelName:
    """Split a wheel file name into its parts (PEP 427, compressed tag sets expanded)."""
    m = WHEEL_RE.match(os.path.basename(filename))
    if not m:
        raise VerifyError(f"{filename}: not a wheel file name (name-version[-build]-python-abi-platform.whl)")
    return WheelName(
        m["name"], m["version"], m["build"] or "",
        tuple(m["py"].split(".")), tuple(m["abi"].split(".")), tuple(m["plat"].split(".")),
    )


def record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_members(path: Path) -> Dict[str, Tuple[bytes, int]]:
    """name -> (content, unix mode) of every file entry; VerifyError on a broken archive."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [i.filename for i in zf.infolist()]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise VerifyError(f"{path.name}: duplicate archive entries {dupes}")
            out = {}
            for info in zf.infolist():
                if info.is_dir():
                    continue
                _check_member_name(path.name, info.filename)
                out[info.filename] = (zf.read(info), (info.external_attr >> 16) & 0o7777)
            return out
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise VerifyError(f"{path.name}: unreadable wheel archive ({exc})") from exc


def _check_member_name(wheel: str, name: str) -> None:
    parts = name.split("/")
    if name.startswith("/") or ".." in parts or "\\" in name:
        raise VerifyError(f"{wheel}: unsafe archive path {name!r}")


def check_record(wheel: str, digests: Dict[str, Tuple[str, int]], record_text: Optional[str], dist_info: str) -> None:
    """Every file listed with the right sha256 and size; nothing listed that is absent.

    ``digests``: member name -> (RECORD-style hash, size) of every file in the archive;
    ``record_text``: the archive's RECORD (None if it has none).
    """
    record_name = f"{dist_info}/RECORD"
    if record_text is None:
        raise VerifyError(f"{wheel}: {record_name} is missing")
    listed: Dict[str, Tuple[str, str]] = {}
    for row in csv.reader(io.StringIO(record_text)):
        if not row:
            continue
        if len(row) != 3:
            raise VerifyError(f"{wheel}: malformed RECORD row {row!r}")
        if row[0] in listed:
            raise VerifyError(f"{wheel}: RECORD lists {row[0]} twice")
        listed[row[0]] = (row[1], row[2])
    unsigned = {record_name, f"{dist_info}/RECORD.jws", f"{dist_info}/RECORD.p7s"}
    for name, (digest, size) in sorted(digests.items()):
        if name in unsigned:
            continue
        if name not in listed:
            raise VerifyError(f"{wheel}: {name} is not listed in RECORD")
        want_hash, want_size = listed[name]
        if want_hash != digest:
            raise VerifyError(f"{wheel}: RECORD hash mismatch for {name} (file altered after packing)")
        if want_size != str(size):
            raise VerifyError(f"{wheel}: RECORD size mismatch for {name}: listed {want_size}, actual {size}")
    for name in sorted(set(listed) - set(digests) - unsigned):
        raise VerifyError(f"{wheel}: RECORD lists {name}, which is not in the archive")


def scan(path: Path, keep: Callable[[bytes], bool], spool: Path) -> Tuple[Dict[str, Tuple[str, int]], Dict[str, Path], Dict[str, bytes]]:
    """One streaming pass over the archive.

    Returns (name -> (RECORD hash, size) for every file, name -> spooled copy for the members
    whose first bytes satisfy ``keep`` (written under ``spool``), name -> content of the
    ``.dist-info`` text files). Nothing is held in memory whole but the small metadata files.
    """
    digests: Dict[str, Tuple[str, int]] = {}
    kept: Dict[str, Path] = {}
    meta: Dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            seen = set()
            for info in infos:
                if info.filename in seen:
                    raise VerifyError(f"{path.name}: duplicate archive entry {info.filename}")
                seen.add(info.filename)
                _check_member_name(path.name, info.filename)
            for n, info in enumerate(infos):
                h = hashlib.sha256()
                size = 0
                out = None
                with zf.open(info) as f:
                    head = f.read(4)
                    if keep(head):
                        out = open(spool / f"{n:06d}", "wb")
                        kept[info.filename] = spool / f"{n:06d}"
                    chunk = head
                    while chunk:
                        h.update(chunk)
                        size += len(chunk)
                        if out:
                            out.write(chunk)
                        chunk = f.read(1 << 22)
                if out:
                    out.close()
                digests[info.filename] = ("sha256=" + base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode(), size)
                if ".dist-info/" in info.filename and info.file_size < (1 << 24):
                    meta[info.filename] = zf.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, zlib.error) as exc:
        raise VerifyError(f"{path.name}: unreadable wheel archive ({exc})") from exc
    return digests, kept, meta


def _sort_key(dist_info: str):
    def key(name: str):
        in_dist = name.startswith(dist_info + "/")
        return (in_dist, name == f"{dist_info}/RECORD", name)

    return key


def write_wheel(path: Path, members: Dict[str, Member], dist_info: str, epoch: int,
                compresslevel: int = 9) -> None:
    """Write a reproducible wheel at ``path`` from ``members``, regenerating RECORD."""
    record_name = f"{dist_info}/RECORD"
    files = {n: v for n, v in members.items() if n != record_name}
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    for name in sorted(files, key=_sort_key(dist_info)):
        m = files[name]
        if isinstance(m, RawEntry):
            writer.writerow([name, m.record_hash, m.size])
        else:
            writer.writerow([name, record_hash(m[0]), len(m[0])])
    writer.writerow([record_name, "", ""])
    files[record_name] = (rows.getvalue().encode("utf-8"), 0o644)
    stamp = time.gmtime(max(epoch, ZIP_EPOCH_MIN))[:6]
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
        for name in sorted(files, key=_sort_key(dist_info)):
            m = files[name]
            mode = m.mode if isinstance(m, RawEntry) else m[1]
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.create_system = 3  # unix, so the mode below is honoured
            info.external_attr = (stat.S_IFREG | (0o755 if mode & 0o111 else 0o644)) << 16
            if isinstance(m, RawEntry):
                _write_raw(zf, info, m)
            else:
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, m[0], compresslevel=compresslevel)
    os.replace(tmp, path)


def _write_raw(zf: zipfile.ZipFile, info: zipfile.ZipInfo, entry: RawEntry) -> None:
    """Append ``entry``'s compressed bytes under ``info`` (same pattern ZipFile.mkdir uses)."""
    src = entry.info
    info.compress_type = src.compress_type
    info.CRC, info.compress_size, info.file_size = src.CRC, src.compress_size, src.file_size
    zip64 = info.file_size > zipfile.ZIP64_LIMIT or info.compress_size > zipfile.ZIP64_LIMIT
    with open(entry.source, "rb") as f:
        f.seek(src.header_offset)
        local = f.read(30)
        if local[:4] != b"PK\x03\x04":
            raise VerifyError(f"{entry.source.name}: bad local header for {src.filename}")
        name_len, extra_len = struct.unpack("<2H", local[26:30])
        f.seek(src.header_offset + 30 + name_len + extra_len)
        info.header_offset = zf.fp.tell()
        zf.fp.write(info.FileHeader(zip64))
        remaining = src.compress_size
        while remaining:
            chunk = f.read(min(remaining, 1 << 24))
            if not chunk:
                raise VerifyError(f"{entry.source.name}: truncated data for {src.filename}")
            zf.fp.write(chunk)
            remaining -= len(chunk)
    zf.start_dir = zf.fp.tell()
    zf.filelist.append(info)
    zf.NameToInfo[info.filename] = info
    zf._didModify = True


def normalize(path: Path, epoch: int) -> None:
    """Re-pack ``path`` in place reproducibly (see module doc).

    Mach-O members also get a content-derived LC_UUID (see macho.set_content_uuid).
    """
    from megforge.release import macho

    name = parse_name(path.name)
    members = read_members(path)
    for member, (data, mode) in list(members.items()):
        if macho.is_macho(data[:4]):
            members[member] = (_with_content_uuid(data), mode)
    write_wheel(path, members, name.dist_info, epoch)


def _with_content_uuid(data: bytes) -> bytes:
    import tempfile

    from megforge.release import macho

    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "image"
        f.write_bytes(data)
        macho.set_content_uuid(f)
        return f.read_bytes()


def source_date_epoch(default_from: Path) -> int:
    """SOURCE_DATE_EPOCH from the environment, else the last commit's time of ``default_from``."""
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if value:
        if not value.isdigit():
            raise VerifyError(f"SOURCE_DATE_EPOCH must be an integer, got {value!r}")
        return int(value)
    import subprocess

    try:
        out = subprocess.run(
            ["git", "-C", str(default_from), "log", "-1", "--format=%ct"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        return int(out)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return ZIP_EPOCH_MIN
