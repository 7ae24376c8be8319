"""Benchmark of LITE fork mode: per-forward latency in-process vs fork mode, and tensor bytes
copied per forward. Run with MegEngine's Python (see README.md):

    /root/venvs/mge310/bin/python bench/lite_fork/run.py --out bench/lite_fork/results

Models (models.py, random weights, dumped here): "tiny" (one 3x3 conv on 1x3x16x16) and
"resnet18" (ResNet-18 at 1x3x224x224). Every (model, config) is measured in alternating rounds
official / fork mode (separate processes: the mode is fixed when the library loads), each round
timing every forward + wait; p50 / p99 pool all rounds. Inputs are written once into the
tensor's own memory (zero-copy in fork mode); a separate fork-mode run binds the input to caller
memory (set_data_by_share) to show that documented copy. Writes results.md and results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "src"))
sys.path.insert(0, str(HERE))

import models  # noqa: E402
import megforge.lite as lite  # noqa: E402

# (model, config, warm-up forwards, timed forwards per round)
CASES = [("tiny", "default", 200, 2000), ("tiny", "record", 200, 2000), ("tiny", "inplace", 200, 2000),
         ("resnet18", "default", 3, 15)]
TARGETS = {"tiny": ("added p50 <= 30 us", lambda off, fork: fork - off <= 30.0),
           "resnet18": ("added p50 <= 5%", lambda off, fork: fork <= off * 1.05)}


def measure(model: Path, warmup: int, iters: int, config: str, fork: bool, input_mode: str = "inplace") -> Dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITE_", "MEGFORGE_LITE_"))}
    if fork:
        env.update(lite.environment(fork=True))
    cmd = [sys.executable, str(HERE / "measure.py"), str(model), str(warmup), str(iters), config, input_mode]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pct(samples: List[int], q: float) -> float:
    return float(np.percentile(np.asarray(samples, dtype=np.float64), q)) / 1e3  # us


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE / "results", help="directory for models and results")
    parser.add_argument("--rounds", type=int, default=5, help="alternating official / fork rounds per case")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in ("tiny", "resnet18"):
        paths[name] = args.out / f"{name}.mge"
        if not paths[name].exists():
            models.dump(name, paths[name])

    rows = []
    for name, config, warmup, iters in CASES:
        samples = {False: [], True: []}
        copied, checksums = 0, set()
        for _ in range(args.rounds):
            for fork in (False, True):
                r = measure(paths[name], warmup, iters, config, fork)
                samples[fork] += r["ns"]
                checksums.add(round(r["checksum"], 3))
                copied += r["bytes_copied"] if fork else 0
        off50, fork50 = pct(samples[False], 50), pct(samples[True], 50)
        label, ok = TARGETS[name]
        rows.append({"model": name, "config": config, "forwards": len(samples[True]),
                     "official_p50_us": off50, "official_p99_us": pct(samples[False], 99),
                     "fork_p50_us": fork50, "fork_p99_us": pct(samples[True], 99),
                     "added_p50_us": fork50 - off50, "added_p50_pct": 100 * (fork50 - off50) / off50,
                     "bytes_copied_per_forward": copied / len(samples[True]),
                     "same_outputs": len(checksums) == 1, "target": label, "met": ok(off50, fork50)})
        print(json.dumps(rows[-1]), flush=True)

    # Caller memory bound with set_data_by_share: copied in before every forward (documented).
    shared = measure(paths["tiny"], 200, 2000, "default", True, "share")
    share_row = {"bytes_copied_per_forward": shared["bytes_copied"] / len(shared["ns"]),
                 "input_bytes": int(np.prod(models.SHAPES["tiny"])) * 4, "fork_p50_us": pct(shared["ns"], 50)}
    (args.out / "results.json").write_text(json.dumps({"rows": rows, "caller_memory": share_row}, indent=1))

    lines = ["| model | config | forwards | official p50 / p99 (us) | fork p50 / p99 (us) | added p50 | "
             "tensor bytes copied / forward | target | met |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['config']} | {r['forwards']} | {r['official_p50_us']:.1f} / "
                     f"{r['official_p99_us']:.1f} | {r['fork_p50_us']:.1f} / {r['fork_p99_us']:.1f} | "
                     f"{r['added_p50_us']:+.1f} us ({r['added_p50_pct']:+.2f}%) | {r['bytes_copied_per_forward']:.0f} | "
                     f"{r['target']}, 0 copies | {'yes' if r['met'] and r['bytes_copied_per_forward'] == 0 else 'no'} |")
    lines.append("")
    lines.append(f"Caller memory (tiny, default, input bound with set_data_by_share): "
                 f"{share_row['bytes_copied_per_forward']:.0f} bytes copied per forward (the "
                 f"{share_row['input_bytes']}-byte input, copied into shared memory at submit), fork p50 "
                 f"{share_row['fork_p50_us']:.1f} us.")
    table = "\n".join(lines)
    (args.out / "results.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
