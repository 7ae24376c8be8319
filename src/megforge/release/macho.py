"""A small Mach-O reader: architectures, minimum macOS, linked dylibs, rpaths, code signatures.

Enough to verify wheels and to stand in for ``lipo -info`` and ``codesign`` on Linux hosts.
Covers thin 64-bit images and fat (universal) files. The code-signature part implements
Apple's embedded signature format: a SuperBlob (magic 0xfade0cc0) indexing a CodeDirectory
(0xfade0c02) whose code slots hold the hash of every page of the file before the signature,
plus special slots hashing the other blobs (requirements, entitlements, ...). All signature
structures are big-endian; Mach-O headers are little-endian on arm64 and x86_64.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from megforge.errors import VerifyError

MH_MAGIC_64 = 0xFEEDFACF
FAT_MAGIC = 0xCAFEBABE
FAT_MAGIC_64 = 0xCAFEBABF

CPU_TYPES = {0x01000007: "x86_64", 0x0100000C: "arm64", 7: "i386", 12: "arm"}

LC_REQ_DYLD = 0x80000000
LC_LOAD_DYLIB = 0xC
LC_ID_DYLIB = 0xD
LC_LOAD_WEAK_DYLIB = 0x18 | LC_REQ_DYLD
LC_RPATH = 0x1C | LC_REQ_DYLD
LC_REEXPORT_DYLIB = 0x1F | LC_REQ_DYLD
LC_LAZY_LOAD_DYLIB = 0x20
LC_LOAD_UPWARD_DYLIB = 0x23 | LC_REQ_DYLD
LC_CODE_SIGNATURE = 0x1D
LC_VERSION_MIN_MACOSX = 0x24
LC_BUILD_VERSION = 0x32
LC_UUID = 0x1B
DYLIB_LOADS = (LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB, LC_LOAD_UPWARD_DYLIB)
PLATFORM_MACOS = 1

CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
CSMAGIC_CODEDIRECTORY = 0xFADE0C02
CSSLOT_CODEDIRECTORY = 0
CSSLOT_ALTERNATE_CODEDIRECTORIES = 0x1000
HASH_TYPES = {1: ("sha1", 20), 2: ("sha256", 32), 3: ("sha256", 20), 4: ("sha384", 48)}


def is_macho(head: bytes) -> bool:
    """True if ``head`` (the first 4+ bytes of a file) starts a Mach-O or fat file."""
    if len(head) < 4:
        return False
    return struct.unpack("<I", head[:4])[0] == MH_MAGIC_64 or struct.unpack(">I", head[:4])[0] in (FAT_MAGIC, FAT_MAGIC_64)


def format_version(v: int) -> str:
    """Mach-O packed version (xxxx.yy.zz nibbles) -> '11.0' / '10.15.4'."""
    major, minor, patch = v >> 16, (v >> 8) & 0xFF, v & 0xFF
    return f"{major}.{minor}" + (f".{patch}" if patch else "")


@dataclass
class Signature:
    """A parsed embedded code signature of one slice (offsets relative to the slice)."""

    dataoff: int
    datasize: int
    blobs: List[Tuple[int, int]]  # (slot type, offset in the SuperBlob)
    code_directories: List[int] = field(default_factory=list)  # SuperBlob offsets


@dataclass
class Slice:
    """One architecture image inside a (possibly fat) Mach-O file."""

    arch: str
    offset: int  # of the slice in the file
    size: int
    filetype: int
    minos: Optional[str] = None
    dylibs: List[str] = field(default_factory=list)
    install_name: Optional[str] = None
    rpaths: List[str] = field(default_factory=list)
    signature: Optional[Signature] = None
    uuid_offset: Optional[int] = None  # absolute offset of the 16 LC_UUID bytes


def _cstring(data: bytes, start: int, end: int) -> str:
    raw = data[start:end]
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _parse_slice(data: bytes, offset: int, size: int, name: str) -> Slice:
    if size < 32 or offset + size > len(data):
        raise VerifyError(f"{name}: truncated Mach-O slice at offset {offset}")
    magic, cputype, _sub, filetype, ncmds, sizeofcmds, _flags, _res = struct.unpack_from("<8I", data, offset)
    if magic != MH_MAGIC_64:
        raise VerifyError(f"{name}: not a 64-bit little-endian Mach-O image (magic {magic:#x})")
    sl = Slice(arch=CPU_TYPES.get(cputype, f"cputype-{cputype:#x}"), offset=offset, size=size, filetype=filetype)
    pos, end = offset + 32, offset + 32 + sizeofcmds
    if end > offset + size:
        raise VerifyError(f"{name}: load commands run past the end of the slice")
    for _ in range(ncmds):
        if pos + 8 > end:
            raise VerifyError(f"{name}: truncated load command table")
        cmd, cmdsize = struct.unpack_from("<2I", data, pos)
        if cmdsize < 8 or pos + cmdsize > end:
            raise VerifyError(f"{name}: bad load command size {cmdsize} at {pos - offset}")
        if cmd in DYLIB_LOADS or cmd == LC_ID_DYLIB:
            (name_off,) = struct.unpack_from("<I", data, pos + 8)
            dylib = _cstring(data, pos + name_off, pos + cmdsize)
            if cmd == LC_ID_DYLIB:
                sl.install_name = dylib
            else:
                sl.dylibs.append(dylib)
        elif cmd == LC_RPATH:
            (path_off,) = struct.unpack_from("<I", data, pos + 8)
            sl.rpaths.append(_cstring(data, pos + path_off, pos + cmdsize))
        elif cmd == LC_BUILD_VERSION:
            platform, minos = struct.unpack_from("<2I", data, pos + 8)
            if platform == PLATFORM_MACOS:
                sl.minos = format_version(minos)
        elif cmd == LC_VERSION_MIN_MACOSX and sl.minos is None:
            (version,) = struct.unpack_from("<I", data, pos + 8)
            sl.minos = format_version(version)
        elif cmd == LC_UUID:
            sl.uuid_offset = pos + 8
        elif cmd == LC_CODE_SIGNATURE:
            dataoff, datasize = struct.unpack_from("<2I", data, pos + 8)
            sl.signature = _parse_signature(data, offset, size, dataoff, datasize, name)
        pos += cmdsize
    return sl


def _parse_signature(data: bytes, offset: int, size: int, dataoff: int, datasize: int, name: str) -> Signature:
    if dataoff + datasize > size or datasize < 12:
        raise VerifyError(f"{name}: code signature ({dataoff}+{datasize}) lies outside the file")
    base = offset + dataoff
    magic, length, count = struct.unpack_from(">3I", data, base)
    if magic != CSMAGIC_EMBEDDED_SIGNATURE or length > datasize or 12 + 8 * count > length:
        raise VerifyError(f"{name}: malformed code signature SuperBlob (magic {magic:#x})")
    blobs = [struct.unpack_from(">2I", data, base + 12 + 8 * i) for i in range(count)]
    sig = Signature(dataoff=dataoff, datasize=datasize, blobs=blobs)
    for slot, blob_off in blobs:
        if blob_off + 8 > length:
            raise VerifyError(f"{name}: code signature blob {slot:#x} lies outside the SuperBlob")
        if slot == CSSLOT_CODEDIRECTORY or CSSLOT_ALTERNATE_CODEDIRECTORIES <= slot < CSSLOT_ALTERNATE_CODEDIRECTORIES + 5:
            sig.code_directories.append(blob_off)
    if not sig.code_directories:
        raise VerifyError(f"{name}: code signature has no CodeDirectory")
    return sig


def parse(data: bytes, name: str = "<memory>") -> List[Slice]:
    """All slices of a Mach-O or fat file (raises VerifyError if malformed)."""
    if len(data) < 8:
        raise VerifyError(f"{name}: too short for Mach-O")
    (be_magic,) = struct.unpack_from(">I", data, 0)
    if be_magic in (FAT_MAGIC, FAT_MAGIC_64):
        (nfat,) = struct.unpack_from(">I", data, 4)
        slices = []
        for i in range(nfat):
            if be_magic == FAT_MAGIC:
                _cpu, _sub, off, sz, _align = struct.unpack_from(">5I", data, 8 + 20 * i)
            else:
                _cpu, _sub, off, sz, _align, _res = struct.unpack_from(">2I2Q2I", data, 8 + 32 * i)
            slices.append(_parse_slice(data, off, sz, name))
        return slices
    return [_parse_slice(data, 0, len(data), name)]


def parse_file(path: Path) -> List[Slice]:
    return parse(Path(path).read_bytes(), str(path))


# --- code directories -------------------------------------------------------------------


@dataclass
class CodeDirectory:
    offset: int  # absolute, in the file
    length: int
    hash_offset: int
    n_special: int
    n_code: int
    code_limit: int
    hash_size: int
    hash_name: str
    page_size: int
    identifier: str


def _code_directory(data: bytes, sl: Slice, sig: Signature, cd_off: int, name: str) -> CodeDirectory:
    base = sl.offset + sig.dataoff + cd_off
    (magic, length, version, _flags, hash_off, ident_off, n_special, n_code, code_limit, hash_size, hash_type,
     _platform, page_shift) = struct.unpack_from(">9I4B", data, base)
    if magic != CSMAGIC_CODEDIRECTORY:
        raise VerifyError(f"{name}: blob at {cd_off} is not a CodeDirectory (magic {magic:#x})")
    if hash_type not in HASH_TYPES:
        raise VerifyError(f"{name}: unsupported code signature hash type {hash_type}")
    if version >= 0x20300:
        (limit64,) = struct.unpack_from(">Q", data, base + 56)  # after spare2, scatter, team, spare3
        code_limit = limit64 or code_limit
    hash_name, full = HASH_TYPES[hash_type]
    if hash_size > full or base + hash_off + n_code * hash_size > base + length or n_special * hash_size > hash_off:
        raise VerifyError(f"{name}: CodeDirectory hash table out of bounds")
    return CodeDirectory(
        offset=base, length=length, hash_offset=hash_off, n_special=n_special, n_code=n_code,
        code_limit=code_limit, hash_size=hash_size, hash_name=hash_name,
        page_size=(1 << page_shift) if page_shift else 0,
        identifier=_cstring(data, base + ident_off, base + length),
    )


def _expected_hashes(data: bytes, sl: Slice, sig: Signature, cd: CodeDirectory) -> Iterator[Tuple[int, bytes]]:
    """(absolute offset of a slot, digest it should hold) for every code and special slot."""
    start = sl.offset
    page = cd.page_size or cd.code_limit
    for i in range(cd.n_code):
        chunk = data[start + i * page: start + min((i + 1) * page, cd.code_limit)]
        yield cd.offset + cd.hash_offset + i * cd.hash_size, hashlib.new(cd.hash_name, chunk).digest()[: cd.hash_size]
    sb = sl.offset + sig.dataoff
    for slot, blob_off in sig.blobs:
        if slot == CSSLOT_CODEDIRECTORY or slot >= CSSLOT_ALTERNATE_CODEDIRECTORIES or slot > cd.n_special:
            continue
        (_magic, blen) = struct.unpack_from(">2I", data, sb + blob_off)
        digest = hashlib.new(cd.hash_name, data[sb + blob_off: sb + blob_off + blen]).digest()[: cd.hash_size]
        yield cd.offset + cd.hash_offset - slot * cd.hash_size, digest


def verify_signature(data: bytes, sl: Slice, name: str) -> None:
    """Raise VerifyError unless the slice carries a signature whose every hash matches."""
    sig = sl.signature
    if sig is None:
        raise VerifyError(f"{name} [{sl.arch}]: not code-signed (arm64 macOS refuses to load it)")
    for cd_off in sig.code_directories:
        cd = _code_directory(data, sl, sig, cd_off, name)
        if cd.code_limit != sig.dataoff:
            raise VerifyError(
                f"{name} [{sl.arch}]: signature covers {cd.code_limit} bytes but the signature starts at {sig.dataoff}"
            )
        page = cd.page_size or cd.code_limit
        if cd.n_code != (cd.code_limit + page - 1) // page:
            raise VerifyError(f"{name} [{sl.arch}]: CodeDirectory has {cd.n_code} page hashes for {cd.code_limit} bytes")
        for slot_off, digest in _expected_hashes(data, sl, sig, cd):
            if data[slot_off: slot_off + cd.hash_size] != digest:
                kind = "page" if slot_off >= cd.offset + cd.hash_offset else "special slot"
                raise VerifyError(
                    f"{name} [{sl.arch}]: code signature invalid: {kind} hash mismatch at offset {slot_off} "
                    "(file modified after signing)"
                )


def resign_adhoc(path: Path) -> None:
    """Recompute every hash of the existing ad-hoc signature in place (``codesign -f -s -``).

    Works when the signature's size and position did not change since the linker wrote it,
    which is what ``install_name_tool`` edits preserve. Anything else raises VerifyError.
    """
    data = bytearray(Path(path).read_bytes())
    for sl in parse(bytes(data), str(path)):
        sig = sl.signature
        if sig is None:
            raise VerifyError(f"{path} [{sl.arch}]: no signature to re-sign; link with an ad-hoc signature")
        for cd_off in sig.code_directories:
            cd = _code_directory(bytes(data), sl, sig, cd_off, str(path))
            if cd.code_limit != sig.dataoff:
                raise VerifyError(f"{path} [{sl.arch}]: signature no longer ends the signed range; cannot re-sign in place")
            # code slots first (special slots hash other blobs, which do not change)
            for slot_off, digest in _expected_hashes(bytes(data), sl, sig, cd):
                data[slot_off: slot_off + cd.hash_size] = digest
    Path(path).write_bytes(bytes(data))
    for sl in parse(bytes(data), str(path)):
        verify_signature(bytes(data), sl, str(path))


def set_content_uuid(path: Path) -> None:
    """Replace every slice's LC_UUID by a hash of its contents, then re-sign in place.

    Apple's ld64 derives the UUID from the output's contents; zig's linker does not, so two
    builds of the same sources differ in their UUID (and hence their signature). The hash
    covers the slice with the UUID zeroed and without the signature.
    """
    data = bytearray(Path(path).read_bytes())
    for sl in parse(bytes(data), str(path)):
        if sl.uuid_offset is None:
            continue
        end = sl.offset + (sl.signature.dataoff if sl.signature else sl.size)
        data[sl.uuid_offset: sl.uuid_offset + 16] = bytes(16)
        digest = bytearray(hashlib.sha256(bytes(data[sl.offset:end])).digest()[:16])
        digest[6] = (digest[6] & 0x0F) | 0x50  # RFC 4122 name-based (SHA) version and variant bits
        digest[8] = (digest[8] & 0x3F) | 0x80
        data[sl.uuid_offset: sl.uuid_offset + 16] = digest
    Path(path).write_bytes(bytes(data))
    if all(sl.signature is not None for sl in parse(bytes(data), str(path))):
        resign_adhoc(path)
