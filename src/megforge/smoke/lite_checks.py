"""Smoke checks of the drop-in LITE library (megforge.lite) from an installed wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# Run by the checks below in a subprocess: the library reads LITE_FORK_MODE when it is loaded.
_FORWARD = r"""
import json, sys
import numpy as np
from megenginelite import LiteNetwork
net = LiteNetwork()
net.load(sys.argv[1])
x = np.arange(2 * 3 * 5 * 5, dtype=np.float32).reshape(2, 3, 5, 5) / 50
net.get_io_tensor("data").set_data_by_copy(x)
net.forward()
net.wait()
print(json.dumps(net.get_io_tensor("out").to_numpy().tolist()))
"""

# Appended to _FORWARD where megenginelite's library is megforge's drop-in one (the
# redistribution): which mode served the forward, and the worker's pid (0: none).
REPORT_MODE = r"""
from megenginelite.base import _lib
print("fork-mode", _lib.lib.mgf_lite_fork_mode(), "worker", _lib.lib.mgf_lite_fork_worker_pid())
"""


def dump_conv_model(path: Path) -> None:
    """A traced, dumped Conv2d(3->4, k3) + ReLU: input "data" (2, 3, 5, 5), output "out"."""
    import megengine as mge
    import megengine.functional as F
    import megengine.module as M
    from megengine.jit import trace

    mge.random.seed(0)
    conv = M.Conv2d(3, 4, 3, padding=1)
    conv.eval()

    @trace(symbolic=True, capture_as_const=True)
    def infer(x):
        return F.relu(conv(x))

    infer(mge.tensor(np.zeros((2, 3, 5, 5), np.float32)))
    infer.dump(str(path), arg_names=["data"], output_names=["out"])


def run_forward(model: Path, env: dict, report_mode: bool = False) -> tuple:
    """Run the megenginelite program above on ``model`` in a fresh process with ``env`` added to
    this environment minus every ``LITE_*`` / ``MEGFORGE_LITE_*`` variable; returns
    (output as nested lists, the program's last line before it)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LITE_", "MEGFORGE_LITE_"))}
    script = _FORWARD + (REPORT_MODE if report_mode else "")
    proc = subprocess.run([sys.executable, "-c", script, str(model)], env={**base, **env},
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"forward failed (env {env}): {proc.stderr[-2000:]}")
    lines = proc.stdout.strip().splitlines()
    if report_mode:
        return json.loads(lines[-2]), lines[-1]
    return json.loads(lines[-1]), ""


def worker() -> str:
    """The library loads, and its worker executable starts on this platform (dependencies resolve)."""
    from megforge import lite

    path = lite.worker_path()
    proc = subprocess.run([str(path)], capture_output=True, text=True, timeout=60)
    if proc.returncode != 2 or "started by libmegforge_lite" not in proc.stderr:
        raise AssertionError(f"{path} exited with {proc.returncode}: {proc.stderr.strip()}")
    if lite.stats().mode != 0:
        raise AssertionError("LITE_FORK_MODE is unset, yet the library is not in pass-through mode")
    return f"{lite.library_path().name} + {path.name}"


def fork_mode() -> str:
    """A megenginelite program gives the same output with LITE_FORK_MODE=1 as in-process."""
    from megforge import lite

    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "conv.mge"
        dump_conv_model(model)
        outputs = [run_forward(model, env)[0] for env in ({}, lite.environment(fork=True, timeout_ms=120000))]
    if outputs[0] != outputs[1]:
        raise AssertionError("fork mode output differs from the official library's")
    return "fork-mode output identical to in-process"
