"""Torch-free writer of PyTorch checkpoint files, for unit tests of megforge.convert.

Emits protocol-2 pickle opcodes by hand, in the layout ``torch.save`` uses, so tests can
build zip / legacy / TorchScript-like files (and malformed ones) without torch.

Object model for :func:`dumps`: plain ``None/bool/int/float/str/bytes/tuple/list/dict``
plus the markers below.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

STORAGE_OF = {"<f4": "FloatStorage", "<f8": "DoubleStorage", "<f2": "HalfStorage", "<i8": "LongStorage",
              "<i4": "IntStorage", "<i2": "ShortStorage", "|i1": "CharStorage", "|u1": "ByteStorage",
              "|b1": "BoolStorage", "<c8": "ComplexFloatStorage", "<c16": "ComplexDoubleStorage"}


@dataclass
class Global:
    module: str
    name: str


@dataclass
class Reduce:
    func: Any  # usually a Global
    args: tuple


@dataclass
class NewObj:
    """``cls.__new__(cls)`` then BUILD with ``state`` (how modules are pickled)."""

    cls: Global
    state: Any


@dataclass
class Tensor:
    """A tensor on storage ``key`` of type ``storage`` (a torch storage class name)."""

    key: str
    storage: str
    numel: int
    offset: int
    shape: tuple
    stride: tuple
    view: tuple | None = None  # legacy (view_key, offset, size)
    func: str = "_rebuild_tensor_v2"


@dataclass
class Pid:
    """A bare storage reference (persistent id), e.g. an argument of ``_rebuild_tensor_v3``."""

    key: str
    storage: str
    numel: int


@dataclass
class ModuleClass:
    """A module class as legacy ``torch.save`` names it: persistent id ``("module", cls, file, source)``."""

    cls: Global
    source_file: str = "module.py"
    source: str = "class M: ..."


@dataclass
class Raw:
    """Opcodes inserted verbatim."""

    data: bytes


@dataclass
class Storages:
    """Storage bytes by key, filled by :func:`tensor`."""

    data: dict[str, bytes] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)


def tensor(storages: Storages, key: str, array: np.ndarray, storage: str | None = None) -> Tensor:
    """Register ``array`` (C-contiguous copy) as storage ``key``; return its Tensor marker."""
    array = np.ascontiguousarray(array)
    kind = storage or STORAGE_OF[array.dtype.str]
    storages.data[key] = array.tobytes()
    storages.kinds[key] = kind
    return Tensor(key, kind, array.size, 0, array.shape, tuple(s // max(array.itemsize, 1) for s in array.strides))


def dumps(obj: Any) -> bytes:
    out = io.BytesIO()
    out.write(b"\x80\x02")
    _dump(obj, out)
    out.write(b".")
    return out.getvalue()


def _dump(obj: Any, out: io.BytesIO) -> None:
    w = out.write
    if obj is None:
        w(b"N")
    elif obj is True or obj is False:
        w(b"\x88" if obj else b"\x89")
    elif isinstance(obj, int):
        w(b"J" + struct.pack("<i", obj) if -2**31 <= obj < 2**31 else pickle.dumps(obj, 2)[2:-1])
    elif isinstance(obj, float):
        w(b"G" + struct.pack(">d", obj))
    elif isinstance(obj, str):
        data = obj.encode("utf-8")
        w(b"X" + struct.pack("<I", len(data)) + data)
    elif isinstance(obj, bytes):
        w(b"C" + bytes([len(obj)]) + obj)
    elif isinstance(obj, tuple):
        w(b"(")
        for item in obj:
            _dump(item, out)
        w(b"t")
    elif isinstance(obj, list):
        w(b"](")
        for item in obj:
            _dump(item, out)
        w(b"e")
    elif isinstance(obj, dict):
        w(b"}(")
        for key, value in obj.items():
            _dump(key, out)
            _dump(value, out)
        w(b"u")
    elif isinstance(obj, Global):
        w(b"c" + f"{obj.module}\n{obj.name}\n".encode())
    elif isinstance(obj, Reduce):
        _dump(obj.func, out)
        _dump(tuple(obj.args), out)
        w(b"R")
    elif isinstance(obj, NewObj):
        _dump(obj.cls, out)
        w(b")\x81")
        _dump(obj.state, out)
        w(b"b")
    elif isinstance(obj, Tensor):
        pid: tuple = ("storage", Global("torch", obj.storage), obj.key, "cpu", obj.numel)
        if obj.view is not None:
            pid = pid + (obj.view,)
        _dump(Global("torch._utils", obj.func), out)
        w(b"(")
        _dump(pid, out)
        w(b"Q")
        for item in (obj.offset, tuple(obj.shape), tuple(obj.stride), False):
            _dump(item, out)
        _dump(Reduce(Global("collections", "OrderedDict"), ()), out)
        w(b"tR")
    elif isinstance(obj, Pid):
        _dump(("storage", Global("torch", obj.storage), obj.key, "cpu", obj.numel), out)
        w(b"Q")
    elif isinstance(obj, ModuleClass):
        _dump(("module", obj.cls, obj.source_file, obj.source), out)
        w(b"Q")
    elif isinstance(obj, Raw):
        w(obj.data)
    else:
        raise TypeError(f"cannot dump {type(obj).__name__}")


def write_zip(path: Path, obj: Any, storages: Storages, *, top: str = "archive",
              byteorder: str | None = "little", extra: dict[str, bytes] | None = None) -> Path:
    """Write a ``torch.save``-style zip: ``<top>/data.pkl``, ``<top>/data/<key>``, byteorder, version.

    ``obj`` given as ``bytes`` is written verbatim as ``data.pkl``.
    """
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{top}/data.pkl", obj if isinstance(obj, bytes) else dumps(obj))
        if byteorder is not None:
            z.writestr(f"{top}/byteorder", byteorder)
        for key, data in storages.data.items():
            z.writestr(f"{top}/data/{key}", data)
        z.writestr(f"{top}/version", "3\n")
        for name, data in (extra or {}).items():
            z.writestr(f"{top}/{name}", data)
    return path


ITEMSIZE = {"FloatStorage": 4, "DoubleStorage": 8, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
            "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
            "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16}


def write_legacy(path: Path, obj: Any, storages: Storages) -> Path:
    """Write a legacy (non-zip) ``torch.save`` file."""
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    with open(path, "wb") as f:
        for head in (0x1950A86A20F9469CFC6C, 1001, sys_info):
            f.write(pickle.dumps(head, protocol=2))
        f.write(dumps(obj))
        keys = sorted(storages.data)
        f.write(pickle.dumps(keys, protocol=2))
        for key in keys:
            data = storages.data[key]
            f.write(struct.pack("<q", len(data) // ITEMSIZE[storages.kinds[key]]) + data)
    return path
