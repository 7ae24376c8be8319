"""Read and write safetensors files without the ``safetensors`` package.

Format: ``u64 LE header length N`` | ``N bytes of UTF-8 JSON`` | data buffer. The JSON maps
each tensor name to ``{"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}``
(offsets relative to the data buffer, row-major little-endian data) plus an optional
``"__metadata__"`` string->string map. Tensors must cover the buffer exactly, without
overlaps or holes. BF16 is widened exactly to float32 on reading (numpy has no bfloat16).
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Mapping

import numpy as np

from megforge.errors import CheckpointError, InvalidTypeError

MAX_HEADER = 100 * 1024 * 1024
# safetensors dtype -> numpy dtype (little-endian); BF16 handled separately
DTYPES: dict[str, str] = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?", "BF16": "<u2",
}
_NAMES = {np.dtype(v): k for k, v in DTYPES.items() if k != "BF16"}


def looks_like_safetensors(head: bytes) -> bool:
    """Cheap sniff: a plausible header length followed by ``{``."""
    return len(head) >= 9 and int.from_bytes(head[:8], "little") < MAX_HEADER and head[8:9] == b"{"


def load_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """Read every tensor of a safetensors file as an owned numpy array (name -> array)."""
    arrays, _ = read_safetensors(path)
    return arrays


def read_safetensors(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read a safetensors file; return ``(arrays, metadata)``. Malformed files raise CheckpointError."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 8:
        raise CheckpointError(f"{path}: too short for a safetensors file ({len(raw)} bytes)")
    (size,) = struct.unpack_from("<Q", raw)
    if size > MAX_HEADER or 8 + size > len(raw):
        raise CheckpointError(f"{path}: safetensors header length {size} exceeds the file ({len(raw)} bytes)")
    try:
        header = json.loads(raw[8:8 + size].decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{path}: safetensors header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(f"{path}: __metadata__ must map strings to strings")
    buffer = memoryview(raw)[8 + size:]
    spans: list[tuple[int, int, str]] = []
    arrays: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        dtype, shape, begin, end = _entry(path, name, entry)
        count = math.prod(shape)
        if end > len(buffer) or end - begin != count * np.dtype(DTYPES[dtype]).itemsize:
            raise CheckpointError(f"{path}: tensor {name!r} ({dtype} {shape}) has data_offsets [{begin}, {end}] "
                                  f"inconsistent with its size or the {len(buffer)}-byte buffer (truncated?)")
        spans.append((begin, end, name))
        array = np.frombuffer(buffer[begin:end], dtype=DTYPES[dtype]).reshape(shape)
        if dtype == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        arrays[name] = array.astype(array.dtype.newbyteorder("="), copy=True)
    _check_coverage(path, spans, len(buffer))
    return arrays, dict(metadata)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _entry(path: Path, name: str, entry: object) -> tuple[str, list[int], int, int]:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise CheckpointError(f"{path}: header entry {name!r} must have exactly dtype, shape, data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPES:
        raise CheckpointError(f"{path}: tensor {name!r} has unsupported dtype {dtype!r}")
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        raise CheckpointError(f"{path}: tensor {name!r} has invalid shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise CheckpointError(f"{path}: tensor {name!r} has invalid data_offsets {offsets!r}")
    return dtype, shape, offsets[0], offsets[1]


def _check_coverage(path: Path, spans: list[tuple[int, int, str]], total: int) -> None:
    position, previous = 0, "<start>"
    for begin, end, name in sorted(spans):
        if begin < position:
            raise CheckpointError(f"{path}: tensors {previous!r} and {name!r} overlap in the data buffer")
        if begin > position:
            raise CheckpointError(f"{path}: hole in the data buffer before tensor {name!r}")
        position, previous = end, name
    if position != total:
        raise CheckpointError(f"{path}: data buffer has {total - position} bytes no tensor covers")


def save_safetensors(path: str | Path, arrays: Mapping[str, np.ndarray],
                     metadata: Mapping[str, str] | None = None) -> None:
    """Write ``arrays`` (name -> numpy array) as a safetensors file, tensors sorted by name."""
    header: dict[str, object] = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise InvalidTypeError("safetensors metadata must map str to str")
        header["__metadata__"] = dict(metadata)
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(arrays):
        array = arrays[name]
        if not isinstance(name, str) or name == "__metadata__":
            raise InvalidTypeError(f"invalid safetensors tensor name {name!r}")
        if not isinstance(array, np.ndarray):
            raise InvalidTypeError(f"tensor {name!r} is a {type(array).__name__}, not a numpy array")
        code = _NAMES.get(array.dtype.newbyteorder("<")) or _NAMES.get(array.dtype)
        if code is None:
            raise InvalidTypeError(f"tensor {name!r} has dtype {array.dtype}, which safetensors cannot store")
        data = np.ascontiguousarray(array, dtype=np.dtype(DTYPES[code])).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # pad so the data buffer starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for chunk in chunks:
            f.write(chunk)
