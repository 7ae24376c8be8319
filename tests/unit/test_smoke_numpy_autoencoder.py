"""megforge.smoke.numpy_autoencoder: the hand-written backward pass against finite differences
(float64), a corrupted backward failing that check, the megforge engine against the float64
reference, the convolutions against independent references, save/load and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from megforge.errors import CheckpointError, InvalidArgumentError
from megforge.smoke import numpy_autoencoder as nae
from megforge.smoke.train import make_images
from megforge.testing import conv_transpose2d_reference, relative_error

GRAD_TOL = 1e-6  # measured ~2e-8 with eps 1e-6 in float64
RTOL = 1e-4  # float32 megforge kernel vs float64 reference


def _params(seed: int) -> dict:
    """init_params with non-zero biases, so every bias gradient and ReLU pattern is exercised."""
    params = nae.init_params(seed)
    rng = np.random.default_rng(seed + 100)
    for name in params:
        if name.endswith(".bias"):
            params[name] = (0.1 * rng.standard_normal(params[name].shape)).astype(np.float32)
    return params


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradients_match_finite_differences(seed):
    model = nae.AutoEncoder(_params(seed), engine="reference")
    errors = nae.gradient_check(model, make_images(2, seed + 10), samples=10, seed=seed)
    assert set(errors) == set(nae.param_shapes())
    assert max(errors.values()) < GRAD_TOL, errors


def _flip_backward_data_kernel(monkeypatch):
    """The encoder's input gradient through a spatially flipped kernel (a classic mistake)."""
    real = nae.reference_transposed

    def flipped(weight, bias, stride, padding, output_padding):
        if bias is None:  # only ConvolutionBackwardData passes no bias
            weight = np.ascontiguousarray(weight[:, :, ::-1, ::-1])
        return real(weight, bias, stride, padding, output_padding)

    monkeypatch.setattr(nae, "reference_transposed", flipped)
    return {"enc1.weight", "enc1.bias"}


def _no_relu_mask(monkeypatch):
    monkeypatch.setattr(nae, "relu_grad", lambda dy, pre: dy)
    return {"dec1.weight", "dec1.bias", "enc2.weight", "enc2.bias", "enc1.weight", "enc1.bias"}


def _flip_deconv_weight_grad(monkeypatch):
    real = nae.conv_transpose2d_weight_grad
    monkeypatch.setattr(nae, "conv_transpose2d_weight_grad", lambda *a: real(*a)[:, :, ::-1, ::-1])
    return {"dec1.weight", "dec2.weight"}


def _scale_one_gradient(monkeypatch):
    real = nae.AutoEncoder.loss_and_grads

    def scaled(self, x):
        loss, grads = real(self, x)
        grads["enc2.weight"] = grads["enc2.weight"] * 1.01
        return loss, grads

    monkeypatch.setattr(nae.AutoEncoder, "loss_and_grads", scaled)
    return {"enc2.weight"}


@pytest.mark.parametrize("corrupt", [_flip_backward_data_kernel, _no_relu_mask, _flip_deconv_weight_grad,
                                     _scale_one_gradient])
def test_a_corrupted_backward_fails_the_check(monkeypatch, corrupt):
    wrong = corrupt(monkeypatch)  # before the model is built: it picks its engine then
    model = nae.AutoEncoder(_params(0), engine="reference")
    x = make_images(2, 10)
    errors = nae.gradient_check(model, x, samples=10)
    failing = {name for name, err in errors.items() if err >= GRAD_TOL}
    assert wrong & failing, errors  # the corrupted gradients are caught ...
    assert failing <= wrong, errors  # ... and nothing else is blamed
    assert max(errors.values()) > 100 * GRAD_TOL


def test_megforge_engine_matches_the_float64_reference():
    params, x = _params(3), make_images(4, 11)
    fast, slow = nae.AutoEncoder(params), nae.AutoEncoder(params, engine="reference")
    assert fast.dtype == np.float32 and slow.dtype == np.float64
    (loss, grads), (ref_loss, ref_grads) = fast.loss_and_grads(x), slow.loss_and_grads(x)
    assert relative_error(fast(x), slow(x)) <= RTOL
    assert abs(loss - ref_loss) <= RTOL * ref_loss
    for name in ref_grads:
        assert grads[name].dtype == np.float32 and grads[name].shape == ref_grads[name].shape
        assert relative_error(grads[name], ref_grads[name]) <= RTOL, name


def test_transposed_convolutions_run_on_megforge_nc4hw4_plans(monkeypatch):
    from megforge import deconv

    made = []

    class Counting(deconv.DeconvPlan):
        def __init__(self, weight, bias=None, **kw):
            made.append((weight.shape, bias is not None, kw["output_padding"], kw["layout"]))
            super().__init__(weight, bias, **kw)

    monkeypatch.setattr(deconv, "DeconvPlan", Counting)
    model, x = nae.AutoEncoder(_params(0)), make_images(2, 1)
    model.loss_and_grads(x)
    assert sorted(made) == sorted([((16, 16, 4, 4), True, 0, "NC4HW4"), ((16, 3, 4, 4), True, 0, "NC4HW4"),
                                   ((16, 16, 3, 3), False, 1, "NC4HW4")])  # dec1, dec2, enc2 backward-data
    model.loss_and_grads(x)
    assert len(made) == 3  # plans are reused until the weights change
    model.weights_changed()
    model(x)
    assert len(made) == 5


