"""Faults of the fork-mode worker under the official library, through megenginelite:
python lite_faults.py MODEL (LITE_LIB_PATH, LITE_FORK_MODE=1, LITE_FORK_TIMEOUT_MS set).
Prints JSON {case: {"error": message of the failed forward, "polled": how many of its waits polled
for the answer (spin_waits), "recovered": outputs equal after},
"overwrite": {...}}: worker killed (SIGKILL, SIGSEGV) or hung during a forward, the same crashes
with SIGCHLD ignored, and caller memory overwritten while a forward that reads it is in flight."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

import numpy as np
from megenginelite import LiteNetwork

from common import inputs_for, our_lib, stats

model = sys.argv[1]
lib = our_lib()


def set_inputs(net):
    for name, value in inputs_for(1, 8, seed=3).items():
        net.get_io_tensor(name).set_data_by_copy(value)


def run(net):
    set_inputs(net)
    net.forward()
    net.wait()
    return net.get_io_tensor("logits").to_numpy()


def network(hook=None):
    lib.mgf_lite_fork_shutdown()
    if hook:
        os.environ["MEGFORGE_LITE_FORK_TEST_HOOK"] = hook  # read by the worker when it starts
    net = LiteNetwork()
    net.load(model)
    os.environ.pop("MEGFORGE_LITE_FORK_TEST_HOOK", None)
    return net


reference = run(network())
report = {}
CASES = [("sigkill", "forward=sigkill"), ("sigsegv", "forward=sigsegv"), ("hang", "forward=hang"),
         # A caller that ignores SIGCHLD: the system discards the worker's exit status.
         ("sigsegv_sigchld_ignored", "forward=sigsegv"), ("sigkill_sigchld_ignored", "forward=sigkill")]
for case, hook in CASES:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN if case.endswith("_sigchld_ignored") else signal.SIG_DFL)
    contended = stats()["spin_contended"]  # from the start of the next worker on
    net = network(hook)
    pid = lib.mgf_lite_fork_worker_pid()
    set_inputs(net)
    polled = stats()["spin_waits"]
    try:
        net.forward()
        error = None
    except RuntimeError as exc:
        error = str(exc)
    polled = stats()["spin_waits"] - polled
    contended = stats()["spin_contended"] - contended
    try:
        net.forward()
        again = None
    except RuntimeError as exc:
        again = str(exc)
    reaped = True
    try:
        os.waitpid(pid, os.WNOHANG)
        reaped = False
    except ChildProcessError:
        pass
    fresh = LiteNetwork()  # the next network starts a new worker
    fresh.load(model)
    report[case] = {
        "error": error,
        "polled": polled,
        "contended": contended,
        "again": again,
        "reaped": reaped,
        "new_worker": lib.mgf_lite_fork_worker_pid() not in (0, pid),
        "recovered": bool(np.array_equal(run(fresh), reference)),
    }
signal.signal(signal.SIGCHLD, signal.SIG_DFL)
# Caller memory (set_data_by_share) overwritten 100 ms into a forward that the worker holds for
# 300 ms: the forward computes on what the caller had when it submitted.
net = network("forward=delay:300")
inputs = inputs_for(1, 8, seed=3)
for name, value in inputs.items():
    net.get_io_tensor(name).set_data_by_share(value)
scribbler = threading.Thread(target=lambda: (time.sleep(0.1), inputs["data"].fill(1000.0)))
scribbler.start()
net.forward()
net.wait()
scribbler.join()
report["overwrite"] = {"scribbled": bool((inputs["data"] == 1000.0).all()),
                       "same_as_submitted": bool(np.array_equal(net.get_io_tensor("logits").to_numpy(), reference))}
print(json.dumps(report))
