"""dalle-pytorch's causal transformer on MegEngine (full attention, rotary embeddings, token shift).

The module tree mirrors dalle-pytorch's wrapper nesting so parameter names equal its state-dict
keys: ``layers.layers.{i}.0`` is the attention branch ``LayerScale -> PreNorm -> [CachedAs ->
PreShiftToken ->] CachedAs -> Attention`` and ``layers.layers.{i}.1`` the feed-forward branch;
each wrapper is an attribute ``fn``. Sequences are float32 ``(batch, n, dim)``; the text part
is ``text_len = text_seq_len + 1`` tokens (with <bos>), the image part ``image_fmap_size ** 2``.
"""

from __future__ import annotations

import megengine as mge
import megengine.functional as F
import megengine.module as M
import numpy as np

from megforge.models._torchlike import LayerNorm, Linear, materialize

MAX_NEG = -3.4028234663852886e38   # -torch.finfo(float32).max, the reference's mask value


def chunk(x: mge.Tensor, parts: int, axis: int = -1) -> list[mge.Tensor]:
    """``torch.chunk``: pieces of ceil(size/parts) along ``axis`` (the last may be smaller)."""
    axis = axis % x.ndim
    size = x.shape[axis]
    step = -(-size // parts)
    index = [slice(None)] * x.ndim
    pieces = []
    for start in range(0, size, step):
        index[axis] = slice(start, min(start + step, size))
        pieces.append(x[tuple(index)])
    return pieces


def shift_down(x: mge.Tensor, axis: int) -> mge.Tensor:
    """Shift ``x`` by one step along ``axis`` (row t takes row t-1; row 0 becomes zero)."""
    pad = [(0, 0)] * x.ndim
    pad[axis] = (1, 0)
    index = [slice(None)] * x.ndim
    index[axis] = slice(0, x.shape[axis])
    return F.nn.pad(x, tuple(pad))[tuple(index)]


def rotate_half(x: mge.Tensor) -> mge.Tensor:
    """Interleaved pairs (x0, x1) -> (-x1, x0) along the last axis."""
    pairs = x.reshape(*x.shape[:-1], x.shape[-1] // 2, 2)          # (..., d/2, 2)
    rotated = F.stack([-pairs[..., 1], pairs[..., 0]], axis=-1)
    return rotated.reshape(*x.shape)


def apply_rotary(freqs: mge.Tensor, t: mge.Tensor) -> mge.Tensor:
    """Rotate the first ``freqs.shape[-1]`` features of ``t`` ``(b, h, n, d)`` by angles ``(1, n, r)``."""
    r = freqs.shape[-1]
    head, tail = materialize(t[..., :r]), t[..., r:]   # a view must not meet the broadcast angles
    head = head * F.cos(freqs) + rotate_half(head) * F.sin(freqs)
    return F.concat([head, tail], axis=-1) if t.shape[-1] > r else head


class Attention(M.Module):
    """Causal multi-head attention; rotary angles are applied to q, k and v (as dalle-pytorch does)."""

    def __init__(self, dim: int, heads: int, dim_head: int, stable: bool = False) -> None:
        super().__init__()
        self.heads, self.dim_head, self.stable = heads, dim_head, stable
        self.scale = dim_head ** -0.5
        self.to_qkv = Linear(dim, heads * dim_head * 3, bias=False)
        self.to_out = [Linear(heads * dim_head, dim)]

    def forward(self, x: mge.Tensor, rotary_pos_emb: mge.Tensor | None = None,
                cache: dict | None = None) -> mge.Tensor:
        """x ``(b, n, dim)``: the tokens at positions ``cache["offset"]`` on (0 without a cache),
        whose keys and values are appended to ``cache[self]``."""
        b, n, _ = x.shape
        h, dh = self.heads, self.dim_head
        offset = cache.get("offset", 0) if cache is not None else 0
        q, k, v = (t.reshape(b, n, h, dh).transpose(0, 2, 1, 3) for t in chunk(self.to_qkv(x), 3))  # (b, h, n, dh)
        if rotary_pos_emb is not None:
            freqs = rotary_pos_emb[:, offset:offset + n]
            q, k, v = apply_rotary(freqs, q), apply_rotary(freqs, k), apply_rotary(freqs, v)
        if cache is not None:
            if offset:
                k_past, v_past = cache[self]
                k, v = F.concat([k_past, k], axis=2), F.concat([v_past, v], axis=2)   # (b, h, offset+n, dh)
            cache[self] = (k, v)
        dots = F.matmul(q * self.scale, k, transpose_b=True)                  # (b, h, n, offset+n)
        future = np.triu(np.ones((n, offset + n), dtype=bool), offset + 1)
        dots = F.where(F.broadcast_to(mge.tensor(future), dots.shape), F.full(dots.shape, MAX_NEG), dots)
        if self.stable:   # dalle-pytorch's stable softmax: same value, rescaled max subtraction
            dots = dots / 1024.0
            dots = (dots - F.max(dots, axis=-1, keepdims=True)) * 1024.0
        attn = F.softmax(dots, axis=-1)
        out = F.matmul(attn, v).transpose(0, 2, 1, 3).reshape(b, n, h * dh)  # (b, n, h*dh)
        return self.to_out[0](out)


class _GEGLU(M.Module):
    def forward(self, x: mge.Tensor) -> mge.Tensor:
        x, gates = chunk(x, 2)
        return x * F.gelu(gates)


class _Identity(M.Module):
    def forward(self, x: mge.Tensor) -> mge.Tensor:
        return x


class FeedForward(M.Module):
    """``net.0`` Linear(dim, 2*mult*dim) -> GEGLU -> (dropout) -> ``net.3`` Linear(mult*dim, dim)."""

    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        self.net = [Linear(dim, dim * mult * 2), _GEGLU(), _Identity(), Linear(dim * mult, dim)]

    def forward(self, x: mge.Tensor, rotary_pos_emb: mge.Tensor | None = None,
                cache: dict | None = None) -> mge.Tensor:
        for layer in self.net:
            x = layer(x)
        return x


class Wrap(M.Module):
    """A parameter-free wrapper of the reference (``CachedAs``, ``NonCached``): forwards to ``fn``."""

    def __init__(self, fn: M.Module) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: mge.Tensor, **kwargs: mge.Tensor | None) -> mge.Tensor:
        return self.fn(x, **kwargs)


class PreShiftToken(M.Module):
    """Token shift before ``fn``: half the text features from the previous token; a quarter of the
    image features from the token above and a quarter from the token to the left."""

    def __init__(self, fn: M.Module, image_size: int, seq_len: int) -> None:
        super().__init__()
        self.fn = fn
        self.image_size, self.seq_len = image_size, seq_len
        self.text_len = seq_len - image_size ** 2 + 1

    def forward(self, x: mge.Tensor, cache: dict | None = None, **kwargs: mge.Tensor | None) -> mge.Tensor:
        if cache is not None:   # shift over all inputs so far (kept in cache[self]), pass on the new ones
            m = x.shape[1]
            if cache.get("offset", 0):
                x = F.concat([cache[self], x], axis=1)
            cache[self] = x
            return self.fn(self._shift(x)[:, -m:], cache=cache, **kwargs)
        return self.fn(self._shift(x), **kwargs)

    def _shift(self, x: mge.Tensor) -> mge.Tensor:
        b, n, d = x.shape
        if n < self.text_len:   # no image token yet: the reference shifts nothing at all
            return x
        padding = self.seq_len - n + 1
        x_text, x_img = x[:, :self.text_len], x[:, self.text_len:]
        x_img = F.nn.pad(x_img, ((0, 0), (0, padding), (0, 0)))
        x_img = x_img.reshape(b, self.image_size, self.image_size, d)          # (b, h, w, d)
        text_shift, text_pass = chunk(x_text, 2)
        x_text = F.concat([shift_down(text_shift, 1), text_pass], axis=-1)
        top, left, *rest = chunk(x_img, 4)
        x_img = F.concat([shift_down(top, 1), shift_down(left, 2), *rest], axis=-1)
        x_img = x_img.reshape(b, self.image_size ** 2, d)[:, :n - self.text_len]
        return F.concat([x_text, x_img], axis=1)


class PreNorm(M.Module):
    """``norm`` -> ``fn`` -> ``norm_out`` (sandwich norm only)."""

    def __init__(self, dim: int, fn: M.Module, sandwich: bool) -> None:
        super().__init__()
        self.norm = LayerNorm(dim)
        self.norm_out = LayerNorm(dim) if sandwich else None
        self.fn = fn

    def forward(self, x: mge.Tensor, **kwargs: mge.Tensor | None) -> mge.Tensor:
        x = self.fn(self.norm(x), **kwargs)
        return x if self.norm_out is None else self.norm_out(x)


class LayerScale(M.Module):
    """``fn(x) * scale`` with ``scale`` ``(1, 1, dim)``."""

    def __init__(self, dim: int, fn: M.Module) -> None:
        super().__init__()
        self.scale = mge.Parameter(np.zeros((1, 1, dim), np.float32))
        self.fn = fn

    def forward(self, x: mge.Tensor, **kwargs: mge.Tensor | None) -> mge.Tensor:
        return self.fn(x, **kwargs) * self.scale


class SequentialSequence(M.Module):
    """Residual stack: ``x += attn(x)``, ``x += ff(x)`` per layer; rotary angles go to attention."""

    def __init__(self, layers: list[list[M.Module]]) -> None:
        super().__init__()
        self.layers = layers

    def forward(self, x: mge.Tensor, rotary_pos_emb: mge.Tensor | None = None,
                cache: dict | None = None) -> mge.Tensor:
        for attn, ff in self.layers:
            x = x + attn(x, rotary_pos_emb=rotary_pos_emb, cache=cache)
            x = x + ff(x, cache=cache)
        return x


class Transformer(M.Module):
    """dalle-pytorch ``Transformer`` (causal, ``attn_types=('full',)``, not reversible).

    ``pos_emb`` ``(1, seq_len + 1, r)`` holds the rotary angles exactly as the checkpoint stores them.
    """

    def __init__(self, *, dim: int, depth: int, seq_len: int, heads: int, dim_head: int,
                 image_fmap_size: int, ff_mult: int = 4, stable: bool = False,
                 sandwich_norm: bool = False, shift_tokens: bool = False,
                 rotary_dim: int | None = None) -> None:
        super().__init__()
        layers = []
        for _ in range(depth):
            attn: M.Module = Wrap(Attention(dim, heads, dim_head, stable=stable))
            ff: M.Module = FeedForward(dim, mult=ff_mult)
            if shift_tokens:
                attn = Wrap(PreShiftToken(attn, image_fmap_size, seq_len))
                ff = Wrap(PreShiftToken(ff, image_fmap_size, seq_len))
            layers.append([LayerScale(dim, PreNorm(dim, attn, sandwich_norm)),
                           LayerScale(dim, PreNorm(dim, ff, sandwich_norm))])
        self.layers = SequentialSequence(layers)
        # one angle row per position of text (with <bos>) + image: seq_len + 1 rows
        self.pos_emb = None if rotary_dim is None else mge.Parameter(np.zeros((1, seq_len + 1, rotary_dim), np.float32))

    def forward(self, x: mge.Tensor, cache: dict | None = None) -> mge.Tensor:
        """x ``(b, n, dim)``. With ``cache`` (a dict; ``cache["offset"]`` = tokens seen so far), x holds
        only the new tokens and keys/values/shift inputs are kept for the next call."""
        return self.layers(x, rotary_pos_emb=self.pos_emb, cache=cache)
