"""safetensors read/write without the safetensors package, and header validation."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from megforge.convert import detect_format, load_checkpoint, load_safetensors, read_safetensors, save_safetensors
from megforge.errors import CheckpointError, InvalidTypeError

DTYPES = ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool", "uint16"]


@settings(max_examples=30, deadline=None)
@given(dtype=st.sampled_from(DTYPES), shape=st.lists(st.integers(0, 4), max_size=3), seed=st.integers(0, 99))
def test_round_trip(tmp_path_factory: pytest.TempPathFactory, dtype: str, shape: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    arrays = {"a.weight": np.asarray(rng.standard_normal(shape) * 100).astype(dtype),
              "b": np.asfortranarray(rng.standard_normal((3, 2))).astype(np.float32)}
    path = tmp_path_factory.mktemp("st") / "x.safetensors"
    save_safetensors(path, arrays, metadata={"format": "np"})
    got, metadata = read_safetensors(path)
    assert metadata == {"format": "np"}
    assert set(got) == set(arrays)
    for key, value in arrays.items():
        assert got[key].dtype == value.dtype and got[key].shape == value.shape
        np.testing.assert_array_equal(got[key], value)
    assert (8 + struct.unpack("<Q", path.read_bytes()[:8])[0]) % 8 == 0
    assert detect_format(path) == "safetensors"
    assert set(load_checkpoint(path)) == set(arrays)


def _write(path: Path, header: dict | bytes, data: bytes, length: int | None = None) -> Path:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)
    return path


def test_reads_bf16_and_big_header_fields(tmp_path: Path) -> None:
    values = np.array([1.5, -3.0, 2.0**-10], np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    header = {"__metadata__": {"k": "v"}, "x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}
    got = load_safetensors(_write(tmp_path / "bf.safetensors", header, bf16))
    assert got["x"].dtype == np.float32
    np.testing.assert_array_equal(got["x"], values)


F32 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


@pytest.mark.parametrize("header, data, length, message", [
    ({"x": F32}, b"\0" * 4, None, "inconsistent"),  # truncated data
    ({"x": F32, "y": dict(F32, data_offsets=[4, 12])}, b"\0" * 12, None, "overlap"),
    ({"x": dict(F32, data_offsets=[4, 12])}, b"\0" * 12, None, "hole"),
    ({"x": F32}, b"\0" * 12, None, "no tensor covers"),
    ({"x": dict(F32, dtype="F8_E4M3")}, b"\0" * 8, None, "unsupported dtype"),
    ({"x": dict(F32, shape=[3])}, b"\0" * 8, None, "inconsistent"),
    ({"x": dict(F32, shape=[-2])}, b"\0" * 8, None, "invalid shape"),
    ({"x": dict(F32, data_offsets=[8, 0])}, b"\0" * 8, None, "invalid data_offsets"),
    ({"x": {"dtype": "F32", "shape": [2]}}, b"\0" * 8, None, "exactly dtype"),
    ({"__metadata__": {"a": 1}}, b"", None, "__metadata__"),
    (b'{"x": 1, "x": 2}', b"", None, "not valid JSON"),
    (b"[1, 2]", b"", None, "not a JSON object"),
    (b"{nope", b"", None, "not valid JSON"),
    ({"x": F32}, b"\0" * 8, 10**6, "exceeds the file"),
])
def test_bad_files(tmp_path: Path, header: dict | bytes, data: bytes, length: int | None, message: str) -> None:
    path = _write(tmp_path / "bad.safetensors", header, data, length)
    with pytest.raises(CheckpointError, match=message):
        read_safetensors(path)


def test_too_short_and_bad_arguments(tmp_path: Path) -> None:
    (tmp_path / "s").write_bytes(b"\1\0")
    with pytest.raises(CheckpointError, match="too short"):
        read_safetensors(tmp_path / "s")
    with pytest.raises(InvalidTypeError, match="'w'"):
        save_safetensors(tmp_path / "o", {"w": [1.0, 2.0]})  # type: ignore[dict-item]
    with pytest.raises(InvalidTypeError, match="complex64"):
        save_safetensors(tmp_path / "o", {"w": np.zeros(2, np.complex64)})
    with pytest.raises(CheckpointError, match="flat"):
        save_safetensors(tmp_path / "ok", {"w": np.zeros(2, np.float32)})
        load_checkpoint(tmp_path / "ok", key="state_dict")
