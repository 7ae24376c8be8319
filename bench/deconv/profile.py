"""Instruction profile of a qemu_count `profile=` dump (aarch64 static binary).

Usage: python3 bench/deconv/profile.py <binary> <profile file> [top] [--blocks]
Maps each block's guest address to the enclosing symbol (aarch64-linux-gnu-nm) and prints
the functions by executed instructions, with their share of the total. With --blocks, prints
the translation blocks instead, by executed instructions other than FMLA (objdump gives each
block's mnemonics): where a kernel's loads, stores, copies and loop overhead go.
"""

from __future__ import annotations

import bisect
import subprocess
import sys
from collections import Counter


def read_dump(path: str) -> list[tuple[int, int, int]]:
    """(guest address, instructions in the block, executions) per line of the dump."""
    rows = []
    for line in open(path):
        vaddr, insns, execs = line.split()
        rows.append((int(vaddr, 16), int(insns), int(execs)))
    return rows


def functions(binary: str, dump: list[tuple[int, int, int]], top: int) -> None:
    nm = subprocess.run(["aarch64-linux-gnu-nm", "-C", "--defined-only", binary], capture_output=True, text=True, check=True)
    syms = sorted((int(a, 16), name) for a, _, name in (l.split(" ", 2) for l in nm.stdout.splitlines() if l.count(" ") >= 2))
    addrs = [a for a, _ in syms]
    per_fn: Counter[str] = Counter()
    for vaddr, insns, execs in dump:
        i = bisect.bisect_right(addrs, vaddr) - 1
        per_fn[syms[i][1] if i >= 0 else "?"] += insns * execs
    total = sum(per_fn.values())
    for name, n in per_fn.most_common(top):
        print(f"{n:>12} {100 * n / total:5.1f}%  {name[:110]}")


def blocks(binary: str, dump: list[tuple[int, int, int]], top: int) -> None:
    dis = subprocess.run(["aarch64-linux-gnu-objdump", "-d", "--no-show-raw-insn", binary],
                         capture_output=True, text=True, check=True).stdout
    mnemonic: dict[int, str] = {}
    for line in dis.splitlines():
        parts = line.strip().split("\t")
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1]:
            try:
                mnemonic[int(parts[0][:-1], 16)] = parts[1].split()[0]
            except ValueError:
                continue
    rows, others, fmla = [], 0, 0
    for vaddr, insns, execs in dump:
        names = [mnemonic.get(vaddr + 4 * k, "?") for k in range(insns)]
        f = sum(n == "fmla" for n in names)
        others += (insns - f) * execs
        fmla += f * execs
        rows.append(((insns - f) * execs, vaddr, insns, f, execs, Counter(n for n in names if n != "fmla")))
    print(f"other instructions {others}, fmla {fmla}, fmla share {100 * fmla / max(1, others + fmla):.1f}%")
    for total, vaddr, insns, f, execs, kinds in sorted(rows, reverse=True)[:top]:
        mix = " ".join(f"{k}:{v}" for k, v in kinds.most_common(6))
        print(f"{total:>10} others  block {vaddr:x}: {insns} insns, {f} fmla, x{execs}  [{mix}]")


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--blocks"]
    if len(args) < 2:
        sys.exit(__doc__)
    top = int(args[2]) if len(args) > 2 else 15
    (blocks if "--blocks" in sys.argv else functions)(args[0], read_dump(args[1]), top)


if __name__ == "__main__":
    main()
