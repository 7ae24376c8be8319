"""taming-transformers' convolutional Encoder and Decoder (the VQGAN autoencoder) on MegEngine.

Attribute names follow taming's checkpoint keys (``encoder.down.1.block.0.norm1.weight``,
``decoder.up.2.upsample.conv.weight``, ``mid.attn_1.q.weight`` ...). Constructor keywords are
taming's ``ddconfig`` fields. All tensors are float32 NCHW.
"""

from __future__ import annotations

from typing import Sequence

import megengine as mge
import megengine.functional as F
import megengine.module as M

from megforge.models._torchlike import Conv2d, GroupNorm, upsample_nearest2x


def swish(x: mge.Tensor) -> mge.Tensor:
    return x * F.sigmoid(x)


def Normalize(channels: int) -> GroupNorm:
    return GroupNorm(32, channels, eps=1e-6)


class Upsample(M.Module):
    """Nearest 2x, then an optional 3x3 conv."""

    def __init__(self, channels: int, with_conv: bool) -> None:
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        x = upsample_nearest2x(x)
        return self.conv(x) if self.with_conv else x


class Downsample(M.Module):
    """Stride-2 3x3 conv after padding right/bottom by one (asymmetric), or 2x2 average pool."""

    def __init__(self, channels: int, with_conv: bool) -> None:
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        if not self.with_conv:
            return F.nn.avg_pool2d(x, 2, 2)
        x = F.nn.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)))
        return self.conv(x)


class ResnetBlock(M.Module):
    """GroupNorm-swish-conv twice plus a shortcut (1x1 ``nin_shortcut`` or 3x3 ``conv_shortcut``)."""

    def __init__(self, in_channels: int, out_channels: int, conv_shortcut: bool = False) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.use_conv_shortcut = conv_shortcut
        self.norm1 = Normalize(in_channels)
        self.conv1 = Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = Normalize(out_channels)
        self.conv2 = Conv2d(out_channels, out_channels, 3, padding=1)
        if in_channels != out_channels:
            if conv_shortcut:
                self.conv_shortcut = Conv2d(in_channels, out_channels, 3, padding=1)
            else:
                self.nin_shortcut = Conv2d(in_channels, out_channels, 1)

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(swish(self.norm2(h)))
        if self.in_channels != self.out_channels:
            x = self.conv_shortcut(x) if self.use_conv_shortcut else self.nin_shortcut(x)
        return x + h


