"""megforge deconvolution benchmark: NC4HW4 vs NCHW, aarch64 instruction counts + x86 wall clock.

    sh bench/deconv/setup.sh --openblas          # once: qemu plugin header, arm64 OpenBLAS, plot venv
    build/bench-venv/bin/python bench/deconv/run.py [--out DIR] [--repeats N] [--skip-peers]

In one run, for every shape of shapes.py:
 (a) aarch64 dynamic instructions per MAC under qemu (TCG plugin qemu_count.c, markers around
     one plan execute, 1 thread) for the NC4HW4 path (NC4HW4 tensors) and the NCHW path (NCHW
     tensors), their ratio, and the FMLA share of the NC4HW4 path;
 (b) x86 wall clock of the same two paths (SIMDe build of this machine's best ISA variant),
     median of repeats, 1 thread;
 (c) MegEngine 1.13 ($MGE_PYTHON, default the `tox -e py310` env) and PyTorch ($TORCH_PYTHON,
     default the `tox -e refs` env) conv_transpose2d, where installed, 1 thread;
 (d) the aarch64 anchor: Debian's arm64 OpenBLAS sgemm + the same col2im, counted the same way.
Writes DIR/results.md (table + geometric means + targets) and DIR/results.png.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from shapes import SHAPES, Shape  # noqa: E402

BUILD = ROOT / "build" / "bench-deconv"
SYSROOT = "/usr/aarch64-linux-gnu"


def sh(cmd: list[str], **kw) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def build() -> dict[str, Path]:
    """x86 library (preset linux-x86_64), aarch64 counting binaries, the qemu plugin."""
    sh(["cmake", "--preset", "linux-x86_64", f"-DPython_EXECUTABLE={sys.executable}"], cwd=ROOT / "native")
    sh(["cmake", "--build", "--preset", "linux-x86_64"], cwd=ROOT / "native")
    a64 = BUILD / "aarch64"
    sh(["cmake", "-S", str(HERE), "-B", str(a64), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
        f"-DCMAKE_TOOLCHAIN_FILE={ROOT / 'toolchains' / 'linux-aarch64.cmake'}",
        f"-DOPENBLAS_ARM64_ROOT={BUILD / 'arm64'}"])
    sh(["cmake", "--build", str(a64)])
    plugin = BUILD / "libqemu_count.so"
    header = BUILD / "qemu"
    if not (header / "qemu-plugin.h").exists():
        sys.exit("run bench/deconv/setup.sh first (qemu-plugin.h missing)")
    sh(["gcc", "-shared", "-fPIC", "-O2", f"-I{header}", str(HERE / "qemu_count.c"), "-o", str(plugin)])
    tools = {"count": a64 / "deconv_count", "plugin": plugin}
    if (a64 / "deconv_anchor").exists():
        tools["anchor"] = a64 / "deconv_anchor"
    return tools


def count(tools: dict[str, Path], binary: str, path: str, s: Shape) -> dict:
    """Instructions and FMLAs of one execute, between the markers, under qemu-aarch64."""
    out = BUILD / "count.txt"
    ob = BUILD / "arm64" / "usr" / "lib" / "aarch64-linux-gnu"
    cmd = ["qemu-aarch64", "-plugin", f"{tools['plugin']},out={out}", "-L", SYSROOT,
           "-E", f"LD_LIBRARY_PATH={ob / 'openblas-pthread'}:{ob}", "-E", "OPENBLAS_NUM_THREADS=1",
           "-E", "OPENBLAS_CORETYPE=NEOVERSEN1", str(tools[binary]), path, *s.args()]
    stdout = subprocess.run(cmd, check=True, capture_output=True, text=True, env={"PATH": os.environ["PATH"]}).stdout
    kernel = stdout.split()[1]
    region = next(line.split() for line in out.read_text().splitlines() if line.startswith("region"))
    insns, fmla = int(region[3]), int(region[5])
    return {"kernel": kernel, "ipm": insns / s.macs, "fmla_share": fmla / insns}


def time_ours(s: Shape, repeats: int) -> dict[str, float]:
    os.environ.setdefault("MEGFORGE_LIB_DIR", str(ROOT / "build" / "preset" / "linux-x86_64" / "deconv"))
    sys.path.insert(0, str(ROOT / "src"))
    from megforge import deconv

    deconv.set_num_threads(1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((s.n, s.cin, s.h, s.w), dtype=np.float32)
    w = rng.standard_normal((s.cin, s.cout // s.g, s.k, s.k), dtype=np.float32)
    b = rng.standard_normal(s.cout, dtype=np.float32)
    kw = dict(stride=s.s, padding=s.p, dilation=s.d, groups=s.g, output_padding=s.op)
    plans = {
        "nc4hw4": (deconv.DeconvPlan(w, b, layout="NC4HW4", algo="nc4hw4", **kw), deconv.to_nc4hw4(x)),
        "nchw": (deconv.DeconvPlan(w, b, layout="NCHW", algo="nchw", **kw), x),
    }
    times = {name: [] for name in plans}
    for name, (plan, xin) in plans.items():
        plan(xin)
    for _ in range(repeats):  # interleaved, so drift hits both paths alike
        for name, (plan, xin) in plans.items():
            t0 = time.perf_counter()
            plan(xin)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()} | {"isa": deconv.isa()}


def time_peer(peer: str, python: str, repeats: int) -> dict[str, float]:
    if not Path(python).exists():
        print(f"{peer}: not measured (no interpreter at {python}: run tox first, or set MGE_PYTHON / TORCH_PYTHON)",
              file=sys.stderr)
        return {}
    res = subprocess.run([python, str(HERE / "peers.py"), peer, str(repeats)], capture_output=True, text=True)
    if res.returncode != 0:
        print(f"{peer}: not measured ({res.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
        return {}
    return json.loads(res.stdout.strip().splitlines()[-1])


def geomean(values: list[float]) -> float:
    values = [v for v in values if v and v > 0]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


def target(what: str, met: bool, detail: str) -> str:
    """One line of the targets list: `met` or `MISSED`, then the offending shapes or the value."""
    return f"- {what}: {'met' if met else 'MISSED'} ({detail})" if met else f"- {what}: MISSED on {detail}"


def fmt(v: float | None, digits: int = 3) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=BUILD / "results")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--skip-peers", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    tools = build()
    rows = []
    for s in SHAPES:
        row = {"shape": s, "nc4": count(tools, "count", "nc4hw4", s), "nchw": count(tools, "count", "nchw", s)}
        row["anchor"] = count(tools, "anchor", "x", s) if "anchor" in tools else None
        row["x86"] = time_ours(s, args.repeats)
        rows.append(row)
        print(f"{s.name:34s} nc4hw4 {row['nc4']['ipm']:.3f} nchw {row['nchw']['ipm']:.3f} "
              f"x86 {row['x86']['nchw'] / row['x86']['nc4hw4']:.2f}x", file=sys.stderr)
    peers = {}
    if not args.skip_peers:
        tox = ROOT / ".tox"
        peers["MegEngine 1.13"] = time_peer("megengine", os.environ.get("MGE_PYTHON", str(tox / "py310/bin/python")),
                                            args.repeats)
        peers["PyTorch"] = time_peer("torch", os.environ.get("TORCH_PYTHON", str(tox / "refs/bin/python")),
                                     args.repeats)
    write_report(rows, peers, args.out, time.time() - started)


def write_report(rows: list[dict], peers: dict[str, dict], out: Path, seconds: float) -> None:
    isa = rows[0]["x86"]["isa"]
    peer_names = [p for p, v in peers.items() if v]
    head = ["shape", "MMAC", "NC4HW4 loop nest", "NC4HW4 insn/MAC", "FMLA share", "NCHW insn/MAC", "NCHW/NC4HW4",
            "OpenBLAS+col2im insn/MAC", "NCHW/OpenBLAS", f"x86 NC4HW4 ms", "x86 NCHW ms", "x86 NCHW/NC4HW4"]
    head += [f"x86 {p}/NC4HW4" for p in peer_names]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        s, a = r["shape"], r["anchor"]
        cells = [s.name, f"{s.macs / 1e6:.1f}", r["nc4"]["kernel"], fmt(r["nc4"]["ipm"]), f"{r['nc4']['fmla_share']:.1%}",
                 fmt(r["nchw"]["ipm"]), fmt(r["nchw"]["ipm"] / r["nc4"]["ipm"], 2), fmt(a["ipm"] if a else None),
                 fmt(r["nchw"]["ipm"] / a["ipm"] if a else None, 2), fmt(r["x86"]["nc4hw4"] * 1e3, 2),
                 fmt(r["x86"]["nchw"] * 1e3, 2), fmt(r["x86"]["nchw"] / r["x86"]["nc4hw4"], 2)]
        for p in peer_names:
            t = peers[p].get(s.name)
            cells.append(fmt(t / r["x86"]["nc4hw4"] if t else None, 2))
        lines.append("| " + " | ".join(cells) + " |")
    c32 = [r for r in rows if min(r["shape"].cin, r["shape"].cout) >= 32]  # dense and depthwise
    ratio = [r["nchw"]["ipm"] / r["nc4"]["ipm"] for r in rows]
    x86_ratio = [r["x86"]["nchw"] / r["x86"]["nc4hw4"] for r in rows]
    summary = [
        "",
        f"Geometric means over {len(rows)} shapes:",
        f"- aarch64 NCHW/NC4HW4 instructions: {geomean(ratio):.2f}x (min {min(ratio):.2f}x)",
        f"- x86 ({isa}) wall clock NCHW/NC4HW4: {geomean(x86_ratio):.2f}x (min {min(x86_ratio):.2f}x)",
    ]
    for p in peer_names:
        pr = [peers[p][r["shape"].name] / r["x86"]["nc4hw4"] for r in rows if r["shape"].name in peers[p]]
        summary.append(f"- x86 wall clock {p}/NC4HW4: {geomean(pr):.2f}x (min {min(pr):.2f}x)")
    if rows[0]["anchor"]:
        an = [r["nchw"]["ipm"] / r["anchor"]["ipm"] for r in rows]
        summary.append(f"- aarch64 NCHW/OpenBLAS-anchor instructions: {geomean(an):.2f}x (max {max(an):.2f}x)")
    summary += ["", "Targets (issue 3):"]
    missed = [r for r in c32 if r["nc4"]["ipm"] > 0.33 or r["nc4"]["fmla_share"] < 0.75]
    summary.append(target(
        f"NC4HW4 <= 0.33 insn/MAC and FMLA share >= 75% on every shape with min(C_in, C_out) >= 32, dense and "
        f"depthwise ({len(c32)} shapes)", not missed,
        "; ".join(f"{r['shape'].name} {r['nc4']['ipm']:.3f} insn/MAC, {r['nc4']['fmla_share']:.1%} FMLA" for r in missed)
        or f"worst {max(r['nc4']['ipm'] for r in c32):.3f} insn/MAC, lowest FMLA share "
           f"{min(r['nc4']['fmla_share'] for r in c32):.1%}"))
    slower = [r for r, q in zip(rows, ratio) if q < 1.0]
    summary.append(target("NC4HW4 >= 1.0x NCHW (aarch64 instructions) on every shape", not slower,
                          ", ".join(f"{r['shape'].name} {q:.2f}x" for r, q in zip(rows, ratio) if q < 1.0)
                          or f"min {min(ratio):.2f}x"))
    summary.append(target("NC4HW4 >= 1.4x NCHW (aarch64 instructions, geometric mean)", geomean(ratio) >= 1.4,
                          f"{geomean(ratio):.2f}x"))
    summary.append(target(f"x86 NC4HW4 >= 1.3x NCHW (wall clock, geometric mean)", geomean(x86_ratio) >= 1.3,
                          f"{geomean(x86_ratio):.2f}x"))
    if "MegEngine 1.13" in peer_names:
        pr = [peers["MegEngine 1.13"][r["shape"].name] / r["x86"]["nc4hw4"] for r in rows]
        summary.append(target("x86 NC4HW4 >= 1.5x MegEngine 1.13 (wall clock, geometric mean)", geomean(pr) >= 1.5,
                              f"{geomean(pr):.2f}x"))
    else:
        summary.append("- x86 NC4HW4 >= 1.5x MegEngine 1.13 (wall clock, geometric mean): not measured (no MegEngine)")
    if rows[0]["anchor"]:
        worse = [r for r, q in zip(rows, an) if q > 1.15]
        summary.append(target("NCHW within 1.15x of OpenBLAS + col2im (aarch64 instructions) on every shape", not worse,
                              ", ".join(f"{r['shape'].name} {q:.2f}x" for r, q in zip(rows, an) if q > 1.15)
                              or f"worst {max(an):.2f}x"))
    notes = [
        "",
        "Method: aarch64 counts are exact dynamic instruction counts of one plan execute (weights",
        "packed beforehand, one warm-up run, 1 thread) under qemu-aarch64 7.2 with the TCG plugin",
        "bench/deconv/qemu_count.c; MAC = N*H*W*C_in*C_out/groups*K*K for every path. x86 times are",
        f"medians of interleaved repeats on this machine, 1 thread, kernels = SIMDe {isa} build.",
        f"Total benchmark time {seconds:.0f} s.",
    ]
    text = "\n".join(["# megforge deconvolution benchmark", "", *lines, *summary, *notes]) + "\n"
    (out / "results.md").write_text(text)
    print(text)
    plot(rows, peers, peer_names, out / "results.png")


def plot(rows: list[dict], peers: dict, peer_names: list[str], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no chart (run setup.sh, use build/bench-venv/bin/python)", file=sys.stderr)
        return
    names = [r["shape"].name for r in rows]
    xs = np.arange(len(rows))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(14, 10), sharex=True)
    series = [("NC4HW4", [r["nc4"]["ipm"] for r in rows]), ("NCHW (GEMM+col2im)", [r["nchw"]["ipm"] for r in rows])]
    if rows[0]["anchor"]:
        series.append(("OpenBLAS sgemm + col2im", [r["anchor"]["ipm"] for r in rows]))
    width = 0.8 / len(series)
    for i, (label, vals) in enumerate(series):
        ax1.bar(xs + (i - (len(series) - 1) / 2) * width, vals, width, label=label)
    ax1.axhline(0.33, color="k", ls="--", lw=0.8, label="target 0.33")
    ax1.axhline(0.25, color="grey", ls=":", lw=0.8, label="floor 0.25 (1 fmla.4s = 4 MAC)")
    ax1.set_yscale("log")
    ax1.set_ylabel("aarch64 instructions / MAC (log)")
    ax1.legend(fontsize=8)
    ax1.set_title("aarch64 (qemu): dynamic instructions per multiply-accumulate, lower is better")
    x86 = [("NCHW / NC4HW4", [r["x86"]["nchw"] / r["x86"]["nc4hw4"] for r in rows])]
    for p in peer_names:
        x86.append((f"{p} / NC4HW4", [peers[p].get(r["shape"].name, np.nan) / r["x86"]["nc4hw4"] for r in rows]))
    width = 0.8 / len(x86)
    for i, (label, vals) in enumerate(x86):
        ax2.bar(xs + (i - (len(x86) - 1) / 2) * width, vals, width, label=label)
    ax2.axhline(1.0, color="k", lw=0.8)
    ax2.set_yscale("log")
    ax2.set_ylabel("x86 time ratio (other / NC4HW4), log")
    ax2.set_title(f"x86 wall clock, 1 thread: speed-up of the NC4HW4 path ({rows[0]['x86']['isa']} SIMDe build)")
    ax2.legend(fontsize=8)
    ax2.set_xticks(xs)
    ax2.set_xticklabels(names, rotation=40, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    if shutil.which("qemu-aarch64") is None:
        sys.exit("qemu-aarch64 missing: run bench/deconv/setup.sh")
    main()
