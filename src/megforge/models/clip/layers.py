"""Building blocks with PyTorch's parameter names and shapes, on MegEngine functional ops.

Every layer keeps its parameters in the layout of the torch module it replaces
(``Linear.weight`` is ``(out, in)``, ``BatchNorm2d.running_mean`` is ``(C,)`` ...), so a
reference state dict loads by name without reshaping. Inference only (eval mode).

Transformer activations are *channel-first*, ``(N, E, L, 1)`` where openai/CLIP uses
``(L, N, E)``: every projection is then a 1x1 convolution, which MegEngine runs on all
threads of a ``multithread`` device (its matrix product runs on one thread), and attention
needs no transposes: per head, scores are ``q^T k`` and the output is ``v p^T``.
"""

from __future__ import annotations

import numpy as np
import megengine as mge
import megengine.functional as F
import megengine.module as M

from megforge.models._runtime import prefer_avx2_mkl

prefer_avx2_mkl()  # before the first MegEngine operator runs; see megforge.models._runtime


def zeros_parameter(*shape: int) -> mge.Parameter:
    """A float32 parameter of ``shape``, zero until ``from_state_dict`` loads the weights."""
    return mge.Parameter(np.zeros(shape, np.float32))


class Linear(M.Module):
    """``y = x @ weight.T + bias``; weight ``(out, in)``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = zeros_parameter(out_features, in_features)
        self.bias = zeros_parameter(out_features) if bias else None

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        """x: ``(..., in)`` -> ``(..., out)``."""
        return F.linear(x, self.weight, self.bias)

    def conv(self, x: mge.Tensor) -> mge.Tensor:
        """The same map on channel-first ``x (N, in, L, 1)`` -> ``(N, out, L, 1)``, as a 1x1 convolution."""
        out, inp = self.weight.shape
        bias = None if self.bias is None else self.bias.reshape(1, out, 1, 1)
        return F.conv2d(x, self.weight.reshape(out, inp, 1, 1), bias)


class Embedding(M.Module):
    """Token embedding table ``weight (vocab, width)``; ids -> rows."""

    def __init__(self, vocab_size: int, width: int) -> None:
        super().__init__()
        self.weight = zeros_parameter(vocab_size, width)

    def forward(self, ids: mge.Tensor) -> mge.Tensor:
        """ids: int32 of any shape -> ``(*ids.shape, width)``."""
        return self.weight[ids.reshape(-1)].reshape(*ids.shape, -1)


class Conv2d(M.Module):
    """Bias-free 2-D convolution, weight ``(out, in, k, k)``, NCHW."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0) -> None:
        super().__init__()
        self.weight = zeros_parameter(out_channels, in_channels, kernel_size, kernel_size)
        self.stride, self.padding = stride, padding

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        return F.conv2d(x, self.weight, stride=self.stride, padding=self.padding)


class BatchNorm2d(M.Module):
    """Eval-mode batch norm over NCHW with torch's ``(C,)`` parameters and running statistics."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight, self.bias = zeros_parameter(channels), zeros_parameter(channels)
        self.running_mean, self.running_var = mge.Tensor(np.zeros(channels, np.float32)), \
            mge.Tensor(np.ones(channels, np.float32))
        self.eps = eps

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        scale = self.weight / F.sqrt(self.running_var + self.eps)
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)


class LayerNorm(M.Module):
    """Layer norm over the last axis (fp32, eps 1e-5), weight/bias ``(C,)``."""

    def __init__(self, width: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight, self.bias = zeros_parameter(width), zeros_parameter(width)
        self.width, self.eps = width, eps

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        """x: ``(..., C)``."""
        return F.nn.layer_norm(x, self.width, True, self.weight, self.bias, self.eps)

    def channels_first(self, x: mge.Tensor) -> mge.Tensor:
        """The same normalisation over axis 1 of ``x (N, C, L, 1)``."""
        mean = x.mean(axis=1, keepdims=True)
        centred = x - mean
        inv_std = 1.0 / F.sqrt((centred * centred).mean(axis=1, keepdims=True) + self.eps)
        return centred * inv_std * self.weight.reshape(1, -1, 1, 1) + self.bias.reshape(1, -1, 1, 1)


def quick_gelu(x: mge.Tensor) -> mge.Tensor:
    """CLIP's GELU approximation ``x * sigmoid(1.702 x)``."""
    return x * F.sigmoid(1.702 * x)


def attention(q: mge.Tensor, k: mge.Tensor, v: mge.Tensor, heads: int,
              mask: mge.Tensor | None = None) -> mge.Tensor:
    """Scaled dot-product attention over ``heads`` heads.

    q: ``(N, Lq, E)``, k/v: ``(N, Lk, E)``, mask: additive ``(Lq, Lk)``; returns ``(N, Lq, E)``.
    """
    n, lq, width = q.shape
    lk = k.shape[1]
    head_dim = width // heads
    q = (q * head_dim ** -0.5).reshape(n, lq, heads, head_dim).transpose(0, 2, 1, 3)  # (N, H, Lq, D)
    k = k.reshape(n, lk, heads, head_dim).transpose(0, 2, 1, 3)  # (N, H, Lk, D)
    v = v.reshape(n, lk, heads, head_dim).transpose(0, 2, 1, 3)  # (N, H, Lk, D)
    scores = F.matmul(q, k, transpose_b=True)  # (N, H, Lq, Lk)
    if mask is not None:
        scores = scores + mask
    out = F.matmul(F.softmax(scores, axis=-1), v)  # (N, H, Lq, D)
    return out.transpose(0, 2, 1, 3).reshape(n, lq, width)


class MultiheadAttention(M.Module):
    """Self-attention with torch ``nn.MultiheadAttention``'s packed ``in_proj`` parameters."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.in_proj_weight = zeros_parameter(3 * width, width)
        self.in_proj_bias = zeros_parameter(3 * width)
        self.out_proj = Linear(width, width)
        self.width, self.heads = width, heads

    def forward(self, x: mge.Tensor, mask: mge.Tensor | None = None) -> mge.Tensor:
        """x: channel-first ``(N, E, L, 1)``; mask: additive ``(L, L)`` or None -> ``(N, E, L, 1)``."""
        n, width, length = x.shape[:3]
        head_dim = width // self.heads
        weight = self.in_proj_weight.reshape(3 * width, width, 1, 1)
        qkv = F.conv2d(x, weight, self.in_proj_bias.reshape(1, 3 * width, 1, 1))  # (N, 3E, L, 1)
        qkv = qkv.reshape(n, 3, self.heads, head_dim, length)  # (N, 3, H, D, L)
        q, k, v = qkv[:, 0] * head_dim ** -0.5, qkv[:, 1], qkv[:, 2]  # each (N, H, D, L)
        scores = F.matmul(q, k, transpose_a=True)  # (N, H, Lq, Lk)
        if mask is not None:
            scores = scores + mask
        out = F.matmul(v, F.softmax(scores, axis=-1), transpose_b=True)  # (N, H, D, Lq)
        return self.out_proj.conv(out.reshape(n, width, length, 1))


class MLP(M.Module):
    """``c_fc`` -> QuickGELU -> ``c_proj`` (the keys of openai/CLIP's ``mlp`` Sequential)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.c_fc = Linear(width, 4 * width)
        self.c_proj = Linear(4 * width, width)

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        """x: channel-first ``(N, E, L, 1)``."""
        return self.c_proj.conv(quick_gelu(self.c_fc.conv(x)))