def test_plans_see_weights_only_after_weights_changed():
    model, x = nae.AutoEncoder(_params(0)), make_images(2, 1)
    before = model(x)
    model.params["dec2.bias"] += 1.0  # in place, as the optimizer does
    np.testing.assert_array_equal(model(x), before)  # the packed plan still has the old bias
    model.weights_changed()
    assert (model(x) > before).all()


def _conv2d_loops(x, w, b, stride, padding):
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = (h + 2 * padding - k) // stride + 1, (wd + 2 * padding - k) // stride + 1
    y = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            y[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w) + b
    return y


@pytest.mark.parametrize("shape,k,stride,padding", [((2, 3, 8, 8), 3, 2, 1), ((1, 5, 7, 6), 4, 2, 1),
                                                    ((2, 4, 5, 5), 3, 1, 0)])
def test_convolutions_and_their_adjoints(shape, k, stride, padding):
    """conv2d against loops; the float64 reference transposed convolution is its adjoint; both
    weight gradients are the derivatives of <output, g> (they are linear in the weight)."""
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape)
    w = rng.standard_normal((6, shape[1], k, k))
    b = rng.standard_normal(6)
    y = nae.conv2d(x, w, b, stride, padding)
    np.testing.assert_allclose(y, _conv2d_loops(x, w, b, stride, padding), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    op = tuple(shape[a] + 2 * padding - k - (y.shape[a] - 1) * stride for a in (2, 3))

    def conv_t(z, weight):  # (N, 6, OH, OW) -> x's shape
        return conv_transpose2d_reference(z, weight, stride=stride, padding=padding, output_padding=op)

    assert conv_t(g, w).shape == x.shape
    np.testing.assert_allclose(np.vdot(y - b[None, :, None, None], g), np.vdot(x, conv_t(g, w)), rtol=1e-10)
    e = rng.standard_normal(w.shape)
    np.testing.assert_allclose(np.vdot(nae.conv2d_weight_grad(x, g, k, stride, padding), e),
                               np.vdot(nae.conv2d(x, e, None, stride, padding), g), rtol=1e-10)
    # a transposed convolution of g with weight (6, C, k, k), output gradient x
    dwt = nae.conv_transpose2d_weight_grad(g, x, k, stride, padding)
    assert dwt.shape == w.shape
    np.testing.assert_allclose(np.vdot(dwt, e), np.vdot(conv_t(g, e), x), rtol=1e-10)


def test_save_and_load_are_exact_and_pickle_free(tmp_path):
    model, x = nae.AutoEncoder(_params(4)), make_images(3, 2)
    path = tmp_path / "ae.npz"
    nae.save(model, path)
    with np.load(path, allow_pickle=False) as f:
        assert sorted(f.files) == sorted(nae.param_shapes())
        assert all(f[k].dtype == np.float32 for k in f.files)
    np.testing.assert_array_equal(nae.load(path)(x), model(x))
    assert nae.load(path, engine="reference").dtype == np.float64


def test_init_params_is_seeded():
    a, b, c = nae.init_params(7), nae.init_params(7), nae.init_params(8)
    for name, shape in nae.param_shapes().items():
        assert a[name].shape == shape and a[name].dtype == np.float32
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["enc1.weight"], c["enc1.weight"])


def test_bad_files_are_checkpoint_errors(tmp_path):
    params = nae.init_params(0)
    cases = {
        "missing.npz": {k: v for k, v in params.items() if k != "dec1.bias"},
        "shape.npz": {**params, "enc1.weight": np.zeros((16, 3, 5, 5), np.float32)},
        "ints.npz": {**params, "enc1.bias": np.zeros(16, np.int32)},
        "nan.npz": {**params, "dec2.bias": np.full(3, np.nan, np.float32)},
        "object.npz": {**params, "extra": np.array([{"a": 1}], dtype=object)},
    }
    for name, arrays in cases.items():
        np.savez(tmp_path / name, **arrays)
    np.save(tmp_path / "single.npy", params["enc1.bias"])
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    expected = {"missing.npz": "dec1.bias", "shape.npz": "(16, 3, 3, 3)", "ints.npz": "int32",
                "nan.npz": "non-finite", "object.npz": "", "single.npy": "single array", "junk.npz": ""}
    for name, needle in expected.items():
        with pytest.raises(CheckpointError, match="not a saved megforge smoke autoencoder") as info:
            nae.load(tmp_path / name)
        assert needle in str(info.value) and name in str(info.value)
    with pytest.raises(FileNotFoundError):
        nae.load(tmp_path / "absent.npz")


def test_bad_arguments_are_clear_errors():
    params = nae.init_params(0)
    with pytest.raises(InvalidArgumentError, match="engine must be one of"):
        nae.AutoEncoder(params, engine="torch")
    with pytest.raises(InvalidArgumentError, match="params must be a mapping"):
        nae.AutoEncoder([1, 2])
    with pytest.raises(InvalidArgumentError, match=r"unexpected \['x'\]"):
        nae.AutoEncoder({**params, "x": np.zeros(1)})
    model = nae.AutoEncoder(params)
    with pytest.raises(InvalidArgumentError, match="gradient_check needs a float64 model"):
        nae.gradient_check(model, make_images(1, 0))
    for bad in (np.zeros((2, 1, 16, 16), np.float32), np.zeros((2, 3, 15, 16), np.float32),
                np.zeros((3, 16, 16), np.float32), [[0.0]]):
        with pytest.raises(InvalidArgumentError, match=r"x must be an ndarray \(N, 3, H, W\)"):
            model(bad)
