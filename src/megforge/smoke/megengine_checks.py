"""Smoke checks of the patched MegEngine redistribution (megengine 1.13.0+megforge.N)."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import re

import numpy as np


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
