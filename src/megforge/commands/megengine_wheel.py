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
    p.add_argument("--smoke", action="store_true",
                   help="then install megengine + megforge from the wheelhouse into a fresh venv and run the smoke checks")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from megforge.errors import ToolchainError
    from megforge.release.redistribute import redistribute, smoke

    from megforge.release.targets import host_target, source_root

    root = source_root(args.source)
    wheelhouse = (args.wheelhouse or root / "wheelhouse").resolve()
    exe = args.python_exe or shutil.which(f"python{args.python}")
    if exe is None:
        raise ToolchainError(f"CPython {args.python} not found on PATH (pass --python-exe); MegEngine needs it")
    wheel = redistribute(root, args.python, host_target() or "unknown", wheelhouse, exe)
    print(f"megengine: {wheel.name} published to {wheelhouse}")
    if args.smoke:
        result = smoke(root, wheelhouse, exe)
        print(result.stdout + result.stderr, end="")
        return result.returncode
    return 0
