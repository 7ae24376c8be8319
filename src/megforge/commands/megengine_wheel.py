"""``megforge megengine-wheel``: the patched MegEngine redistribution, into the wheelhouse."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("megengine-wheel",
                       help="patch the pinned official MegEngine wheel (patches/) and publish it with its dependencies")
    p.add_argument("--python", default="3.10", help="CPython version of the official wheel (default 3.10)")
    p.add_argument("--python-exe", default=None,
                   help="that interpreter, for collecting dependency wheels and the smoke venv (default: python<ver> on PATH)")
    p.add_argument("--wheelhouse", type=Path, default=None, help="output directory (default: <checkout>/wheelhouse)")
    p.add_argument("--source", type=Path, default=None, help="megforge checkout (default: the one in use)")
    p.add_argument("--if-available", action="store_true",
                   help="exit 0 with a message when no official MegEngine wheel exists for this host")
    p.add_argument("--smoke", action="store_true",
                   help="then install megengine + megforge from the wheelhouse into a fresh venv and run the smoke checks")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from megforge.errors import ToolchainError
    from megforge.release.redistribute import redistribute, smoke
    from megforge.release.targets import host_target, source_root

    from megforge.release.megengine import load_pins

    root = source_root(args.source)
    wheelhouse = (args.wheelhouse or root / "wheelhouse").resolve()
    host = host_target() or "unknown"
    if args.if_available and not any(p.python == args.python and p.target == host for p in load_pins(root)):
        print(f"megengine-wheel: no official MegEngine {args.python} wheel exists for {host}; nothing to redistribute")
        return 0
    exe = args.python_exe or shutil.which(f"python{args.python}")
    if exe is None:
        raise ToolchainError(f"CPython {args.python} not found on PATH (pass --python-exe); MegEngine needs it")
    wheel = redistribute(root, args.python, host, wheelhouse, exe)
    print(f"megengine: {wheel.name} published to {wheelhouse}")
    if args.smoke:
        result = smoke(root, wheelhouse, exe)
        print(result.stdout + result.stderr, end="")
        return result.returncode
    return 0
