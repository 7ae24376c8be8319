"""A small convolutional autoencoder with its backward pass written out in numpy, whose
transposed convolutions run on megforge's native NC4HW4 kernel (``megforge.deconv``).

Same shapes as the MegEngine model of ``megforge.smoke.train``::

    x (N, 3, 16, 16) -> enc1 Conv2d(3->16, k3, s2, p1) + ReLU            -> (N, 16, 8, 8)
                     -> enc2 Conv2d(16->16, k3, s2, p1) + ReLU           -> (N, 16, 4, 4)
                     -> dec1 ConvTranspose2d(16->16, k4, s2, p1) + ReLU  -> (N, 16, 8, 8)
                     -> dec2 ConvTranspose2d(16->3, k4, s2, p1) + sigmoid -> (N, 3, 16, 16)

Where the work is a transposed convolution, megforge computes it (engine ``"megforge"``):
the forward of dec1 and dec2, and the gradient of enc2 with respect to its input — a strided
convolution's ConvolutionBackwardData is the transposed convolution with the same weight,
stride and padding, plus ``output_padding`` for the input rows the stride never reached.
numpy does the forward convolutions (im2col through stride tricks), the decoder's input
gradients (the input gradient of a transposed convolution is a convolution) and every
weight gradient. Engine ``"reference"`` swaps megforge for the float64 numpy reference
(``megforge.testing``) to check gradients against finite differences.

Layouts: activations NCHW (float32; float64 with the reference engine), converted to NC4HW4
``(N, ceil(C/4), H, W, 4)`` around every native call; ``<conv>.weight`` is
``(C_out, C_in, KH, KW)``, ``<deconv>.weight`` is ``(C_in, C_out, KH, KW)`` (PyTorch's layouts,
the ones megforge.deconv takes); ``<layer>.bias`` is ``(C_out,)``. Loss: mean squared error
over every pixel and channel of images in [0, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Mapping, Optional, Tuple, Union

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from megforge.errors import CheckpointError, InvalidArgumentError

# name, kind, C_in, C_out, kernel, stride, padding
LAYERS = (
    ("enc1", "conv", 3, 16, 3, 2, 1),
    ("enc2", "conv", 16, 16, 3, 2, 1),
    ("dec1", "deconv", 16, 16, 4, 2, 1),
    ("dec2", "deconv", 16, 3, 4, 2, 1),
)
ENGINES = ("megforge", "reference")
Params = Dict[str, np.ndarray]
TransposedConv = Callable[[np.ndarray], np.ndarray]


def param_shapes() -> Dict[str, Tuple[int, ...]]:
    """``{"enc1.weight": (16, 3, 3, 3), "enc1.bias": (16,), ...}`` in the layouts above."""
    shapes: Dict[str, Tuple[int, ...]] = {}
    for name, kind, c_in, c_out, k, _, _ in LAYERS:
        shapes[f"{name}.weight"] = (c_out, c_in, k, k) if kind == "conv" else (c_in, c_out, k, k)
        shapes[f"{name}.bias"] = (c_out,)
    return shapes


def init_params(seed: int) -> Params:
    """He-normal float32 weights (std sqrt(2 / inputs per output pixel)), zero biases."""
    rng = np.random.default_rng(seed)
    params: Params = {}
    for name, kind, c_in, c_out, k, stride, _ in LAYERS:
        fan_in = c_in * k * k if kind == "conv" else c_in * k * k // (stride * stride)
        shape = param_shapes()[f"{name}.weight"]
        params[f"{name}.weight"] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        params[f"{name}.bias"] = np.zeros(c_out, np.float32)
    return params


def _patches(x: np.ndarray, k: int, stride: int, padding: int) -> np.ndarray:
    """(N, C, H, W) -> read-only view (N, C, OH, OW, k, k) of the zero-padded k x k patches."""
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    return sliding_window_view(padded, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]


def conv2d(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray], stride: int, padding: int) -> np.ndarray:
    """Cross-correlation: x (N, C_in, H, W), weight (C_out, C_in, k, k) -> (N, C_out, OH, OW)."""
    y = np.tensordot(_patches(x, weight.shape[2], stride, padding), weight, axes=([1, 4, 5], [1, 2, 3]))
    y = np.ascontiguousarray(y.transpose(0, 3, 1, 2))  # (N, OH, OW, C_out) -> NCHW
    return y if bias is None else y + bias[None, :, None, None]


def conv2d_weight_grad(x: np.ndarray, dy: np.ndarray, k: int, stride: int, padding: int) -> np.ndarray:
    """dL/dweight (C_out, C_in, k, k) of :func:`conv2d` from its input x and output gradient dy."""
    return np.tensordot(dy, _patches(x, k, stride, padding), axes=([0, 2, 3], [0, 2, 3]))


def conv_transpose2d_weight_grad(x: np.ndarray, dy: np.ndarray, k: int, stride: int, padding: int) -> np.ndarray:
    """dL/dweight (C_in, C_out, k, k) of a transposed convolution from its input x (N, C_in, H, W)
    and output gradient dy (N, C_out, OH, OW): output pixel (s*i + ky - p) took x[i] * w[ky]."""
    return np.tensordot(x, _patches(dy, k, stride, padding), axes=([0, 2, 3], [0, 2, 3]))


def megforge_transposed(weight: np.ndarray, bias: Optional[np.ndarray], stride: int, padding: int,
                        output_padding: int) -> TransposedConv:
    """NCHW float32 -> NCHW float32 through a ``DeconvPlan`` in NC4HW4 packed from ``weight``
    (C_in, C_out, k, k) now; later changes to ``weight`` do not reach the plan."""
    from megforge import deconv

    plan = deconv.DeconvPlan(np.ascontiguousarray(weight, np.float32),
                             None if bias is None else np.ascontiguousarray(bias, np.float32),
                             stride=stride, padding=padding, output_padding=output_padding, layout="NC4HW4")

    def run(x: np.ndarray) -> np.ndarray:
        return deconv.from_nc4hw4(plan(deconv.to_nc4hw4(np.ascontiguousarray(x, np.float32))), plan.out_channels)

    return run


def reference_transposed(weight: np.ndarray, bias: Optional[np.ndarray], stride: int, padding: int,
                         output_padding: int) -> TransposedConv:
    """The same in float64 with ``megforge.testing.conv_transpose2d_reference`` (no native code)."""
    from megforge.testing import conv_transpose2d_reference

    weight = weight.copy()
    bias = None if bias is None else bias.copy()
    return lambda x: conv_transpose2d_reference(x, weight, bias, stride=stride, padding=padding,
                                                output_padding=output_padding)


def relu_grad(dy: np.ndarray, pre: np.ndarray) -> np.ndarray:
    """Gradient through ReLU: dy where the pre-activation was > 0, else 0."""
    return dy * (pre > 0)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(a))  # never overflows
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype)


class AutoEncoder:
    """The model above; ``params`` maps ``param_shapes()`` keys to arrays (copied, cast to the
    engine's dtype: float32 for ``"megforge"``, float64 for ``"reference"``).

    ``params`` may be changed in place (the optimizer does); call :meth:`weights_changed`
    afterwards so the next call packs new ``DeconvPlan``s (a plan is immutable).
    """

    def __init__(self, params: Mapping[str, np.ndarray], engine: str = "megforge") -> None:
        if engine not in ENGINES:
            raise InvalidArgumentError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        self.engine = engine
        self.dtype = np.float32 if engine == "megforge" else np.float64
        self.params = _checked_params(params, self.dtype)
        self._factory = megforge_transposed if engine == "megforge" else reference_transposed
        self._plans: Dict[str, TransposedConv] = {}

    def weights_changed(self) -> None:
        """Drop the packed plans; the next forward/backward packs the current weights."""
        self._plans.clear()

    def _transposed(self, key: str, weight: str, bias: Optional[str], output_padding: int = 0) -> TransposedConv:
        if key not in self._plans:
            b = None if bias is None else self.params[bias]
            self._plans[key] = self._factory(self.params[weight], b, 2, 1, output_padding)
        return self._plans[key]

    def forward(self, x: np.ndarray) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
        """Output (N, 3, H, W) in (0, 1) for images x (N, 3, H, W), H and W multiples of 4, and
        the activations the backward pass needs."""
        if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[1] != 3 or x.shape[2] % 4 or x.shape[3] % 4:
            raise InvalidArgumentError(f"x must be an ndarray (N, 3, H, W) with H, W multiples of 4, "
                                       f"got {getattr(x, 'shape', type(x).__name__)}")
        p = self.params
        x = x.astype(self.dtype, copy=False)
        a1 = conv2d(x, p["enc1.weight"], p["enc1.bias"], 2, 1)
        h1 = np.maximum(a1, 0)
        a2 = conv2d(h1, p["enc2.weight"], p["enc2.bias"], 2, 1)
        h2 = np.maximum(a2, 0)
        a3 = self._transposed("dec1", "dec1.weight", "dec1.bias")(h2)
        h3 = np.maximum(a3, 0)
        y = _sigmoid(self._transposed("dec2", "dec2.weight", "dec2.bias")(h3))
        return y, dict(x=x, a1=a1, h1=h1, a2=a2, h2=h2, a3=a3, h3=h3, y=y)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[0]

    def loss(self, x: np.ndarray) -> float:
        """Mean squared reconstruction error of the batch x."""
        return float(np.mean((self(x) - x) ** 2))

    def loss_and_grads(self, x: np.ndarray) -> Tuple[float, Params]:
        """Mean squared reconstruction error of x and its gradient for every parameter."""
        y, c = self.forward(x)
        p, g = self.params, {}
        x = c["x"]
        dy = 2 * (y - x) / y.size
        da4 = dy * y * (1 - y)  # sigmoid'
        g["dec2.weight"] = conv_transpose2d_weight_grad(c["h3"], da4, 4, 2, 1)
        g["dec2.bias"] = da4.sum(axis=(0, 2, 3))
        da3 = relu_grad(conv2d(da4, p["dec2.weight"], None, 2, 1), c["a3"])
        g["dec1.weight"] = conv_transpose2d_weight_grad(c["h2"], da3, 4, 2, 1)
        g["dec1.bias"] = da3.sum(axis=(0, 2, 3))
        da2 = relu_grad(conv2d(da3, p["dec1.weight"], None, 2, 1), c["a2"])
        g["enc2.weight"] = conv2d_weight_grad(c["h1"], da2, 3, 2, 1)
        g["enc2.bias"] = da2.sum(axis=(0, 2, 3))
        # ConvolutionBackwardData: (4x4 -> 8x8) needs output_padding 8 + 2*1 - 3 - (4-1)*2 = 1
        output_padding = c["h1"].shape[2] + 2 - 3 - (da2.shape[2] - 1) * 2
        dh1 = self._transposed("enc2.backward", "enc2.weight", None, output_padding)(da2)
        da1 = relu_grad(dh1, c["a1"])
        g["enc1.weight"] = conv2d_weight_grad(x, da1, 3, 2, 1)
        g["enc1.bias"] = da1.sum(axis=(0, 2, 3))
        loss = float(np.mean((y - x) ** 2))
        return loss, {k: v.astype(self.dtype, copy=False) for k, v in g.items()}


def _checked_params(params: Mapping[str, np.ndarray], dtype: type) -> Params:
    shapes = param_shapes()
    if not isinstance(params, Mapping):
        raise InvalidArgumentError(f"params must be a mapping of arrays, got {type(params).__name__}")
    missing, extra = sorted(set(shapes) - set(params)), sorted(set(params) - set(shapes))
    if missing or extra:
        raise InvalidArgumentError(f"params: missing {missing}, unexpected {extra}")
    out = {}
    for name, shape in shapes.items():
        a = params[name]
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f" or a.shape != shape:
            raise InvalidArgumentError(f"params[{name!r}] must be a float array of shape {shape}, got "
                                       f"{getattr(a, 'dtype', type(a).__name__)} {getattr(a, 'shape', '')}")
        if not np.isfinite(a).all():
            raise InvalidArgumentError(f"params[{name!r}] has non-finite values")
        out[name] = np.array(a, dtype=dtype)  # a copy
    return out


def save(model: AutoEncoder, path: Union[str, Path]) -> None:
    """Write the parameters to ``path`` (a ``.npz`` file: plain arrays, no pickled objects)."""
    with open(path, "wb") as f:  # a file object: numpy would append ".npz" to a name without it
        np.savez(f, **model.params)


def load(path: Union[str, Path], engine: str = "megforge") -> AutoEncoder:
    """A model from a file written by :func:`save`; CheckpointError if it is not one."""
    if engine not in ENGINES:
        raise InvalidArgumentError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as exc:  # neither .npy nor .npz: numpy would have to unpickle it
        raise CheckpointError(f"{path}: not a saved megforge smoke autoencoder (.npz): {exc}") from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise CheckpointError(f"{path}: holds a single array, not a saved megforge smoke autoencoder (.npz)")
    try:
        with loaded:
            params = {k: loaded[k] for k in loaded.files}
        return AutoEncoder(params, engine)
    except (OSError, ValueError) as exc:  # a damaged member / an object array / wrong keys or shapes
        raise CheckpointError(f"{path}: not a saved megforge smoke autoencoder: {exc}") from exc


def gradient_check(model: AutoEncoder, x: np.ndarray, samples: int = 8, eps: float = 1e-6,
                   seed: int = 0) -> Dict[str, float]:
    """Per parameter: max |analytic - central difference| over ``samples`` random entries,
    divided by max |analytic gradient| of that parameter. Needs the float64 reference engine."""
    if model.dtype != np.float64:
        raise InvalidArgumentError(f"gradient_check needs a float64 model (engine='reference'), got "
                                   f"engine={model.engine!r}: central differences with eps={eps} are "
                                   f"meaningless in {np.dtype(model.dtype).name}")
    _, grads = model.loss_and_grads(x)
    rng = np.random.default_rng(seed)
    errors = {}
    for name, grad in grads.items():
        flat = model.params[name].reshape(-1)  # a view: edits reach the model
        worst = 0.0
        for i in rng.choice(flat.size, min(samples, flat.size), replace=False):
            saved = flat[i]
            losses = []
            for delta in (eps, -eps):
                flat[i] = saved + delta
                model.weights_changed()
                losses.append(model.loss(x))
            flat[i] = saved
            numeric = (losses[0] - losses[1]) / (2 * eps)
            worst = max(worst, abs(float(grad.reshape(-1)[i]) - numeric))
        model.weights_changed()
        errors[name] = worst / max(float(np.abs(grad).max()), 1e-30)
    return errors
