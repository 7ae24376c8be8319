"""What an ELF shared object needs from its host: machine, DT_NEEDED, RPATH, symbol versions."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from megforge.errors import VerifyError

MACHINES = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64", "EM_386": "i686", "EM_ARM": "armv7l"}


def is_elf(head: bytes) -> bool:
    return head[:4] == b"\x7fELF"


def version_key(version: str) -> Tuple[int, ...]:
    """'2.17' / '3.4.22' / '1.3.13' -> comparable tuple (non-numeric parts sort lowest)."""
    return tuple(int(p) for p in re.findall(r"\d+", version)) or (0,)


@dataclass
class ElfInfo:
    machine: str
    needed: List[str] = field(default_factory=list)
    rpaths: List[str] = field(default_factory=list)
    soname: str = ""
    # highest version required per prefix, e.g. {"GLIBC": "2.17", "GLIBCXX": "3.4.22"}
    max_versions: Dict[str, str] = field(default_factory=dict)


def read(data: bytes, name: str) -> ElfInfo:
    """Parse ``data`` (a whole ELF file); raises VerifyError if it is not readable ELF."""
    return _read(io.BytesIO(data), name)


def read_file(path, name: str) -> ElfInfo:
    """Like :func:`read`, from a file on disk (sections are read on demand)."""
    with open(path, "rb") as f:
        return _read(f, name)


def _read(stream, name: str) -> ElfInfo:
    try:
        from elftools.common.exceptions import ELFError
        from elftools.elf.dynamic import DynamicSection
        from elftools.elf.elffile import ELFFile
        from elftools.elf.gnuversions import GNUVerNeedSection
    except ImportError as exc:  # pragma: no cover - declared in the release extra
        raise VerifyError("reading ELF needs pyelftools: pip install 'megforge[release]'") from exc
    try:
        elf = ELFFile(stream)
        info = ElfInfo(machine=MACHINES.get(elf["e_machine"], str(elf["e_machine"])))
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                for tag in section.iter_tags():
                    if tag.entry.d_tag == "DT_NEEDED":
                        info.needed.append(tag.needed)
                    elif tag.entry.d_tag in ("DT_RPATH", "DT_RUNPATH"):
                        info.rpaths.extend(p for p in (tag.rpath if tag.entry.d_tag == "DT_RPATH" else tag.runpath).split(":") if p)
                    elif tag.entry.d_tag == "DT_SONAME":
                        info.soname = tag.soname
            elif isinstance(section, GNUVerNeedSection):
                for _verneed, aux in section.iter_versions():
                    for entry in aux:
                        prefix, _, version = entry.name.partition("_")
                        if not version or not version[0].isdigit():
                            continue
                        best = info.max_versions.get(prefix)
                        if best is None or version_key(version) > version_key(best):
                            info.max_versions[prefix] = version
        return info
    except (ELFError, ValueError, KeyError, IndexError) as exc:
        raise VerifyError(f"{name}: unreadable ELF file ({exc})") from exc
