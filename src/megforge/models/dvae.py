"""OpenAI's DALL-E discrete VAE (``dall_e`` package) on MegEngine.

Parameters keep the reference names: every conv holds ``w`` ``(O, I, k, k)`` and ``b`` ``(O,)``;
keys read ``blocks.group_2.block_1.res_path.conv_3.w``. The encoder maps pixels (after
:func:`map_pixels`) ``(N, 3, H, W)`` to codebook logits ``(N, vocab_size, H/8, W/8)``; the decoder
maps one-hot codes ``(N, vocab_size, h, w)`` to pixel statistics ``(N, 2*3, 8h, 8w)``, whose
first three channels through a sigmoid and :func:`unmap_pixels` are the image in [0, 1].
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import megengine as mge
import megengine.functional as F
import megengine.module as M
import numpy as np

from megforge.errors import InvalidArgumentError
from megforge.models._torchlike import load_parameters, require, upsample_nearest2x

LOGIT_LAPLACE_EPS = 0.1
GROUP_COUNT = 4


def map_pixels(x: mge.Tensor) -> mge.Tensor:
    """Pixels in [0, 1] -> the encoder's input range [eps, 1 - eps]."""
    return (1 - 2 * LOGIT_LAPLACE_EPS) * x + LOGIT_LAPLACE_EPS


def unmap_pixels(x: mge.Tensor) -> mge.Tensor:
    """Inverse of :func:`map_pixels`, clipped to [0, 1]."""
    return F.clip((x - LOGIT_LAPLACE_EPS) / (1 - 2 * LOGIT_LAPLACE_EPS), 0, 1)


