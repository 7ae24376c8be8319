"""Building blocks with PyTorch's parameter names and shapes, on MegEngine functional ops.

Every layer keeps its parameters in the layout of the torch module it replaces
(``Linear.weight`` is ``(out, in)``, ``BatchNorm2d.running_mean`` is ``(C,)`` ...), so a
reference state dict loads by name without reshaping. Inference only (eval mode).
Activations are batch-first: ``(N, L, E)`` where openai/CLIP uses ``(L, N, E)``.
"""

from __future__ import annotations

import numpy as np
import megengine as mge
import megengine.functional as F
import megengine.module as M


def _param(*shape: int) -> mge.Parameter:
    return mge.Parameter(np.zeros(shape, np.float32))


class Linear(M.Module):
    """``y = x @ weight.T + bias``; weight ``(out, in)``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = _param(out_features, in_features)
        self.bias = _param(out_features) if bias else None

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        return F.linear(x, self.weight, self.bias)


class Embedding(M.Module):
    """Token embedding table ``weight (vocab, width)``; ids -> rows."""

    def __init__(self, vocab_size: int, width: int) -> None:
        super().__init__()
        self.weight = _param(vocab_size, width)

    def forward(self, ids: mge.Tensor) -> mge.Tensor:
        """ids: int32 of any shape -> ``(*ids.shape, width)``."""
        return self.weight[ids.reshape(-1)].reshape(*ids.shape, -1)


class Conv2d(M.Module):
    """Bias-free 2-D convolution, weight ``(out, in, k, k)``, NCHW."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0) -> None:
        super().__init__()
        self.weight = _param(out_channels, in_channels, kernel_size, kernel_size)
        self.stride, self.padding = stride, padding

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        return F.conv2d(x, self.weight, stride=self.stride, padding=self.padding)


class BatchNorm2d(M.Module):
    """Eval-mode batch norm over NCHW with torch's ``(C,)`` parameters and running statistics."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight, self.bias = _param(channels), _param(channels)
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
        self.weight, self.bias = _param(width), _param(width)
        self.width, self.eps = width, eps

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        return F.nn.layer_norm(x, self.width, True, self.weight, self.bias, self.eps)


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
        self.in_proj_weight = _param(3 * width, width)
        self.in_proj_bias = _param(3 * width)
        self.out_proj = Linear(width, width)
        self.width, self.heads = width, heads

    def forward(self, x: mge.Tensor, mask: mge.Tensor | None = None) -> mge.Tensor:
        """x: ``(N, L, E)``; mask: additive ``(L, L)`` or None."""
        n, length, width = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias).reshape(n, length, 3, width)  # (N, L, 3, E)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        return self.out_proj(attention(q, k, v, self.heads, mask))


class MLP(M.Module):
    """``c_fc`` -> QuickGELU -> ``c_proj`` (the keys of openai/CLIP's ``mlp`` Sequential)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.c_fc = Linear(width, 4 * width)
        self.c_proj = Linear(4 * width, width)

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        return self.c_proj(quick_gelu(self.c_fc(x)))
