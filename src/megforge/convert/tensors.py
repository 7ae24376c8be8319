"""Build numpy arrays from storage bytes, and swap them into an unpickled object tree."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from megforge.convert.objects import PickledObject, TensorRef, itemsize
from megforge.errors import CheckpointError


MAX_TENSOR_BYTES = 1 << 36  # 64 GiB: beyond it a shape (with zero strides) is a memory bomb


def tensor_from_bytes(ref: TensorRef, data: bytes | memoryview, byteorder: str = "little") -> np.ndarray:
    """Build an owned, C-contiguous array for ``ref`` from its root storage bytes.

    ``ref.offset``/``ref.stride`` count elements of the tensor's dtype (which may differ
    from the storage's for untyped storages). bfloat16 is widened exactly to float32.
    """
    storage = ref.storage
    start, nbytes = storage.offset * itemsize(storage.dtype), storage.numel * itemsize(storage.dtype)
    if len(data) < start + nbytes:
        raise CheckpointError(f"storage {storage.key!r} holds {len(data)} bytes, needs {start + nbytes} "
                              f"(truncated checkpoint?)")
    if any(s < 0 for s in ref.shape) or any(s < 0 for s in ref.stride) or ref.offset < 0:
        raise CheckpointError(f"tensor on storage {storage.key!r}: negative size/stride/offset")
    raw = "<u2" if ref.dtype == "bfloat16" else ref.dtype
    dtype = np.dtype(raw).newbyteorder("<" if byteorder == "little" else ">")
    if 0 in ref.shape:
        return _as_dtype(np.zeros(ref.shape, dtype=dtype.newbyteorder("=")), ref.dtype)
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride))
    if (last + 1) * dtype.itemsize > nbytes:
        raise CheckpointError(f"tensor shape {ref.shape} stride {ref.stride} offset {ref.offset} reaches "
                              f"beyond storage {storage.key!r} ({nbytes} bytes)")
    count = math.prod(ref.shape)
    if count * dtype.itemsize > MAX_TENSOR_BYTES:
        raise CheckpointError(f"tensor shape {ref.shape} on storage {storage.key!r} would need "
                              f"{count * dtype.itemsize} bytes (limit {MAX_TENSOR_BYTES})")
    flat = np.frombuffer(data, dtype=dtype, count=last + 1, offset=start)
    view = np.lib.stride_tricks.as_strided(flat[ref.offset:], ref.shape,
                                           tuple(s * dtype.itemsize for s in ref.stride), writeable=False)
    return _as_dtype(np.array(view, dtype=dtype.newbyteorder("="), order="C"), ref.dtype)


def _as_dtype(array: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "bfloat16":  # the upper 16 bits of a float32
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array


def materialize(obj: Any, build: Callable[[TensorRef], np.ndarray]) -> Any:
    """Replace every :class:`TensorRef` inside ``obj`` (containers and placeholders) by ``build(ref)``."""
    seen: dict[int, Any] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, TensorRef):
            return build(value)
        if id(value) in seen:
            return seen[id(value)]
        if isinstance(value, dict):
            seen[id(value)] = value
            for k in list(value):
                value[k] = walk(value[k])
        elif isinstance(value, list):
            seen[id(value)] = value
            value[:] = [walk(v) for v in value]
        elif isinstance(value, tuple):
            rebuilt = tuple(walk(v) for v in value)
            seen[id(value)] = rebuilt
            value = rebuilt
        elif isinstance(value, PickledObject):
            seen[id(value)] = value
            for field in ("args", "kwargs", "state", "items", "list_items"):
                value.__dict__[field] = walk(value.__dict__[field])
        return value

    try:
        return walk(obj)
    except RecursionError as exc:
        raise CheckpointError("checkpoint objects nest too deeply") from exc
