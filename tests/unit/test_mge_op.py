"""megforge's MegEngine custom op (native/mge_op/) and the user-facing call of patch 0005.

The op library is built against the installed official megengine (as the pipeline builds it
against the pinned wheel); the patched ``conv_transpose2d`` / ``ConvTranspose2d`` come from
``megengine_patched`` (the installed files + patches/series) and find the library through
MEGFORGE_MGE_OP_LIB.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from megforge.testing import conv_transpose2d_reference, pack_nc4hw4, relative_error, unpack_nc4hw4

pytestmark = pytest.mark.needs_megengine

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

# (name, C_in, C_out, kernel, stride, padding, dilation, output_padding, groups, weight layout, bias)
CASES = [
    ("stride1", 8, 12, 3, 1, 0, 1, 0, 1, "4d", True),
    ("stride2-opad", 6, 5, 3, 2, 1, 1, 1, 1, "4d", True),
    ("rect-dilated", 5, 7, (3, 2), (2, 3), (1, 0), (2, 1), (1, 2), 1, "4d", False),
    ("groups2-5d", 8, 6, 3, 2, 1, 1, 1, 2, "5d", True),
    ("groups3-4d", 6, 9, 2, 2, 0, 1, 0, 3, "4d", True),
    ("depthwise", 8, 8, 3, 2, 1, 1, 1, 8, "5d", True),
    ("depthwise-c6-dilated", 6, 6, 3, 1, 2, 2, 0, 6, "5d", False),
    ("1x1", 3, 4, 1, 1, 0, 1, 0, 1, "4d", True),
]


@pytest.fixture(scope="module")
def op_library() -> Path:
    import megengine

    from megforge.release.mge_op import build_op_library, default_build_dir

    site = Path(megengine.__file__).resolve().parents[1]
    return build_op_library(ROOT, site, default_build_dir(ROOT))


@pytest.fixture(scope="module")
def patched(op_library, tmp_path_factory):
    from megengine_patched import load_patched

    old = os.environ.get("MEGFORGE_MGE_OP_LIB")
    os.environ["MEGFORGE_MGE_OP_LIB"] = str(op_library)
    try:
        yield load_patched(tmp_path_factory.mktemp("patched"))
    finally:
        if old is None:
            del os.environ["MEGFORGE_MGE_OP_LIB"]
        else:
            os.environ["MEGFORGE_MGE_OP_LIB"] = old


def _case_arrays(case, seed=0):
    _, c_in, c_out, k, stride, pad, dil, opad, groups, layout, with_bias = case
    kh, kw = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, c_in, 5, 4), dtype=np.float32)
    w = rng.standard_normal((c_in, c_out // groups, kh, kw), dtype=np.float32)  # PyTorch layout
    mw = w if layout == "4d" else w.reshape(groups, c_in // groups, c_out // groups, kh, kw)
    b = rng.standard_normal(c_out, dtype=np.float32) if with_bias else None
    kwargs = dict(stride=stride, padding=pad, dilation=dil, output_padding=opad, groups=groups)
    return x, w, mw, b, kwargs


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_nchw44_matches_nchw_and_reference(patched, case):
    import megengine as mge

    nn, _ = patched
    x, w, mw, b, kwargs = _case_arrays(case)
    c_out = case[2]
    mb = None if b is None else mge.tensor(b.reshape(1, -1, 1, 1))
    got4 = nn.conv_transpose2d(mge.tensor(pack_nc4hw4(x)), mge.tensor(mw), mb, format="NCHW44", **kwargs).numpy()
    assert got4.shape[1] == (c_out + 3) // 4 and got4.shape[4] == 4
    assert not got4[:, -1, :, :, c_out - 4 * (got4.shape[1] - 1):].any(), "padding lanes must be zero"
    got = unpack_nc4hw4(got4, c_out)
    # MegEngine's NCHW deconvolution needs the grouped 5-D weight for groups > 1
    gw = w if kwargs["groups"] == 1 else w.reshape(kwargs["groups"], -1, *w.shape[1:])
    nchw = nn.conv_transpose2d(mge.tensor(x), mge.tensor(gw), mb, **kwargs).numpy()
    want = conv_transpose2d_reference(x, w, b, **kwargs)
    assert got.shape == nchw.shape == want.shape
    assert relative_error(got, want) < 1e-5
    assert relative_error(got, nchw.astype(np.float64)) < 1e-5


def test_module_nchw44_equals_nchw_module(patched):
    import megengine as mge

    _, conv = patched
    rng = np.random.default_rng(3)
    nchw = conv.ConvTranspose2d(6, 10, 3, stride=2, padding=1, output_padding=1, groups=2)
    nchw44 = conv.ConvTranspose2d(6, 10, 3, stride=2, padding=1, output_padding=1, groups=2, format="NCHW44")
    nchw44.load_state_dict(nchw.state_dict())
    nchw.bias._reset(mge.tensor(rng.standard_normal((1, 10, 1, 1), dtype=np.float32)))
    nchw44.bias._reset(nchw.bias)
    x = rng.standard_normal((1, 6, 7, 5), dtype=np.float32)
    got = unpack_nc4hw4(nchw44(mge.tensor(pack_nc4hw4(x))).numpy(), 10)
    assert relative_error(got, nchw(mge.tensor(x)).numpy().astype(np.float64)) < 1e-5
    with pytest.raises(ValueError, match="format must be 'NCHW' or 'NCHW44'"):
        conv.ConvTranspose2d(4, 4, 3, format="NHWC")


def test_weights_updated_in_place_are_used(patched):
    """The op caches packed weights: a changed weight must never reuse a stale plan."""
    import megengine as mge

    nn, _ = patched
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 4, 3, 3), dtype=np.float32)
    w1, w2 = (rng.standard_normal((4, 8, 3, 3), dtype=np.float32) for _ in range(2))
    weight = mge.Parameter(w1)
    xt = mge.tensor(pack_nc4hw4(x))
    for w in (w1, w2, w1):
        weight[...] = mge.tensor(w)  # what an in-place update does
        got = unpack_nc4hw4(nn.conv_transpose2d(xt, weight, stride=2, format="NCHW44").numpy(), 8)
        assert relative_error(got, conv_transpose2d_reference(x, w, stride=2)) < 1e-5


def _traced_model(nn, mw, b, kwargs):
    import megengine as mge
    from megengine.jit import trace

    weight, bias = mge.Parameter(mw), mge.Parameter(b.reshape(1, -1, 1, 1))

    @trace(symbolic=True, capture_as_const=True)
    def model(x):
        return nn.conv_transpose2d(x, weight, bias, format="NCHW44", **kwargs)

    return model


def test_trace_dump_and_lite(patched, op_library, tmp_path):
    import megengine as mge

    nn, _ = patched
    case = CASES[3]  # groups=2, 5-D weight, stride 2, output_padding, bias
    x, w, mw, b, kwargs = _case_arrays(case, seed=7)
    x4 = pack_nc4hw4(x)
    model = _traced_model(nn, mw, b, kwargs)
    eager = nn.conv_transpose2d(mge.tensor(x4), mge.tensor(mw), mge.tensor(b.reshape(1, -1, 1, 1)),
                                format="NCHW44", **kwargs).numpy()
    first, second = model(mge.tensor(x4)).numpy(), model(mge.tensor(x4)).numpy()  # trace, then compiled
    np.testing.assert_allclose(first, eager, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(second, eager, rtol=1e-6, atol=1e-6)
    want = conv_transpose2d_reference(x, w, b, **kwargs)
    assert relative_error(unpack_nc4hw4(second, case[2]), want) < 1e-5

    dumped = tmp_path / "deconv_nchw44.mge"
    model.dump(str(dumped), arg_names=["x"])
    np.save(tmp_path / "x.npy", x4)
    result = _run_lite(dumped, tmp_path / "x.npy", tmp_path / "y.npy", op_library)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), eager, rtol=1e-6, atol=1e-6)


def _run_lite(model: Path, x: Path, y: Path, op_library) -> subprocess.CompletedProcess:
    """A fresh process with MegEngine Lite only: the op library loaded RTLD_GLOBAL, then the model."""
    script = textwrap.dedent(f"""
        import ctypes, sys
        import numpy as np
        import megenginelite as lite
        if {op_library is not None}:
            ctypes.CDLL({str(op_library)!r}, mode=ctypes.RTLD_GLOBAL)
        net = lite.LiteNetwork()
        net.load({str(model)!r})
        net.get_io_tensor("x").set_data_by_copy(np.load({str(x)!r}))
        net.forward()
        net.wait()
        np.save({str(y)!r}, net.get_io_tensor(net.get_all_output_name()[0]).to_numpy())
    """)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)


def test_lite_without_the_op_library_fails_cleanly(patched, tmp_path):
    nn, _ = patched
    x, _, mw, b, kwargs = _case_arrays(CASES[0])
    model = _traced_model(nn, mw, b, kwargs)
    import megengine as mge

    model(mge.tensor(pack_nc4hw4(x)))
    model.dump(str(tmp_path / "m.mge"), arg_names=["x"])
    np.save(tmp_path / "x.npy", pack_nc4hw4(x))
    result = _run_lite(tmp_path / "m.mge", tmp_path / "x.npy", tmp_path / "y.npy", None)
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]  # a Python exception, no crash
    assert "MegforgeConvTranspose2dNC4HW4" in result.stdout + result.stderr


@pytest.mark.parametrize("preload", [False, True], ids=["custom-load", "ctypes-preloaded"])
def test_process_exits_cleanly(op_library, tmp_path, preload):
    """The op library loaded by megengine's loader, or already loaded with ctypes (as a Lite
    program does) before the first call: the call works and the process exits cleanly.
    (MegEngine 1.13 corrupts its heap if custom.load follows either of those; patch 0005
    must never do that.)"""
    script = textwrap.dedent(f"""
        import ctypes, os, sys, tempfile
        from pathlib import Path
        sys.path[:0] = [{str(Path(__file__).resolve().parent)!r}, {str(ROOT / "src")!r}]
        os.environ["MEGFORGE_MGE_OP_LIB"] = {str(op_library)!r}
        import numpy as np
        import megengine as mge
        from megengine_patched import load_patched
        if {preload}:
            ctypes.CDLL({str(op_library)!r}, mode=ctypes.RTLD_GLOBAL)
        nn, _ = load_patched(Path({str(tmp_path)!r}))
        x = mge.tensor(np.ones((1, 2, 3, 3, 4), np.float32))
        w = mge.tensor(np.ones((8, 4, 3, 3), np.float32))
        print(float(nn.conv_transpose2d(x, w, format="NCHW44").numpy().sum()))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    assert result.returncode == 0 and "malloc" not in result.stderr, result.stdout + result.stderr[-3000:]
    # all-ones: every input value meets every weight once: 9 pixels * 8 C_in * 4 C_out * 9 taps
    assert float(result.stdout.strip().splitlines()[-1]) == 9 * 8 * 4 * 9


