"""Write parity fixtures from the reference (PyTorch) implementations.

Runs in the ``refs`` tox env (Python 3.11, torch CPU). Every ``make_<name>.py``
beside this file exposes ``main(out_dir: pathlib.Path) -> None`` and writes
seeded random-weight models in the reference's own file formats plus inputs and
outputs under ``out_dir/<name>/``. The MegEngine side (py310 env) reads them.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="fixtures directory")
    parser.add_argument("only", nargs="*", help="fixture sets to make (default: all)")
    args = parser.parse_args(argv)
    makers = sorted(HERE.glob("make_*.py"))
    makers = [m for m in makers if m.stem != "make_fixtures"]
    if args.only:
        makers = [m for m in makers if m.stem[len("make_"):] in args.only]
    for path in makers:
        name = path.stem[len("make_"):]
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        start = time.perf_counter()
        out = args.out / name
        out.mkdir(parents=True, exist_ok=True)
        module.main(out)
        print(f"fixtures {name}: {time.perf_counter() - start:.1f} s -> {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
