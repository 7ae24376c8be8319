"""Fork mode over many objects and threads with the official library:
python lite_stress.py MODEL CYCLES (LITE_LIB_PATH, LITE_FORK_MODE=1 set).

Counts descriptors, /dev/shm entries and child processes after one warm-up cycle and again after
CYCLES create/forward/destroy cycles; then 4 threads drive their own networks at once. Prints
JSON with the counts, wrong results and worker ids."""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import numpy as np
from megenginelite import LiteNetwork

from common import inputs_for, our_lib, stats

model, cycles = sys.argv[1], int(sys.argv[2])
model_bytes = open(model, "rb").read()
lib = our_lib()
inputs = inputs_for(1, 8, seed=5)


def children() -> int:
    me = str(os.getpid())
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                stat = open(f"/proc/{pid}/stat").read()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == me:
                n += 1
    return n


def snapshot():
    return {"fds": len(os.listdir("/proc/self/fd")), "dev_shm": len(os.listdir("/dev/shm")), "children": children(),
            "shm_blocks_mapped": stats()["shm_blocks_mapped"]}


def cycle(data: dict) -> np.ndarray:
    net = LiteNetwork()
    net.load(model)
    for name, value in data.items():
        tensor = net.get_io_tensor(name)
        tensor.layout = list(value.shape)
        tensor.get_data_by_share()[...] = value  # in place: no copies
    net.forward()
    net.wait()
    out = net.get_io_tensor("logits").to_numpy()
    del net
    return out


reference = cycle(inputs)
pid = lib.mgf_lite_fork_worker_pid()
before = snapshot()
wrong = sum(not np.array_equal(cycle(inputs), reference) for _ in range(cycles))
after = snapshot()

# Four threads, each with its own network and inputs, at once.
expected = {k: cycle(inputs_for(1, 8, seed=100 + k)) for k in range(4)}
errors = [0] * 4


def drive(k: int) -> None:
    net = LiteNetwork()
    net.load(model)
    data = inputs_for(1, 8, seed=100 + k)
    for _ in range(50):
        for name, value in data.items():
            net.get_io_tensor(name).set_data_by_copy(value)
        net.forward()
        net.wait()
        errors[k] += not np.array_equal(net.get_io_tensor("logits").to_numpy(), expected[k])


threads = [threading.Thread(target=drive, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
# Thread.join returns once the Python thread is done, a moment before the OS thread exits and
# its thread-local channel to the worker is closed: give the teardown a moment.
deadline = time.monotonic() + 5
while snapshot() != before and time.monotonic() < deadline:
    time.sleep(0.01)
print(json.dumps({"before": before, "after": after, "wrong_cycles": wrong, "thread_errors": errors,
                  "same_worker": lib.mgf_lite_fork_worker_pid() == pid, "stats": stats(),
                  "after_threads": snapshot()}))
