"""One side of the benchmark: python measure.py MODEL CONFIG INPUT_MODE WARMUP

Loads MODEL through megenginelite (the official library, or libmegforge_lite when LITE_LIB_PATH
says so) with CONFIG "default" (Lite's defaults), "record" (comp_node_seq_record_level=1) or
"inplace" (CPU inplace mode: kernels run on the calling thread), writes the input once, runs
WARMUP forwards and prints "ready". Then, for each line "N [W [GAP_MS]]" on stdin, runs W
untimed forwards, then times N forward + wait calls one by one (sleeping GAP_MS before each) and
prints them as a JSON list of nanoseconds; on "q" prints the fork layer's
bytes copied and spin counters (answers polled for / caught while polling) since "ready", and an
output checksum. INPUT_MODE "inplace": the input
is written into the tensor's own memory (zero-copy); "share": the input tensor is bound to a
numpy array with set_data_by_share (caller memory)."""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time

import numpy as np
from megenginelite import LiteConfig, LiteNetwork


class _Stats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("calls", "forwards", "bytes_copied", "workers_started",
                                               "workers_lost", "shm_blocks_mapped", "spin_waits", "spin_caught",
                                               "spin_contended")]


def counters() -> dict:
    """The fork layer's bytes copied and spin counters (zeros on the official library)."""
    path = os.environ.get("LITE_LIB_PATH")
    s = _Stats()
    if path:
        ctypes.CDLL(path).mgf_lite_fork_get_stats(ctypes.byref(s), ctypes.sizeof(s))
    return {n: int(getattr(s, n)) for n in ("bytes_copied", "spin_waits", "spin_caught", "spin_contended")}


model, mode, input_mode, warmup = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
config = LiteConfig()
if mode == "record":
    config.options.comp_node_seq_record_level = 1
net = LiteNetwork(config)
if mode == "inplace":
    net.enable_cpu_inplace_mode()
net.load(model)
data = net.get_io_tensor("data")
value = np.random.default_rng(0).standard_normal(data.layout.shapes).astype(np.float32)
if input_mode == "share":
    data.set_data_by_share(value)
else:
    data.get_data_by_share()[...] = value
out = net.get_io_tensor("out")
for _ in range(warmup):
    net.forward()
    net.wait()
before = counters()
clock = time.perf_counter_ns
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "q":
        break
    fields = line.split()
    n, warm, gap = int(fields[0]), int(fields[1]) if len(fields) > 1 else 0, float(fields[2]) / 1e3 if len(fields) > 2 else 0.0
    for _ in range(warm):
        net.forward()
        net.wait()
    times = []
    for _ in range(n):
        if gap:
            time.sleep(gap)
        t0 = clock()
        net.forward()
        net.wait()
        times.append(clock() - t0)
    print(json.dumps(times), flush=True)
checksum = float(np.asarray(out.get_data_by_share()).astype(np.float64).sum())
after = counters()
print(json.dumps({**{k: after[k] - before[k] for k in after}, "checksum": checksum}), flush=True)
