"""megforge.deconv against a float64 numpy reference; layouts; plans; bad input."""

from __future__ import annotations

import itertools
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from deconv_reference import conv_transpose2d_ref  # noqa: E402

deconv = pytest.importorskip("megforge.deconv")
from megforge.errors import MegforgeError  # noqa: E402

ALGOS = ["auto", "naive", "nchw", "nc4hw4"]
RTOL = 1e-4


def _available(algo: str) -> bool:
    w = np.ones((4, 4, 3, 3), np.float32)
    try:
        deconv.DeconvPlan(w, algo=algo).close()
    except deconv.UnsupportedError:
        return False
    return True


AVAILABLE = [a for a in ALGOS if _available(a)]


def rel_err(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


def run(x, w, b, layout, algo, **kw):
    c_out = w.shape[1] * kw.get("groups", 1)
    if layout == "NC4HW4":
        return deconv.from_nc4hw4(deconv.conv_transpose2d(deconv.to_nc4hw4(x), w, b, layout=layout, algo=algo, **kw), c_out)
    return deconv.conv_transpose2d(x, w, b, layout=layout, algo=algo, **kw)


GRID = [
    # (C_in, C_out, H, W, k, stride, pad, dilation, groups, output_padding)
    (4, 4, 5, 5, 3, 1, 1, 1, 1, 0),
    (3, 5, 4, 6, 2, 2, 0, 1, 1, 0),
    (8, 16, 7, 7, 4, 2, 1, 1, 1, 0),
    (16, 8, 6, 5, 3, 2, 1, 1, 1, 1),
    (6, 6, 5, 5, 3, 1, 2, 2, 1, 0),
    (8, 8, 6, 6, 3, 2, 1, 1, 8, 1),  # depthwise
    (12, 6, 4, 4, 5, 2, 2, 1, 3, 0),  # grouped
    (5, 7, 3, 3, 1, 3, 0, 1, 1, 2),
    (32, 32, 8, 8, 4, 2, 1, 1, 1, 0),
]


@pytest.mark.parametrize("layout,algo", list(itertools.product(["NCHW", "NC4HW4"], AVAILABLE)))
@pytest.mark.parametrize("case", GRID, ids=lambda c: "ci{}-co{}-h{}w{}-k{}s{}p{}d{}g{}op{}".format(*c))
def test_matches_numpy_reference(case, layout, algo):
    ci, co, h, w, k, s, p, d, g, op = case
    rng = np.random.default_rng(hash(case) % 2**32)
    x = rng.standard_normal((2, ci, h, w), dtype=np.float32)
    wt = rng.standard_normal((ci, co // g, k, k), dtype=np.float32)
    b = rng.standard_normal(co, dtype=np.float32)
    kw = dict(stride=s, padding=p, dilation=d, groups=g, output_padding=op)
    got = run(x, wt, b, layout, algo, **kw)
    want = conv_transpose2d_ref(x, wt, b, **kw)
    assert got.shape == want.shape
    assert rel_err(got, want) <= RTOL, f"case={case} layout={layout} algo={algo}"


@settings(max_examples=60, deadline=None)
@given(
    groups=st.integers(1, 3), icg=st.integers(1, 6), ocg=st.integers(1, 6),
    h=st.integers(1, 7), w=st.integers(1, 7), kh=st.integers(1, 5), kw=st.integers(1, 5),
    sh=st.integers(1, 3), sw=st.integers(1, 3), dh=st.integers(1, 2), dw=st.integers(1, 2),
    layout=st.sampled_from(["NCHW", "NC4HW4"]), algo=st.sampled_from(AVAILABLE), with_bias=st.booleans(),
    data=st.data(),
)
def test_hypothesis_parameters(groups, icg, ocg, h, w, kh, kw, sh, sw, dh, dw, layout, algo, with_bias, data):
    ph = data.draw(st.integers(0, kh - 1)); pw = data.draw(st.integers(0, kw - 1))
    oph = data.draw(st.integers(0, max(sh, dh) - 1)); opw = data.draw(st.integers(0, max(sw, dw) - 1))
    oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    ow = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    if oh < 1 or ow < 1:
        return
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((1, groups * icg, h, w), dtype=np.float32)
    wt = rng.standard_normal((groups * icg, ocg, kh, kw), dtype=np.float32)
    b = rng.standard_normal(groups * ocg, dtype=np.float32) if with_bias else None
    kwargs = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=groups, output_padding=(oph, opw))
    got = run(x, wt, b, layout, algo, **kwargs)
    want = conv_transpose2d_ref(x, wt, b, **kwargs)
    assert rel_err(got, want) <= RTOL, f"{kwargs} layout={layout} algo={algo} bias={with_bias}"


def test_relayout_round_trip_and_padding():
    x = np.arange(2 * 5 * 3 * 2, dtype=np.float32).reshape(2, 5, 3, 2)
    packed = deconv.to_nc4hw4(x)
    assert packed.shape == (2, 2, 3, 2, 4)
    assert packed[1, 1, 2, 1, 0] == x[1, 4, 2, 1]
    assert np.all(packed[:, 1, :, :, 1:] == 0)
    np.testing.assert_array_equal(deconv.from_nc4hw4(packed, 5), x)


def test_plan_reuse_threads_and_auto_algo():
    rng = np.random.default_rng(0)
    wt = rng.standard_normal((8, 4, 3, 3), dtype=np.float32)
    plan = deconv.DeconvPlan(wt, stride=2, padding=1, layout="NC4HW4")
    assert plan.algo in ALGOS and plan.algo != "auto"
    xs = [deconv.to_nc4hw4(rng.standard_normal((1, 8, 6, 6), dtype=np.float32)) for _ in range(4)]
    results = [None] * 4

    def work(i):
        results[i] = plan(xs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for x, got in zip(xs, results):
        want = conv_transpose2d_ref(deconv.from_nc4hw4(x, 8), wt, stride=2, padding=1)
        assert rel_err(deconv.from_nc4hw4(got, 4), want) <= RTOL
    plan.close()
    with pytest.raises(ValueError, match="closed"):
        plan(xs[0])


def test_loop_nest_choice_and_isa():
    rng = np.random.default_rng(1)
    wt = rng.standard_normal((16, 8, 4, 4), dtype=np.float32)
    plan = deconv.DeconvPlan(wt, stride=2, padding=1, layout="NC4HW4", algo="nc4hw4")
    assert plan.kernel_name(16, 16) == "nc4hw4-direct-phase"
    # DCGAN's first layer (1x1 -> 4x4, stride 1): the direct form would read mostly zero padding
    first = deconv.DeconvPlan(wt, layout="NC4HW4", algo="nc4hw4")
    assert first.kernel_name(1, 1) == "nc4hw4-gemm-col2im"
    assert first.kernel_name(16, 16) == "nc4hw4-direct-phase"
    dw = deconv.DeconvPlan(rng.standard_normal((8, 1, 3, 3), dtype=np.float32), groups=8, layout="NC4HW4")
    assert dw.kernel_name(5, 5) == "nc4hw4-depthwise-phase"
    assert deconv.DeconvPlan(wt, algo="nchw").kernel_name(5, 5) == "nchw-gemm-col2im"
    # AUTO on an NCHW plan with 3 output channels (an RGB head) stays on the NCHW GEMM
    assert deconv.DeconvPlan(rng.standard_normal((16, 3, 4, 4), dtype=np.float32)).algo == "nchw"
    with pytest.raises(ValueError, match="output height"):
        deconv.DeconvPlan(wt, padding=9).kernel_name(1, 1)
    assert deconv.isa() in {"neon", "sse2", "avx2"}


@pytest.mark.parametrize("layout", ["NCHW", "NC4HW4"])
def test_multithreaded_matches_single(layout):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 20, 9, 7), dtype=np.float32)
    wt = rng.standard_normal((20, 12, 3, 3), dtype=np.float32)
    before = deconv.get_num_threads()
    try:
        outs = []
        for threads in (1, 3):
            deconv.set_num_threads(threads)
            outs.append(run(x, wt, None, layout, "auto", stride=2, padding=1, output_padding=1))
    finally:
        deconv.set_num_threads(before)
    np.testing.assert_array_equal(outs[0], outs[1])


PEER_CASES = [
    # (C_in, C_out, H, W, k, stride, pad, dilation, groups)
    (16, 8, 7, 6, 4, 2, 1, 1, 1),
    (8, 12, 5, 5, 3, 1, 1, 2, 1),
    (12, 12, 6, 6, 3, 2, 1, 1, 12),
    (8, 16, 5, 4, 3, 2, 0, 1, 2),
]


@pytest.mark.needs_megengine
@pytest.mark.parametrize("case", PEER_CASES, ids=lambda c: "ci{}-co{}-h{}w{}-k{}s{}p{}d{}g{}".format(*c))
@pytest.mark.parametrize("layout", ["NCHW", "NC4HW4"])
def test_matches_megengine(case, layout):
    import megengine as mge
    import megengine.functional as F

    ci, co, h, w, k, s, p, d, g = case
    rng = np.random.default_rng(sum(case))
    x = rng.standard_normal((2, ci, h, w), dtype=np.float32)
    wt = rng.standard_normal((ci, co // g, k, k), dtype=np.float32)
    b = rng.standard_normal(co, dtype=np.float32)
    # MegEngine's grouped weight is 5-D (G, IC/G, OC/G, KH, KW); its output_padding path is
    # broken in 1.13 (see design notes), so these cases use none.
    mw = wt.reshape(g, ci // g, co // g, k, k) if g > 1 else wt
    want = F.conv_transpose2d(mge.tensor(x), mge.tensor(mw), mge.tensor(b.reshape(1, co, 1, 1)),
                              stride=s, padding=p, dilation=d, groups=g).numpy()
    got = run(x, wt, b, layout, "auto", stride=s, padding=p, dilation=d, groups=g)
    assert rel_err(got, want) <= RTOL


@pytest.mark.needs_torch
@pytest.mark.parametrize("case", PEER_CASES, ids=lambda c: "ci{}-co{}-h{}w{}-k{}s{}p{}d{}g{}".format(*c))
def test_matches_pytorch(case):
    import torch

    ci, co, h, w, k, s, p, d, g = case
    rng = np.random.default_rng(sum(case) + 1)
    x = rng.standard_normal((2, ci, h, w), dtype=np.float32)
    wt = rng.standard_normal((ci, co // g, k, k), dtype=np.float32)
    b = rng.standard_normal(co, dtype=np.float32)
    op = 1 if s > 1 else 0
    want = torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b), stride=s,
                                                padding=p, output_padding=op, groups=g, dilation=d).numpy()
    for layout in ("NCHW", "NC4HW4"):
        got = run(x, wt, b, layout, "auto", stride=s, padding=p, dilation=d, groups=g, output_padding=op)
        assert rel_err(got, want) <= RTOL, layout


def test_gil_is_released_during_compute():
    """With a switch interval far longer than the call, the calling thread keeps the GIL until
    it blocks or releases it: the main thread can observe the call in progress only if the
    native call released the GIL (ctypes does; a binding that held it would show False)."""
    rng = np.random.default_rng(7)
    plan = deconv.DeconvPlan(rng.standard_normal((64, 64, 4, 4), dtype=np.float32), stride=2, padding=1,
                             layout="NC4HW4")
    x = deconv.to_nc4hw4(rng.standard_normal((4, 64, 64, 64), dtype=np.float32))
    in_call = threading.Event()
    done = threading.Event()
    seen = []

    def compute():
        in_call.set()
        plan(x)  # tens of milliseconds or more
        done.set()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        worker = threading.Thread(target=compute)
        worker.start()  # returns once the worker releases the GIL (in the native call) or ends
        seen.append(in_call.is_set() and not done.is_set())
        worker.join()
    finally:
        sys.setswitchinterval(interval)
    assert seen == [True]


def test_num_threads_setting():
    before = deconv.get_num_threads()
    deconv.set_num_threads(2)
    assert deconv.get_num_threads() == 2
    with pytest.raises(ValueError, match="num_threads"):
        deconv.set_num_threads(-3)
    deconv.set_num_threads(before)


X = np.zeros((1, 4, 5, 5), np.float32)
W = np.zeros((4, 2, 3, 3), np.float32)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(x=X.astype(np.float64)), TypeError, "float64"),
        (dict(x=X.tolist()), TypeError, "list"),
        (dict(weight=W.astype(np.float16)), TypeError, "float16"),
        (dict(x=X[0]), ValueError, r"4-D, got shape \(4, 5, 5\)"),
        (dict(x=np.zeros((1, 3, 5, 5), np.float32)), ValueError, "3 channels"),
        (dict(groups=3), ValueError, "groups=3"),
        (dict(groups=0), ValueError, "groups must be >= 1"),
        (dict(stride=0), ValueError, "stride"),
        (dict(stride=(1, -2)), ValueError, "stride"),
        (dict(stride=1.5), TypeError, "stride"),
        (dict(padding=5), ValueError, "output height"),
        (dict(output_padding=1), ValueError, "output_padding"),
        (dict(x=np.asfortranarray(np.zeros((1, 4, 5, 5), np.float32))), ValueError, "C-contiguous"),
        (dict(x=np.zeros((1, 4, 5, 10), np.float32)[..., ::2]), ValueError, "C-contiguous"),
        (dict(bias=np.zeros(3, np.float32)), ValueError, "bias has 3"),
        (dict(layout="NHWC"), ValueError, "NHWC"),
        (dict(algo="winograd"), ValueError, "winograd"),
        (dict(layout="NC4HW4"), ValueError, r"5-D, got shape \(1, 4, 5, 5\)"),
        (dict(x=np.zeros((1, 2, 5, 5, 4), np.float32), layout="NC4HW4"), ValueError, r"shape \(N, 1, H, W, 4\)"),
    ],
)
def test_bad_input_names_the_value(kwargs, exc, match):
    args = dict(x=X, weight=W)
    args.update(kwargs)
    x, w = args.pop("x"), args.pop("weight")
    with pytest.raises(exc, match=match) as info:
        deconv.conv_transpose2d(x, w, **args)
    assert isinstance(info.value, MegforgeError)


def test_misaligned_array_rejected():
    raw = np.zeros(4 * 5 * 5 * 4 + 1, np.uint8)
    x = raw[1:].view(np.float32).reshape(1, 4, 5, 5)
    assert not x.flags.aligned
    with pytest.raises(ValueError, match="aligned"):
        deconv.conv_transpose2d(x, W)


def test_from_nc4hw4_channel_count_checked():
    with pytest.raises(ValueError, match="channels=9"):
        deconv.from_nc4hw4(np.zeros((1, 2, 3, 3, 4), np.float32), 9)