class Conv2d(M.Module):
    """Same-padded conv with ``w`` ``(n_out, n_in, kw, kw)`` and ``b`` ``(n_out,)``."""

    def __init__(self, n_in: int, n_out: int, kw: int) -> None:
        super().__init__()
        self.kw = kw
        self.w = mge.Parameter(np.zeros((n_out, n_in, kw, kw), np.float32))
        self.b = mge.Parameter(np.zeros((n_out,), np.float32))

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        return F.nn.conv2d(x, self.w, self.b.reshape(1, -1, 1, 1), padding=(self.kw - 1) // 2)


class _ResPath(M.Module):
    """relu-conv_1-relu-conv_2-relu-conv_3-relu-conv_4 with the given kernel sizes."""

    def __init__(self, n_in: int, n_hid: int, n_out: int, kernels: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.conv_1 = Conv2d(n_in, n_hid, kernels[0])
        self.conv_2 = Conv2d(n_hid, n_hid, kernels[1])
        self.conv_3 = Conv2d(n_hid, n_hid, kernels[2])
        self.conv_4 = Conv2d(n_hid, n_out, kernels[3])

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        for conv in (self.conv_1, self.conv_2, self.conv_3, self.conv_4):
            x = conv(F.relu(x))
        return x


class _Block(M.Module):
    """``id_path(x) + post_gain * res_path(x)``; id_path is a 1x1 conv when widths differ."""

    def __init__(self, n_in: int, n_out: int, n_layers: int, kernels: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.post_gain = 1 / n_layers ** 2
        self.id_path = Conv2d(n_in, n_out, 1) if n_in != n_out else None
        self.res_path = _ResPath(n_in, n_out // 4, n_out, kernels)

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        identity = x if self.id_path is None else self.id_path(x)
        return identity + self.post_gain * self.res_path(x)


class EncoderBlock(_Block):
    def __init__(self, n_in: int, n_out: int, n_layers: int) -> None:
        super().__init__(n_in, n_out, n_layers, (3, 3, 3, 1))


class DecoderBlock(_Block):
    def __init__(self, n_in: int, n_out: int, n_layers: int) -> None:
        super().__init__(n_in, n_out, n_layers, (1, 3, 3, 3))


class _Group(M.Module):
    """``block_1 .. block_n`` then an optional 2x max-pool (encoder) or 2x nearest upsample."""

    def __init__(self, blocks: list[M.Module], resample: str | None) -> None:
        super().__init__()
        for i, block in enumerate(blocks):
            setattr(self, f"block_{i + 1}", block)
        self.n_blocks, self.resample = len(blocks), resample

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        for i in range(self.n_blocks):
            x = getattr(self, f"block_{i + 1}")(x)
        if self.resample == "pool":
            x = F.nn.max_pool2d(x, 2, 2)
        elif self.resample == "upsample":
            x = upsample_nearest2x(x)
        return x


class _Output(M.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.conv = Conv2d(n_in, n_out, 1)

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        return self.conv(F.relu(x))


class _Blocks(M.Module):
    """``input`` conv, ``group_1`` .. ``group_4``, ``output`` (relu + 1x1 conv)."""

    def __init__(self, input: Conv2d, groups: list[_Group], output: _Output) -> None:
        super().__init__()
        self.input, self.output = input, output
        for i, group in enumerate(groups):
            setattr(self, f"group_{i + 1}", group)

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        x = self.input(x)
        for i in range(GROUP_COUNT):
            x = getattr(self, f"group_{i + 1}")(x)
        return self.output(x)


def _check_input(x: mge.Tensor | np.ndarray, channels: int, what: str) -> mge.Tensor:
    x = x if isinstance(x, mge.Tensor) else mge.tensor(np.asarray(x))
    if x.ndim != 4:
        raise InvalidArgumentError(f"{what}: input shape {tuple(x.shape)} is not 4d")
    if x.shape[1] != channels:
        raise InvalidArgumentError(f"{what}: input has {x.shape[1]} channels but model built for {channels}")
    if x.dtype != np.float32:
        raise InvalidArgumentError(f"{what}: input must be float32, got {np.dtype(x.dtype).name}")
    return x


class Encoder(M.Module):
    """dall_e ``Encoder``: mapped pixels ``(N, input_channels, H, W)`` -> logits ``(N, vocab, H/8, W/8)``."""

    def __init__(self, n_hid: int = 256, n_blk_per_group: int = 2, input_channels: int = 3,
                 vocab_size: int = 8192, **ignore: Any) -> None:
        super().__init__()
        self.input_channels, self.vocab_size = input_channels, vocab_size
        n_layers = GROUP_COUNT * n_blk_per_group
        widths = [1, 1, 2, 4, 8]   # group g maps widths[g-1]*n_hid -> widths[g]*n_hid
        groups = []
        for g in range(1, GROUP_COUNT + 1):
            blocks = [EncoderBlock((widths[g - 1] if i == 0 else widths[g]) * n_hid, widths[g] * n_hid, n_layers)
                      for i in range(n_blk_per_group)]
            groups.append(_Group(blocks, "pool" if g < GROUP_COUNT else None))
        self.blocks = _Blocks(Conv2d(input_channels, n_hid, 7), groups, _Output(8 * n_hid, vocab_size))

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        return self.blocks(_check_input(x, self.input_channels, "dvae encoder"))


class Decoder(M.Module):
    """dall_e ``Decoder``: one-hot codes ``(N, vocab, h, w)`` -> stats ``(N, 2*output_channels, 8h, 8w)``."""

    def __init__(self, n_init: int = 128, n_hid: int = 256, n_blk_per_group: int = 2,
                 output_channels: int = 3, vocab_size: int = 8192, **ignore: Any) -> None:
        super().__init__()
        self.output_channels, self.vocab_size = output_channels, vocab_size
        n_layers = GROUP_COUNT * n_blk_per_group
        widths = [8, 8, 4, 2, 1]   # group g maps widths[g-1]*n_hid (n_init first) -> widths[g]*n_hid
        groups = []
        for g in range(1, GROUP_COUNT + 1):
            first_in = n_init if g == 1 else widths[g - 1] * n_hid
            blocks = [DecoderBlock(first_in if i == 0 else widths[g] * n_hid, widths[g] * n_hid, n_layers)
                      for i in range(n_blk_per_group)]
            groups.append(_Group(blocks, "upsample" if g < GROUP_COUNT else None))
        self.blocks = _Blocks(Conv2d(vocab_size, n_init, 1), groups, _Output(n_hid, 2 * output_channels))

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        return self.blocks(_check_input(x, self.vocab_size, "dvae decoder"))


def _n_blk_per_group(state_dict: Mapping[str, np.ndarray]) -> int:
    found = {int(m.group(1)) for k in state_dict if (m := re.match(r"blocks\.group_1\.block_(\d+)\.", k))}
    return max(found) if found else 0


def encoder_kwargs(state_dict: Mapping[str, np.ndarray], config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """dall_e ``Encoder`` kwargs read off the shapes, overridden by ``config``."""
    what = "dvae encoder"
    w_in = require(state_dict, "blocks.input.w", what)
    kwargs = dict(n_hid=int(w_in.shape[0]), input_channels=int(w_in.shape[1]),
                  n_blk_per_group=_n_blk_per_group(state_dict),
                  vocab_size=int(require(state_dict, "blocks.output.conv.w", what).shape[0]))
    return {**kwargs, **(config or {})}


def decoder_kwargs(state_dict: Mapping[str, np.ndarray], config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """dall_e ``Decoder`` kwargs read off the shapes, overridden by ``config``."""
    what = "dvae decoder"
    w_in = require(state_dict, "blocks.input.w", what)
    w_out = require(state_dict, "blocks.output.conv.w", what)
    kwargs = dict(n_init=int(w_in.shape[0]), vocab_size=int(w_in.shape[1]),
                  n_blk_per_group=_n_blk_per_group(state_dict),
                  n_hid=int(w_out.shape[1]), output_channels=int(w_out.shape[0]) // 2)
    return {**kwargs, **(config or {})}


def dvae_encoder_from_state_dict(state_dict: Mapping[str, np.ndarray],
                                 config: Mapping[str, Any] | None = None) -> Encoder:
    """dall_e ``Encoder`` from its state dict; ``config`` = Encoder kwargs (shapes suffice)."""
    return load_parameters(Encoder(**encoder_kwargs(state_dict, config)), state_dict, what="dvae encoder")


def dvae_decoder_from_state_dict(state_dict: Mapping[str, np.ndarray],
                                 config: Mapping[str, Any] | None = None) -> Decoder:
    """dall_e ``Decoder`` from its state dict; ``config`` = Decoder kwargs (shapes suffice)."""
    return load_parameters(Decoder(**decoder_kwargs(state_dict, config)), state_dict, what="dvae decoder")
