"""Per-function instruction profile of a qemu_count `profile=` dump (aarch64 static binary).

Usage: python3 bench/deconv/profile.py <binary> <profile file> [top]
Maps each block's guest address to the enclosing symbol (aarch64-linux-gnu-nm) and prints
the functions by executed instructions, with their share of the total.
"""

from __future__ import annotations

import bisect
import subprocess
import sys
from collections import Counter


def main() -> None:
    binary, dump = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    nm = subprocess.run(["aarch64-linux-gnu-nm", "-C", "--defined-only", binary], capture_output=True, text=True, check=True)
    syms = sorted((int(a, 16), name) for a, _, name in (l.split(" ", 2) for l in nm.stdout.splitlines() if l.count(" ") >= 2))
    addrs = [a for a, _ in syms]
    per_fn: Counter[str] = Counter()
    for line in open(dump):
        vaddr, insns, execs = line.split()
        i = bisect.bisect_right(addrs, int(vaddr, 16)) - 1
        per_fn[syms[i][1] if i >= 0 else "?"] += int(insns) * int(execs)
    total = sum(per_fn.values())
    for name, n in per_fn.most_common(top):
        print(f"{n:>12} {100 * n / total:5.1f}%  {name[:110]}")


if __name__ == "__main__":
    main()