BAD_CALLS = [
    ("format", dict(format="NHWC"), ValueError, "format must be 'NCHW' or 'NCHW44'"),
    ("4-D input", dict(x=np.zeros((1, 8, 3, 3), np.float32)), ValueError, r"inp must be \(N, ceil\(C/4\)"),
    ("lanes", dict(x=np.zeros((1, 2, 3, 3, 3), np.float32)), ValueError, r"inp must be \(N, ceil\(C/4\), H, W, 4\)"),
    ("blocks", dict(x=np.zeros((1, 3, 3, 3, 4), np.float32)), ValueError, "has 3 channel blocks, but weight"),
    ("dtype", dict(x=np.zeros((1, 2, 3, 3, 4), np.int32)), TypeError, "inp must be float32, got int32"),
    ("numpy", dict(x_numpy=True), TypeError, "inp must be a Tensor, got ndarray"),
    ("bias", dict(b=np.zeros(5, np.float32)), ValueError, r"bias must be \(12,\) or \(1, 12, 1, 1\)"),
    ("groups", dict(groups=3), ValueError, "C_in=8 is not divisible by groups=3"),
    ("5-D groups", dict(w=np.zeros((2, 4, 6, 3, 3), np.float32), groups=4), ValueError, "has 2 groups, but groups=4"),
    ("output_padding", dict(output_padding=2, stride=2), ValueError, r"output_padding along H must be in \[0, max"),
    ("stride", dict(stride=0), ValueError, r"stride must be in \[1, 2\*\*31 - 1\], got \(0, 0\)"),
    ("int32", dict(padding=(0, 2**31)), ValueError, r"padding must be in \[0, 2\*\*31 - 1\]"),
    ("groups type", dict(groups=2.0), ValueError, "groups must be an int"),
    ("conv_mode", dict(conv_mode="convolution"), ValueError, "conv_mode must be 'cross_correlation'"),
]


