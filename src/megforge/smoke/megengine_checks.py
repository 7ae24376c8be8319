"""Smoke checks of the patched MegEngine redistribution (megengine 1.13.0+megforge.N)."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import re

import numpy as np

from megforge.smoke.lite_checks import REPORT_MODE, dump_conv_model, run_forward


def install() -> str:
    """Metadata pins, the local version, and an import that needs no pkg_resources."""
    version = md.version("megengine")
    if "+megforge." not in version:
        raise AssertionError(f"installed megengine {version} is not the megforge redistribution")
    requires = {re.split(r"[ ;(<>=!~]", r, 1)[0].lower(): r for r in md.requires("megengine") or []}
    for name, needle in (("numpy", "<2"), ("opencv-python", "<4.12")):
        if needle not in requires.get(name, "").replace(" ", ""):
            raise AssertionError(f"megengine metadata lacks {name}{needle}: {requires.get(name)!r}")
    if int(np.__version__.split(".")[0]) >= 2:
        raise AssertionError(f"numpy {np.__version__} installed next to megengine")
    has_pkg_resources = importlib.util.find_spec("pkg_resources") is not None
    import megengine  # noqa: F401
    import megenginelite  # noqa: F401

    return (f"megengine {version}, numpy {np.__version__}, setuptools {md.version('setuptools')} "
            f"({'with' if has_pkg_resources else 'without'} pkg_resources)")


def conv_transpose2d_output_padding() -> str:
    """F.conv_transpose2d with output_padding: int arguments and groups > 1 (patch 0003)."""
    import megengine as mge
    import megengine.functional as F

    from megforge.testing import conv_transpose2d_reference, relative_error

    rng = np.random.default_rng(1)
    cases = [dict(stride=2, padding=1, output_padding=1, groups=1),
             dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=1),
             dict(stride=2, padding=1, output_padding=(0, 1), groups=2),
             dict(stride=3, padding=0, output_padding=2, groups=4)]
    for case in cases:
        g = case["groups"]
        x = rng.standard_normal((2, 8, 5, 6), dtype=np.float32)
        w = rng.standard_normal((8, 12 // g, 3, 3), dtype=np.float32)
        mw = w if g == 1 else w.reshape(g, 8 // g, 12 // g, 3, 3)  # MegEngine's grouped layout
        got = F.conv_transpose2d(mge.tensor(x), mge.tensor(mw), **case).numpy()
        want = conv_transpose2d_reference(x, w, **case)
        if got.shape != want.shape or relative_error(got, want) > 1e-4:
            raise AssertionError(f"{case}: got {got.shape}, want {want.shape}")
    return f"{len(cases)} output_padding cases match the numpy reference"


def bool_mask_assignment() -> str:
    """t[bool_tensor_mask] = python_scalar is deterministic and right (patch 0004)."""
    import megengine as mge

    for trial in range(40):
        rng = np.random.default_rng(trial)
        a = rng.standard_normal((37, 53)).astype(np.float32)
        mask = a > 0.3
        t = mge.tensor(a)
        t[mge.tensor(mask)] = 5.0
        want = a.copy()
        want[mask] = 5.0
        if not np.array_equal(t.numpy(), want):
            raise AssertionError(f"trial {trial}: {int((t.numpy() != want).sum())} wrong elements")
    return "40 seeded trials exact"


# Lite side of conv_transpose2d_nchw44, run as a fresh process with no megengine import: the op
# library (found beside libmegengine_shared.so in the installed megengine) is loaded RTLD_GLOBAL
# before the dumped model, as a MegEngine Lite program does.
_LITE_SCRIPT = """
import ctypes, importlib.util, os, sys
import numpy as np
import megenginelite as lite
model, x_path, y_path, load_op = sys.argv[1:]
if load_op == "load-op":  # what a Lite program may do; megforge's Lite library also loads the op itself
    megengine_dir = importlib.util.find_spec("megengine").submodule_search_locations[0]
    ctypes.CDLL(os.path.join(megengine_dir, "core", "lib", "libmegforge_mge_op.so"), mode=ctypes.RTLD_GLOBAL)
net = lite.LiteNetwork()
net.load(model)
net.get_io_tensor("x").set_data_by_copy(np.load(x_path))
net.forward()
net.wait()
np.save(y_path, net.get_io_tensor(net.get_all_output_name()[0]).to_numpy())
""" + REPORT_MODE  # megenginelite's library is megforge's drop-in one in the redistribution


def lite_fork_by_environment_alone() -> str:
    """In the redistribution megenginelite's own library is megforge's: LITE_FORK_MODE=1 and
    nothing else (no LITE_LIB_PATH, no MEGFORGE_LITE_REAL_LIB) runs a dumped model in a worker
    process, with the in-process output."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "conv.mge"
        dump_conv_model(model)
        runs = {mode: run_forward(model, {"LITE_FORK_MODE": mode}, report_mode=True) for mode in ("0", "1")}
    for mode, (_, report) in runs.items():
        if not report.startswith(f"fork-mode {mode} ") or (mode == "1") == report.endswith(" worker 0"):
            raise AssertionError(f"LITE_FORK_MODE={mode} alone not in effect: {report!r}")
    if runs["0"][0] != runs["1"][0]:
        raise AssertionError("LITE_FORK_MODE=1 output differs from in-process")
    return f"LITE_FORK_MODE=1 alone: {runs['1'][1]}, output identical to in-process"


