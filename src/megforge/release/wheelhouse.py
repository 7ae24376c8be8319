"""The wheelhouse directory: publishing wheels into it and its SHA256SUMS manifest."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict

from megforge.release.wheelfile import sha256_file

MANIFEST = "SHA256SUMS"


def publish(wheel: Path, wheelhouse: Path) -> Path:
    """Copy ``wheel`` into ``wheelhouse`` (atomically replacing a same-named file)."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    dest = wheelhouse / wheel.name
    tmp = dest.with_name(dest.name + ".part")
    shutil.copyfile(wheel, tmp)
    os.replace(tmp, dest)
    return dest


def write_manifest(wheelhouse: Path) -> Dict[str, str]:
    """Rewrite ``SHA256SUMS`` (``sha256sum -c`` format) for every wheel now in ``wheelhouse``."""
    sums = {w.name: sha256_file(w) for w in sorted(wheelhouse.glob("*.whl"))}
    text = "".join(f"{digest}  {name}\n" for name, digest in sums.items())
    tmp = wheelhouse / (MANIFEST + ".part")
    tmp.write_text(text)
    os.replace(tmp, wheelhouse / MANIFEST)
    return sums


def check_manifest(wheelhouse: Path) -> Dict[str, str]:
    """Problems between SHA256SUMS and the wheels on disk: {file name: reason}."""
    problems: Dict[str, str] = {}
    path = wheelhouse / MANIFEST
    listed = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            digest, _, name = line.partition("  ")
            listed[name] = digest
    for wheel in sorted(wheelhouse.glob("*.whl")):
        if wheel.name not in listed:
            problems[wheel.name] = "not in SHA256SUMS"
        elif listed[wheel.name] != sha256_file(wheel):
            problems[wheel.name] = "sha256 differs from SHA256SUMS"
    for name in listed:
        if not (wheelhouse / name).is_file():
            problems[name] = "listed in SHA256SUMS but missing"
    return problems