@pytest.mark.parametrize("bad", BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_inputs_raise_clear_errors(patched, bad):
    import megengine as mge

    nn, _ = patched
    _, change, error, message = bad
    x = change.pop("x", np.zeros((1, 2, 3, 3, 4), np.float32))
    w = change.pop("w", np.zeros((8, 12, 3, 3), np.float32))
    b = change.pop("b", None)
    xt = x if change.pop("x_numpy", False) else mge.tensor(x, dtype=x.dtype)
    kwargs = {"format": "NCHW44", **change}
    with pytest.raises(error, match=message):
        nn.conv_transpose2d(xt, mge.tensor(w), None if b is None else mge.tensor(b), **kwargs)


def test_raw_op_checks_shapes_dtypes_and_params(patched):
    """Applied directly (no Python checks), the op itself refuses bad inputs with a clear error."""
    import megengine as mge
    from megengine.core._imperative_rt.core2 import apply
    from megengine.core.ops import custom

    w = mge.tensor(np.zeros((8, 12, 3, 3), np.float32))
    op = custom.MegforgeConvTranspose2dNC4HW4(stride_h=2, stride_w=2)
    bad = [
        ((mge.tensor(np.zeros((1, 3, 4, 4, 4), np.float32)), w), op, "has 3 channel blocks"),
        ((mge.tensor(np.zeros((1, 2, 4, 4), np.float32)), w), op, "input must be NC4HW4"),
        ((mge.tensor(np.zeros((1, 2, 4, 4, 4), np.int32)), w), op, r"x\(int32\) is not allowed"),
        ((mge.tensor(np.zeros((1, 2, 4, 4, 4), np.float32)), w),
         custom.MegforgeConvTranspose2dNC4HW4(stride_h=0), "stride"),
        ((mge.tensor(np.zeros((1, 2, 4, 4, 4), np.float32)), w),
         custom.MegforgeConvTranspose2dNC4HW4(output_pad_h=3, stride_h=2), "output_padding"),
    ]
    for inputs, bad_op, message in bad:
        with pytest.raises(RuntimeError, match=message):
            apply(bad_op, *inputs)[0].numpy()


def test_library_is_manylinux2014_clean(op_library):
    """Loads on the wheel's manylinux2014 baseline and exports nothing but its C API."""
    if shutil.which("objdump") is None:
        pytest.skip("objdump (binutils) is needed")
    dynsym = subprocess.run(["objdump", "-T", str(op_library)], capture_output=True, text=True, check=True).stdout
    ceilings = {"GLIBC": (2, 17), "GLIBCXX": (3, 4, 19), "CXXABI": (1, 3, 7), "GCC": (4, 8, 0)}
    for prefix, version in re.findall(r"\b(GLIBC|GLIBCXX|CXXABI|GCC)_([0-9.]+)\b", dynsym):
        assert tuple(int(p) for p in version.split(".")) <= ceilings[prefix], f"{prefix}_{version}"
    exported = [line.split()[-1] for line in dynsym.splitlines()
                if re.match(r"[0-9a-f]{16} +[gwu] ", line) and "*UND*" not in line]
    assert sorted(exported) == ["mgf_mge_op_get_num_threads", "mgf_mge_op_set_num_threads",
                                "mgf_mge_op_version_number"], exported
    dynamic = subprocess.run(["readelf", "-d", str(op_library)], capture_output=True, text=True, check=True).stdout
    needed = set(re.findall(r"NEEDED\).*\[(.+)\]", dynamic))
    assert needed <= {"libmegengine_shared.so", "libstdc++.so.6", "libgcc_s.so.1", "libc.so.6", "libm.so.6",
                      "libpthread.so.0", "ld-linux-x86-64.so.2"}, needed
    assert "libmegengine_shared.so" in needed and "[$ORIGIN]" in dynamic


def test_gradient_recording_is_refused(patched):
    """The op has no gradient: silently dropping it would train wrongly, so recording is an error."""
    import megengine as mge
    from megengine.autodiff import GradManager

    nn, _ = patched
    w = mge.Parameter(np.ones((8, 4, 3, 3), np.float32))
    x = mge.tensor(np.ones((1, 2, 3, 3, 4), np.float32))
    with GradManager().attach([w]):
        with pytest.raises(RuntimeError, match="no gradient .* train with format='NCHW'"):
            nn.conv_transpose2d(x, w, format="NCHW44")
    assert nn.conv_transpose2d(x, w, format="NCHW44").shape == (1, 1, 5, 5, 4)  # fine outside recording


def test_threads_setting_keeps_results(patched, op_library):
    import ctypes

    import megengine as mge

    nn, _ = patched
    lib = ctypes.CDLL(str(op_library))
    x, w, mw, b, kwargs = _case_arrays(CASES[1], seed=11)
    want = conv_transpose2d_reference(x, w, b, **kwargs)
    try:
        for threads in (2, 1):
            assert lib.mgf_mge_op_set_num_threads(threads) == 0 and lib.mgf_mge_op_get_num_threads() == threads
            got = nn.conv_transpose2d(mge.tensor(pack_nc4hw4(x)), mge.tensor(mw), mge.tensor(b), format="NCHW44",
                                      **kwargs).numpy()
            assert relative_error(unpack_nc4hw4(got, CASES[1][2]), want) < 1e-5
        assert lib.mgf_mge_op_set_num_threads(-1) != 0  # refused, with megforge's status code
    finally:
        lib.mgf_mge_op_set_num_threads(1)


def test_bad_shape_under_trace_is_a_clear_error(patched):
    """Symbolic shapes skip the Python checks; the op's shape inference names the problem."""
    import megengine as mge
    from megengine.jit import trace

    nn, _ = patched
    weight = mge.Parameter(np.zeros((8, 12, 3, 3), np.float32))

    @trace(symbolic=True, capture_as_const=True)
    def model(x):
        return nn.conv_transpose2d(x, weight, format="NCHW44")

    with pytest.raises(RuntimeError, match="has 3 channel blocks, but the weight"):
        model(mge.tensor(np.zeros((1, 3, 4, 4, 4), np.float32))).numpy()