def conv_transpose2d_nchw44() -> str:
    """conv_transpose2d(format="NCHW44") through megforge's op library (patch 0005): equals the
    NCHW result and the float64 reference eagerly and as a module; a traced, dumped model gives
    the same in MegEngine Lite; a bad input is a ValueError."""
    import os
    import subprocess
    import sys
    import tempfile

    import megengine as mge
    import megengine.functional as F
    import megengine.module as M
    from megengine.jit import trace

    from megforge.testing import conv_transpose2d_reference, pack_nc4hw4, relative_error, unpack_nc4hw4

    rng = np.random.default_rng(2)
    # (C_in, C_out, kernel, conv kwargs): channels not divisible by 4, groups, depthwise, dilation
    cases = [(6, 10, 3, dict(stride=2, padding=1, output_padding=1)),
             (8, 6, 3, dict(stride=2, padding=1, groups=2)),
             (8, 8, 3, dict(stride=2, padding=1, output_padding=1, groups=8)),
             (5, 7, 2, dict(stride=1, padding=1, dilation=2))]
    for c_in, c_out, k, kw in cases:
        g = kw.get("groups", 1)
        x = rng.standard_normal((2, c_in, 5, 4), dtype=np.float32)
        w = rng.standard_normal((c_in, c_out // g, k, k), dtype=np.float32)  # PyTorch layout
        mw = mge.tensor(w if g == 1 else w.reshape(g, c_in // g, c_out // g, k, k))  # MegEngine's layout
        b = rng.standard_normal(c_out, dtype=np.float32)
        mb = mge.tensor(b.reshape(1, c_out, 1, 1))
        got = unpack_nc4hw4(F.conv_transpose2d(mge.tensor(pack_nc4hw4(x)), mw, mb, format="NCHW44", **kw).numpy(), c_out)
        nchw = F.conv_transpose2d(mge.tensor(x), mw, mb, **kw).numpy()
        want = conv_transpose2d_reference(x, w, b, **kw)
        for name, other in (("reference", want), ("NCHW", nchw.astype(np.float64))):
            if got.shape != other.shape or relative_error(got, other) > 1e-5:
                raise AssertionError(f"{(c_in, c_out, k, kw)}: NCHW44 differs from {name}")

    module = M.ConvTranspose2d(6, 10, 3, stride=2, padding=1, output_padding=1, groups=2, format="NCHW44")
    reference = M.ConvTranspose2d(6, 10, 3, stride=2, padding=1, output_padding=1, groups=2)
    module.load_state_dict(reference.state_dict())
    x = rng.standard_normal((1, 6, 7, 5), dtype=np.float32)
    x4 = pack_nc4hw4(x)
    eager = module(mge.tensor(x4)).numpy()
    if relative_error(unpack_nc4hw4(eager, 10), reference(mge.tensor(x)).numpy().astype(np.float64)) > 1e-5:
        raise AssertionError("ConvTranspose2d(format='NCHW44') differs from the NCHW module")

    @trace(symbolic=True, capture_as_const=True)
    def model(inp):
        return module(inp)

    for _ in range(2):  # tracing run, then the compiled graph
        if not np.allclose(model(mge.tensor(x4)).numpy(), eager, rtol=1e-6, atol=1e-6):
            raise AssertionError("traced NCHW44 deconvolution differs from eager")
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, n) for n in ("deconv_nchw44.mge", "x.npy", "y.npy")]
        model.dump(paths[0], arg_names=["x"])
        np.save(paths[1], x4)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("LITE_", "MEGFORGE_LITE_"))}
        # in-process (the program loads the op, as upstream documents), in-process with nothing
        # loaded, and fork mode switched by LITE_FORK_MODE=1 alone: megforge's Lite library loads
        # the op beside libmegengine_shared.so in the caller and in the worker
        runs = (("0", "load-op", base), ("0", "no-load", base), ("1", "no-load", {**base, "LITE_FORK_MODE": "1"}))
        for mode, load_op, env in runs:
            lite = subprocess.run([sys.executable, "-c", _LITE_SCRIPT, *paths, load_op], capture_output=True,
                                  text=True, env=env, timeout=300)
            if lite.returncode != 0:
                raise AssertionError(f"MegEngine Lite run (LITE_FORK_MODE={mode}, {load_op}) failed:\n"
                                     f"{lite.stdout}{lite.stderr[-3000:]}")
            if f"fork-mode {mode} " not in lite.stdout or (mode == "1" and " worker 0" in lite.stdout):
                raise AssertionError(f"LITE_FORK_MODE={mode} not in effect: {lite.stdout.strip()}")
            if not np.allclose(np.load(paths[2]), eager, rtol=1e-6, atol=1e-6):
                raise AssertionError(f"MegEngine Lite output (LITE_FORK_MODE={mode}) differs from eager")

    try:
        F.conv_transpose2d(mge.tensor(x), mge.tensor(np.zeros((6, 4, 3, 3), np.float32)), format="NCHW44")
    except ValueError as exc:
        if "inp must be (N, ceil(C/4), H, W, 4)" not in str(exc):
            raise
    else:
        raise AssertionError("a 4-D input with format='NCHW44' was accepted")
    return (f"{len(cases)} cases = NCHW = reference; module, trace, dumped model in Lite (in-process, and "
            "LITE_FORK_MODE=1 alone) agree")
