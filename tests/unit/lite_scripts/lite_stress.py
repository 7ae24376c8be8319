"""Fork mode over many objects and threads with the official library:
python lite_stress.py MODEL CYCLES (LITE_LIB_PATH, LITE_FORK_MODE=1 set).

Counts descriptors, /dev/shm entries, shared-memory mappings and child processes (and the
worker's own descriptors and mappings) after one warm-up cycle and again after CYCLES
create/forward/destroy cycles; then 4 threads drive their own networks at once. Prints JSON with
the counts, wrong results, worker ids and the cycles' run time."""

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


def shm_maps(pid: str = "self") -> int:
    """Mappings of shared-memory blocks (memfd on Linux, /dev/shm objects elsewhere)."""
    with open(f"/proc/{pid}/maps") as f:
        return sum(("memfd:" in line or "/dev/shm/" in line) for line in f)


def snapshot():
    worker = str(lib.mgf_lite_fork_worker_pid())
    return {"fds": len(os.listdir("/proc/self/fd")), "dev_shm": len(os.listdir("/dev/shm")), "children": children(),
            "shm_maps": shm_maps(), "shm_blocks_mapped": stats()["shm_blocks_mapped"],
            "worker_fds": len(os.listdir(f"/proc/{worker}/fd")), "worker_shm_maps": shm_maps(worker)}


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
live_net = LiteNetwork()  # the counters see blocks while a network holds them
live_net.load(model)
for name, value in inputs.items():
    live_net.get_io_tensor(name).get_data_by_share()[...] = value
live_net.forward()
live_net.wait()
live = snapshot()
del live_net
before = snapshot()
start = time.monotonic()
wrong = sum(not np.array_equal(cycle(inputs), reference) for _ in range(cycles))
seconds = time.monotonic() - start
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


start_threads = time.monotonic()
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
print(json.dumps({"live": live, "before": before, "after": after, "wrong_cycles": wrong, "thread_errors": errors, "cycles": cycles,
                  "cycle_seconds": seconds, "thread_seconds": time.monotonic() - start_threads,
                  "same_worker": lib.mgf_lite_fork_worker_pid() == pid, "stats": stats(),
                  "after_threads": snapshot()}))
