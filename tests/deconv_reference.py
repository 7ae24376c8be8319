"""float64 numpy reference of the transposed convolution, independent of the native code."""

from __future__ import annotations

import numpy as np


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv_transpose2d_ref(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, output_padding=0):
    """x: (N, C_in, H, W); weight: (C_in, C_out/groups, KH, KW); returns float64 (N, C_out, OH, OW)."""
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
