"""Malicious and corrupt checkpoints: a clear CheckpointError, and nothing executed."""

from __future__ import annotations

import os
import pickle
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from torch_writer import Global, NewObj, Raw, Reduce, Storages, Tensor, dumps, tensor, write_legacy, write_zip

from megforge.convert import load_checkpoint, read_torch
from megforge.convert.unpickler import SAFE_GLOBALS, StorageType, unpickle
from megforge.errors import CheckpointError


class _Evil:
    """Pickles as a call of ``func(*args)``: what a malicious checkpoint does."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args


def _payloads(marker: Path) -> list[tuple[bytes, str]]:
    """(pickle, global it names) pairs that would create ``marker`` if executed."""
    cmd = f"touch {marker}"
    out = []
    for protocol in range(6):
        out.append((pickle.dumps(_Evil(os.system, cmd), protocol=protocol), os.system.__module__ + ".system"))
    out.append((pickle.dumps(_Evil(subprocess.call, ["touch", str(marker)]), protocol=3), "subprocess.call"))
    out.append((pickle.dumps(_Evil(eval, f"__import__('os').system({cmd!r})"), protocol=4), "builtins.eval"))
    out.append((f"(ios\nsystem\nS'{cmd}'\no.".encode(), "os.system"))  # INST opcode, protocol 0
    out.append((dumps(Reduce(Reduce(Global("builtins", "getattr"), (Global("os", "posix"), "system")), (cmd,))),
                "builtins.getattr"))
    return out


@pytest.mark.parametrize("index", range(10))
def test_malicious_pickles_are_refused_before_running(tmp_path: Path, index: int) -> None:
    marker = tmp_path / "pwned"
    data, name = _payloads(marker)[index]
    with pytest.raises(CheckpointError, match=rf"global {name.replace('.', '[.]')}\b"):
        unpickle(data)
    with pytest.raises(CheckpointError, match="not on the allow-list"):
        load_checkpoint(write_zip(tmp_path / "evil.pt", data, Storages()))
    assert not marker.exists()


def test_malicious_global_inside_a_state_dict_zip_and_legacy(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    storages = Storages()
    obj = {"w": tensor(storages, "0", np.ones(3, np.float32)),
           "x": Reduce(Global("posix", "system"), (f"touch {marker}",))}
    for path in (write_zip(tmp_path / "a.pt", obj, storages), write_legacy(tmp_path / "b.pt", obj, storages)):
        with pytest.raises(CheckpointError, match="posix.system"):
            load_checkpoint(path)
    assert not marker.exists()


def test_placeholders_are_inert(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    # A TorchScript-style archive may name any __torch__ class: it becomes a recording stand-in.
    call = Reduce(Global("__torch__.os", "system"), (f"touch {marker}",))
    obj = NewObj(Global("__torch__.os", "system"), {"x": call})
    path = write_zip(tmp_path / "ts.pt", obj, Storages(), extra={"constants.pkl": dumps(())})
    tree = read_torch(path)
    assert tree.pickled_class == "__torch__.os.system"
    assert tree.attributes["x"].args == (f"touch {marker}",)
    assert load_checkpoint(path) == {}
    assert not marker.exists()


def test_allow_listed_markers_cannot_be_modified(tmp_path: Path) -> None:
    # BUILD on the shared torch.FloatStorage marker would change it for later loads.
    data = dumps(Raw(b"ctorch\nFloatStorage\n" + dumps({"dtype": "<f8"})[2:-1] + b"b"))
    with pytest.raises(CheckpointError, match="BUILD"):
        unpickle(data)
    assert SAFE_GLOBALS[("torch", "FloatStorage")] == StorageType("FloatStorage", "<f4")


@pytest.mark.parametrize("payload, message", [
    (Reduce(Global("_codecs", "encode"), ("x", "rot13")), "latin1"),
    (Reduce(Global("torch", "Tensor"), ()), "type marker"),
    (Raw(b"(X\x06\x00\x00\x00moduleNNNtQ"), "persistent id"),
    (Reduce(Global("torch._utils", "_rebuild_tensor_v2"), (1, 0, (2,), (1,))), "not a storage"),
    (Raw(b"}("), "truncated pickle"),
])
def test_malformed_pickles(payload: object, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        unpickle(dumps(payload)[: -1] if message == "truncated pickle" else dumps(payload))


def _good_zip(tmp_path: Path) -> Path:
    storages = Storages()
    obj = {"w": tensor(storages, "0", np.arange(1000, dtype=np.float32))}
    return write_zip(tmp_path / "good.pt", obj, storages)


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.9, 0.99])
def test_truncated_zip(tmp_path: Path, cut: float) -> None:
    data = _good_zip(tmp_path).read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(CheckpointError, match="zip"):
        load_checkpoint(path)


def test_corrupt_storage_bytes_fail_crc(tmp_path: Path) -> None:
    data = bytearray(_good_zip(tmp_path).read_bytes())
    index = data.index(np.arange(1000, dtype=np.float32)[500:502].tobytes())
    data[index] ^= 0xFF
    path = tmp_path / "flipped.pt"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="archive/data/0"):
        load_checkpoint(path)


def test_missing_short_and_out_of_bounds_storages(tmp_path: Path) -> None:
    storages = Storages()
    ok = tensor(storages, "0", np.zeros(4, np.float32))
    for name, obj, data, message in [
        ("missing", {"w": Tensor("9", "FloatStorage", 4, 0, (4,), (1,))}, {}, "storage '9' is missing"),
        ("short", {"w": ok}, {"0": b"\0" * 8}, "has 8 bytes"),
        ("bounds", {"w": Tensor("0", "FloatStorage", 4, 2, (3,), (1,))}, {}, "beyond storage '0'"),
        ("negative", {"w": Tensor("0", "FloatStorage", 4, 0, (2,), (-1,))}, {}, "negative"),
        ("bomb", {"w": Tensor("0", "FloatStorage", 4, 0, (2**30, 2**30), (0, 0))}, {}, "would need"),
    ]:
        s = Storages(dict(storages.data, **data), dict(storages.kinds))
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(write_zip(tmp_path / f"{name}.pt", obj, s))


def test_truncated_legacy_file(tmp_path: Path) -> None:
    storages = Storages()
    obj = {"w": tensor(storages, "0", np.arange(64, dtype=np.float32))}
    data = write_legacy(tmp_path / "l.pt", obj, storages).read_bytes()
    for cut in (len(data) - 10, len(data) - 256, 40):
        path = tmp_path / f"cut{cut}.pt"
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError):
            load_checkpoint(path)


@pytest.mark.parametrize("content", [b"", b"hello world, not a checkpoint", b"\x80\x02}q\x00.", b"PK\x03\x04junk"])
def test_unrecognised_or_broken_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(content)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_missing_file_and_zip_without_data_pkl(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "absent.pt")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(CheckpointError, match="data.pkl"):
        load_checkpoint(tmp_path / "other.zip")


def test_deep_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    depth = 200_000
    deep = b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."  # lists nested 200k deep, built iteratively
    with pytest.raises(CheckpointError, match="nest too deeply"):
        load_checkpoint(write_zip(tmp_path / "deep.pt", deep, Storages()))
