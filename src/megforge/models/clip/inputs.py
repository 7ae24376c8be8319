"""Validate and convert model inputs (numpy arrays or MegEngine tensors) before a forward pass."""

from __future__ import annotations

from typing import Any

import numpy as np
import megengine as mge
from megengine.core._imperative_rt.common import CompNode

from megforge.errors import InvalidArgumentError, InvalidTypeError


def _as_numpy(value: Any, what: str) -> np.ndarray:
    if isinstance(value, mge.Tensor):
        return value.numpy()
    if isinstance(value, np.ndarray):
        return value
    raise InvalidTypeError(f"{what} must be a numpy array or a MegEngine tensor, got {type(value).__name__}")


def _check_image(shape: tuple, dtype: Any, resolution: int) -> None:
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise InvalidTypeError(f"image must be a float array (CLIP-normalised, see preprocess()), got {dtype}")
    if len(shape) != 4 or shape[1] != 3 or tuple(shape[2:]) != (resolution, resolution) or shape[0] == 0:
        raise InvalidArgumentError(f"image must have shape (N, 3, {resolution}, {resolution}) with N >= 1, "
                                   f"got {tuple(shape)}")


def image_tensor(image: Any, resolution: int, device: str | None) -> mge.Tensor:
    """Check ``image`` is float ``(N, 3, resolution, resolution)``; return it as float32 on ``device``.

    A MegEngine tensor is returned as it is (cast to float32 if needed), so it stays in the
    autodiff graph: gradients reach the caller's image (CLIP-guided optimisation, BigSleep).
    """
    if isinstance(image, mge.Tensor):
        _check_image(tuple(image.shape), image.dtype, resolution)
        if device is not None and image.device != CompNode(device):
            image = image.to(device)  # a differentiable copy
        return image if np.dtype(image.dtype) == np.float32 else image.astype("float32")
    array = _as_numpy(image, "image")
    _check_image(array.shape, array.dtype, resolution)
    if not np.isfinite(array).all():
        raise InvalidArgumentError("image contains NaN or infinite values")
    return mge.Tensor(np.ascontiguousarray(array, dtype=np.float32), device=device)


def text_tensor(text: Any, context_length: int, vocab_size: int, device: str | None) -> mge.Tensor:
    """Check ``text`` is integer token ids ``(N, n_ctx)`` within the vocabulary; return int32 on ``device``."""
    array = _as_numpy(text, "text")
    if not np.issubdtype(array.dtype, np.integer):
        raise InvalidTypeError(f"text must hold integer token ids (see tokenize()), got {array.dtype}")
    if array.ndim != 2 or array.shape[0] == 0 or not 1 <= array.shape[1] <= context_length:
        raise InvalidArgumentError(f"text must have shape (N, n_ctx) with N >= 1 and 1 <= n_ctx <= "
                                   f"{context_length}, got {tuple(array.shape)}")
    if array.size and (array.min() < 0 or array.max() >= vocab_size):
        raise InvalidArgumentError(f"token ids must lie in [0, {vocab_size}), got [{array.min()}, {array.max()}]")
    return mge.Tensor(array.astype(np.int32), dtype="int32", device=device)
