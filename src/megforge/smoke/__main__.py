"""``python -m megforge.smoke [--require MOD] [--must-pass CHECK] [CHECK ...]``: run smoke checks,
exit 1 on failure. A check whose modules are missing is skipped, unless one of them is a
``--require`` module or the check is a ``--must-pass`` one: then the skip is a failure."""

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
    parser.add_argument("--must-pass", action="append", default=[], metavar="CHECK",
                        help="check that must PASS, run even if not selected: a skip is a failure (repeatable)")
    args = parser.parse_args(argv)
    unknown = [c for c in args.checks + args.must_pass if c not in CHECKS]
    if unknown:
        parser.error(f"unknown check(s) {unknown}; known: {', '.join(CHECKS)}")
    selected = list(args.checks or CHECKS)
    selected += [c for c in args.must_pass if c not in selected]
    failed = 0
    for name in selected:
        check = CHECKS[name]
        missing = check.missing()
        if missing:
            required = [m for m in missing if m in args.require]
            must = name in args.must_pass
            print(f"{'FAIL' if required or must else 'SKIP'} {name}: needs {', '.join(missing)}"
                  f"{' (must pass)' if must else ''}", flush=True)
            failed += bool(required) or must
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
