"""Smoke checks that need only megforge's own wheel (and numpy)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np


def deconv() -> str:
    from megforge import deconv as d
    from megforge.testing import conv_transpose2d_reference, relative_error

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 9, 7), dtype=np.float32)
    w = rng.standard_normal((6, 10, 4, 4), dtype=np.float32)
    want = conv_transpose2d_reference(x, w, stride=2, padding=1)
    ran = []
    for algo in ("auto", "naive", "nchw", "nc4hw4"):
        for layout in ("NCHW", "NC4HW4"):
            try:
                plan = d.DeconvPlan(w, stride=2, padding=1, layout=layout, algo=algo)
            except d.UnsupportedError:
                continue
            src = d.to_nc4hw4(x) if layout == "NC4HW4" else x
            got = plan(src)
            if layout == "NC4HW4":
                got = d.from_nc4hw4(got, 10)
            err = relative_error(got, want)
            if not err <= 1e-4:
                raise AssertionError(f"deconv algo={algo} layout={layout}: relative error {err:.3g}")
            ran.append(f"{algo}/{layout}->{plan.algo}")
    return "ok: " + ", ".join(ran)


def cli() -> str:
    out = subprocess.run([sys.executable, "-m", "megforge", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()