class AttnBlock(M.Module):
    """Single-head spatial self-attention with 1x1-conv q, k, v and ``proj_out``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = Normalize(channels)
        self.q = Conv2d(channels, channels, 1)
        self.k = Conv2d(channels, channels, 1)
        self.v = Conv2d(channels, channels, 1)
        self.proj_out = Conv2d(channels, channels, 1)

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        h = self.norm(x)
        b, c, hh, ww = h.shape
        q = self.q(h).reshape(b, c, hh * ww).transpose(0, 2, 1)  # (b, hw, c)
        k = self.k(h).reshape(b, c, hh * ww)                      # (b, c, hw)
        v = self.v(h).reshape(b, c, hh * ww)                      # (b, c, hw)
        w = F.softmax(F.matmul(q, k) * (int(c) ** -0.5), axis=2)  # (b, hw_q, hw_k)
        h = F.matmul(v, w.transpose(0, 2, 1)).reshape(b, c, hh, ww)
        return x + self.proj_out(h)


class _Level(M.Module):
    """One resolution level: ``block`` list, ``attn`` list, optional ``downsample``/``upsample``."""

    def __init__(self) -> None:
        super().__init__()
        self.block: list[ResnetBlock] = []
        self.attn: list[AttnBlock] = []

    def forward(self, h: mge.Tensor) -> mge.Tensor:
        for i, block in enumerate(self.block):
            h = block(h)
            if self.attn:
                h = self.attn[i](h)
        return h


class _Mid(M.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels)
        self.attn_1 = AttnBlock(channels)
        self.block_2 = ResnetBlock(channels, channels)

    def forward(self, h: mge.Tensor) -> mge.Tensor:
        return self.block_2(self.attn_1(self.block_1(h)))


class Encoder(M.Module):
    """Image ``(N, in_channels, H, W)`` in [-1, 1] -> ``(N, z_channels[*2 if double_z], H/f, W/f)``."""

    def __init__(self, *, ch: int, out_ch: int, ch_mult: Sequence[int] = (1, 2, 4, 8),
                 num_res_blocks: int, attn_resolutions: Sequence[int], dropout: float = 0.0,
                 resamp_with_conv: bool = True, in_channels: int, resolution: int,
                 z_channels: int, double_z: bool = True, **ignore: object) -> None:
        super().__init__()
        self.num_resolutions = len(ch_mult)
        self.conv_in = Conv2d(in_channels, ch, 3, padding=1)
        in_ch_mult = (1,) + tuple(ch_mult)
        curr_res = resolution
        self.down: list[_Level] = []
        for i_level in range(self.num_resolutions):
            level = _Level()
            block_in, block_out = ch * in_ch_mult[i_level], ch * ch_mult[i_level]
            for _ in range(num_res_blocks):
                level.block.append(ResnetBlock(block_in, block_out))
                block_in = block_out
                if curr_res in attn_resolutions:
                    level.attn.append(AttnBlock(block_in))
            if i_level != self.num_resolutions - 1:
                level.downsample = Downsample(block_in, resamp_with_conv)
                curr_res //= 2
            self.down.append(level)
        self.mid = _Mid(block_in)
        self.norm_out = Normalize(block_in)
        self.conv_out = Conv2d(block_in, 2 * z_channels if double_z else z_channels, 3, padding=1)

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        h = self.conv_in(x)
        for i_level, level in enumerate(self.down):
            h = level(h)
            if i_level != self.num_resolutions - 1:
                h = level.downsample(h)
        h = self.mid(h)
        return self.conv_out(swish(self.norm_out(h)))


class Decoder(M.Module):
    """Latent ``(N, z_channels, h, w)`` -> image ``(N, out_ch, h*f, w*f)`` (roughly [-1, 1])."""

    def __init__(self, *, ch: int, out_ch: int, ch_mult: Sequence[int] = (1, 2, 4, 8),
                 num_res_blocks: int, attn_resolutions: Sequence[int], dropout: float = 0.0,
                 resamp_with_conv: bool = True, in_channels: int, resolution: int,
                 z_channels: int, give_pre_end: bool = False, **ignore: object) -> None:
        super().__init__()
        self.num_resolutions = len(ch_mult)
        self.give_pre_end = give_pre_end
        block_in = ch * ch_mult[-1]
        curr_res = resolution // 2 ** (self.num_resolutions - 1)
        self.z_shape = (1, z_channels, curr_res, curr_res)
        self.conv_in = Conv2d(z_channels, block_in, 3, padding=1)
        self.mid = _Mid(block_in)
        levels: list[_Level] = []
        for i_level in reversed(range(self.num_resolutions)):
            level = _Level()
            block_out = ch * ch_mult[i_level]
            for _ in range(num_res_blocks + 1):
                level.block.append(ResnetBlock(block_in, block_out))
                block_in = block_out
                if curr_res in attn_resolutions:
                    level.attn.append(AttnBlock(block_in))
            if i_level != 0:
                level.upsample = Upsample(block_in, resamp_with_conv)
                curr_res *= 2
            levels.insert(0, level)  # up[0] is the finest level, as in the checkpoint
        self.up = levels
        self.norm_out = Normalize(block_in)
        self.conv_out = Conv2d(block_in, out_ch, 3, padding=1)

    def forward(self, z: mge.Tensor) -> mge.Tensor:
        h = self.mid(self.conv_in(z))
        for i_level in reversed(range(self.num_resolutions)):
            h = self.up[i_level](h)
            if i_level != 0:
                h = self.up[i_level].upsample(h)
        if self.give_pre_end:
            return h
        return self.conv_out(swish(self.norm_out(h)))
