"""Stand-ins for the macOS tools delocate calls, so macOS wheels can be repaired on Linux.

* ``otool``             -> llvm-otool, minus ``-m`` (which llvm-otool does not take)
* ``install_name_tool`` -> llvm-install-name-tool, then the ad-hoc signature is re-hashed
* ``codesign``          -> ``--verify`` checks every page hash; ``--force --sign -`` re-hashes
                           the existing ad-hoc signature in place (megforge.release.macho)
* ``lipo -info``        -> architectures read from the Mach-O headers

``shim_dir()`` writes small executables named like the real tools that call back into this
module; put that directory first on PATH while delocate runs.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence

from megforge.errors import ToolchainError, VerifyError
from megforge.release import macho
from megforge.release.targets import LLVM_INT, LLVM_OTOOL

TOOLS = ("otool", "install_name_tool", "codesign", "lipo")


def _llvm(tool) -> str:
    path = tool.find()
    if path is None:
        raise ToolchainError(f"{tool.names[0]} not found: {tool.install}")
    return path


def otool(args: Sequence[str]) -> int:
    return subprocess.call([_llvm(LLVM_OTOOL)] + [a for a in args if a != "-m"])


def install_name_tool(args: Sequence[str]) -> int:
    rc = subprocess.call([_llvm(LLVM_INT)] + list(args))
    if rc == 0 and args:
        # llvm-install-name-tool keeps linker-signed ad-hoc signatures valid in most cases;
        # re-hash anyway so every edited signed file leaves here with a valid signature.
        target = Path(args[-1])
        if all(sl.signature is not None for sl in macho.parse_file(target)):
            macho.resign_adhoc(target)
    return rc


def codesign(args: Sequence[str]) -> int:
    files = [a for a in args if not a.startswith("-") and a not in ("-",)]
    if "--verify" in args or "-v" in args:
        for f in files:
            data = Path(f).read_bytes()
            for sl in macho.parse(data, f):
                macho.verify_signature(data, sl, f)
        return 0
    if ("--sign" in args or "-s" in args) and "-" in args:
        for f in files:
            macho.resign_adhoc(Path(f))
        return 0
    print(f"codesign stand-in: only --verify and ad-hoc '--force --sign -' are supported, got {list(args)}", file=sys.stderr)
    return 2


def lipo(args: Sequence[str]) -> int:
    if len(args) == 2 and args[0] == "-info":
        f = args[1]
        slices = macho.parse(Path(f).read_bytes(), f)
        archs = " ".join(s.arch for s in slices)
        if len(slices) == 1 and slices[0].offset == 0:
            print(f"Non-fat file: {f} is architecture: {archs}")
        else:
            print(f"Architectures in the fat file: {f} are: {archs}")
        return 0
    print(f"lipo stand-in: only -info is supported, got {list(args)}", file=sys.stderr)
    return 2


def main(argv: List[str]) -> int:
    if not argv or argv[0] not in TOOLS:
        print(f"usage: python -m megforge.release.standins {{{','.join(TOOLS)}}} ARGS...", file=sys.stderr)
        return 2
    try:
        return globals()[argv[0]](argv[1:])
    except (VerifyError, ToolchainError, OSError) as exc:
        print(f"{argv[0]} stand-in: {exc}", file=sys.stderr)
        return 1


def shim_dir(directory: Path) -> Path:
    """Write one executable per tool into ``directory`` (created) and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    src = Path(__file__).resolve().parents[2]
    for tool in TOOLS:
        shim = directory / tool
        shim.write_text(
            "#!/bin/sh\n"
            f"PYTHONPATH={src}${{PYTHONPATH:+:$PYTHONPATH}} exec {sys.executable} -m megforge.release.standins {tool} \"$@\"\n"
        )
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return directory


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
