"""Reference implementations used to check megforge and MegEngine results (numpy, float64)."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np

IntPair = Union[int, Sequence[int]]


def _pair(v: IntPair) -> Tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def conv_transpose2d_reference(
    x: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
    output_padding: IntPair = 0,
) -> np.ndarray:
    """Transposed convolution in float64, scatter form.

    x: (N, C_in, H, W); weight: (C_in, C_out/groups, KH, KW) (PyTorch layout);
    returns (N, C_out, OH, OW) with OH = (H-1)*s - 2p + d*(KH-1) + output_padding + 1.
    """
    (sh, sw), (ph, pw), (dh, dw), (oph, opw) = map(_pair, (stride, padding, dilation, output_padding))
    x = np.asarray(x, np.float64)
    weight = np.asarray(weight, np.float64)
    n, c_in, h, w = x.shape
    _, ocg, kh, kw = weight.shape
    icg = c_in // groups
    full_h = (h - 1) * sh + dh * (kh - 1) + 1 + oph
    full_w = (w - 1) * sw + dw * (kw - 1) + 1 + opw
    full = np.zeros((n, ocg * groups, full_h, full_w))
    for g in range(groups):
        xg = x[:, g * icg:(g + 1) * icg]
        wg = weight[g * icg:(g + 1) * icg]
        for ky in range(kh):
            for kx in range(kw):
                contrib = np.einsum("nchw,co->nohw", xg, wg[:, :, ky, kx])
                full[:, g * ocg:(g + 1) * ocg,
                     ky * dh: ky * dh + (h - 1) * sh + 1: sh,
                     kx * dw: kx * dw + (w - 1) * sw + 1: sw] += contrib
    out = full[:, :, ph: full_h - ph, pw: full_w - pw]
    if bias is not None:
        out = out + np.asarray(bias, np.float64)[None, :, None, None]
    return out


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """max |got - want| / max |want| (0 for an all-zero reference that is matched exactly)."""
    scale = float(np.abs(want).max()) if np.size(want) else 0.0
    diff = float(np.abs(np.asarray(got, np.float64) - want).max()) if np.size(want) else 0.0
    return diff / scale if scale else diff


def pack_nc4hw4(x: np.ndarray) -> np.ndarray:
    """NCHW ``(N, C, H, W)`` -> NC4HW4 ``(N, ceil(C/4), H, W, 4)`` float32, padding lanes zero
    (numpy only: usable where megforge's native library is not built)."""
    n, c, h, w = x.shape
    blocks = (c + 3) // 4
    padded = np.zeros((n, blocks * 4, h, w), np.float32)
    padded[:, :c] = x
    return np.ascontiguousarray(padded.reshape(n, blocks, 4, h, w).transpose(0, 1, 3, 4, 2))


def unpack_nc4hw4(y: np.ndarray, channels: int) -> np.ndarray:
    """NC4HW4 ``(N, B, H, W, 4)`` -> NCHW ``(N, channels, H, W)`` (lanes past ``channels`` dropped)."""
    n, blocks, h, w, _ = y.shape
    return y.transpose(0, 1, 4, 2, 3).reshape(n, blocks * 4, h, w)[:, :channels]
