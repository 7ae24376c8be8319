"""Layers that keep PyTorch's parameter names and layouts, and the state-dict loader.

The model files in this package name their attributes after the reference checkpoint's
keys, so ``Module.named_parameters()`` yields exactly the reference key names and every
parameter has the reference's shape (a conv bias is ``(C,)``, not MegEngine's
``(1, C, 1, 1)``). Loading is then a key-for-key copy with a strict check.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import megengine as mge
import megengine.functional as F
import megengine.module as M
import numpy as np

from megforge.errors import CheckpointError


class Conv2d(M.Module):
    """``torch.nn.Conv2d`` look-alike: weight ``(O, I, k, k)``, bias ``(O,)``; x NCHW."""

    def __init__(self, n_in: int, n_out: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True) -> None:
        super().__init__()
        self.stride, self.padding = stride, padding
        self.weight = mge.Parameter(np.zeros((n_out, n_in, kernel_size, kernel_size), np.float32))
        self.bias = mge.Parameter(np.zeros((n_out,), np.float32)) if bias else None

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        bias = None if self.bias is None else self.bias.reshape(1, -1, 1, 1)
        return F.nn.conv2d(x, self.weight, bias, stride=self.stride, padding=self.padding)


class Linear(M.Module):
    """``torch.nn.Linear`` look-alike: weight ``(out, in)``, bias ``(out,)``."""

    def __init__(self, n_in: int, n_out: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = mge.Parameter(np.zeros((n_out, n_in), np.float32))
        self.bias = mge.Parameter(np.zeros((n_out,), np.float32)) if bias else None

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        return F.nn.linear(x, self.weight, self.bias)


class GroupNorm(M.Module):
    """``torch.nn.GroupNorm`` (affine) on NCHW input."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_groups, self.eps = num_groups, eps
        self.weight = mge.Parameter(np.ones((num_channels,), np.float32))
        self.bias = mge.Parameter(np.zeros((num_channels,), np.float32))

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        return F.nn.group_norm(x, self.num_groups, True, self.weight, self.bias, self.eps)


class LayerNorm(M.Module):
    """``torch.nn.LayerNorm`` over the last axis."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps
        self.weight = mge.Parameter(np.ones((dim,), np.float32))
        self.bias = mge.Parameter(np.zeros((dim,), np.float32))

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        return F.nn.layer_norm(x, (self.dim,), True, self.weight, self.bias, self.eps)


class Embedding(M.Module):
    """``torch.nn.Embedding``: weight ``(num, dim)``; integer ids of any shape -> ``(*ids, dim)``."""

    def __init__(self, num: int, dim: int) -> None:
        super().__init__()
        self.weight = mge.Parameter(np.zeros((num, dim), np.float32))

    def forward(self, ids: mge.Tensor) -> mge.Tensor:
        return self.weight[ids.reshape(-1)].reshape(*ids.shape, self.weight.shape[-1])


def materialize(x: mge.Tensor) -> mge.Tensor:
    """A fresh, contiguous copy of a view (a slice, or a reshape/transpose of one).

    MegEngine 1.13 computes broadcasting binary element-wise ops wrongly when an operand is
    such a view: ``x[:, :6] * row`` of a ``(4, 8)`` x reads the rows as if they were packed
    (measured; same-shape ops, scalar ops, unary ops, concat and pad are right). An
    element-wise op with a scalar writes a fresh tensor, so views pass through here before
    they meet a broadcast operand.
    """
    return x + 0


def upsample_nearest2x(x: mge.Tensor) -> mge.Tensor:
    """Nearest-neighbour 2x upsampling of NCHW ``x`` (exact: repeats each pixel 2x2)."""
    return F.repeat(F.repeat(x, 2, axis=2), 2, axis=3)


def load_parameters(module: M.Module, state_dict: Mapping[str, np.ndarray], *,
                    ignore_prefixes: Iterable[str] = (), what: str = "model") -> M.Module:
    """Copy ``state_dict`` (reference key -> numpy array) into ``module``'s same-named parameters.

    Checked by :func:`megforge.convert.check_state_dict`: ``num_batches_tracked`` buffers and
    keys under ``ignore_prefixes`` (training-only parts such as a GAN loss) are dropped; any
    other unknown key, missing key or shape mismatch raises CheckpointError naming the keys.
    Returns ``module`` in eval mode.
    """
    from megforge.convert import check_state_dict

    own = dict(module.named_parameters())
    patterns = [prefix + "*" for prefix in ignore_prefixes]
    arrays = check_state_dict(state_dict, {k: tuple(v.shape) for k, v in own.items()}, ignore=patterns, model=what)
    for key, array in arrays.items():
        if not np.issubdtype(array.dtype, np.floating):
            raise CheckpointError(f"{what}: key {key!r} has dtype {array.dtype}, expected float")
        own[key]._reset(mge.tensor(array.astype(np.float32)))
    module.eval()
    return module


def require(state_dict: Mapping[str, np.ndarray], key: str, what: str) -> np.ndarray:
    """``state_dict[key]`` as an array, or :class:`CheckpointError` naming the missing key."""
    if key not in state_dict:
        raise CheckpointError(f"{what}: missing key {key!r} in state dict")
    return np.asarray(state_dict[key])
