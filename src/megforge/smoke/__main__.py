"""``python -m megforge.smoke [--require MOD] [CHECK ...]``: run smoke checks, exit 1 on failure."""

from __future__ import annotations

import argparse
import sys
import time
import traceback

from megforge.smoke import CHECKS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m megforge.smoke", description=__doc__)
    parser.add_argument("checks", nargs="*", help=f"checks to run (default: all): {', '.join(CHECKS)}")
    parser.add_argument("--require", action="append", default=[], help="module whose absence is a failure")
    args = parser.parse_args(argv)
    unknown = [c for c in args.checks if c not in CHECKS]
    if unknown:
        parser.error(f"unknown check(s) {unknown}; known: {', '.join(CHECKS)}")
    failed = 0
    for name in args.checks or list(CHECKS):
        check = CHECKS[name]
        missing = check.missing()
        if missing:
            required = [m for m in missing if m in args.require]
            print(f"{'FAIL' if required else 'SKIP'} {name}: needs {', '.join(missing)}", flush=True)
            failed += bool(required)
            continue
        start = time.perf_counter()
        try:
            detail = check.load()()
        except Exception:  # report and continue with the other checks
            failed += 1
            print(f"FAIL {name}:\n{traceback.format_exc()}", flush=True)
            continue
        print(f"PASS {name} ({time.perf_counter() - start:.1f} s): {detail}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
