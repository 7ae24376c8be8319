"""One benchmark process: python measure.py MODEL N_WARMUP N_ITER CONFIG INPUT_MODE.

Loads MODEL through megenginelite (the official library, or libmegforge_lite when LITE_LIB_PATH
says so) with CONFIG "default" (Lite's defaults), "record" (comp_node_seq_record_level=1) or
"inplace" (CPU inplace mode: kernels run on the calling thread), writes the input once, then
times N_ITER forward + wait calls one by one. INPUT_MODE
"inplace": input written into the tensor's own memory (zero-copy); "share": the input tensor is
bound to a numpy array with set_data_by_share (caller memory). Prints JSON: per-forward
nanoseconds, and the fork layer's bytes copied over the timed forwards."""

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
                                               "workers_lost", "shm_blocks_mapped")]


def copied() -> int:
    path = os.environ.get("LITE_LIB_PATH")
    if not path:
        return 0
    s = _Stats()
    ctypes.CDLL(path).mgf_lite_fork_get_stats(ctypes.byref(s), ctypes.sizeof(s))
    return int(s.bytes_copied)


model, warmup, iters, mode, input_mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
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
before = copied()
times = []
clock = time.perf_counter_ns
for _ in range(iters):
    t0 = clock()
    net.forward()
    net.wait()
    times.append(clock() - t0)
after = copied()
checksum = float(np.asarray(out.get_data_by_share()).astype(np.float64).sum())
print(json.dumps({"ns": times, "bytes_copied": after - before, "checksum": checksum}))
