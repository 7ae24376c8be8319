"""``megforge verify WHEEL...``: check wheels before publishing; non-zero exit on any problem."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="verify wheels: tags vs binaries, dependencies, signatures, RECORD")
    p.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from megforge.release.verify import verify_wheel

    failed = 0
    for path in args.wheels:
        if not path.is_file():
            print(f"FAIL {path}: no such file")
            failed += 1
            continue
        report = verify_wheel(path)
        if report.ok:
            print(f"OK   {path.name} ({len(report.binaries)} binaries checked)")
        else:
            failed += 1
            print(f"FAIL {path.name}")
            for problem in report.problems:
                print(f"     - {problem}")
    return 1 if failed else 0
