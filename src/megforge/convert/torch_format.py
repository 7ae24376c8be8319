"""Read PyTorch checkpoint files without torch: zip (``torch.save``), TorchScript, legacy.

Layouts (facts of the formats, see ``torch/serialization.py``):

* zip, ``torch.save`` since 1.6: ``<top>/data.pkl`` (protocol-2 pickle whose tensors
  name storages by persistent id ``("storage", torch.<T>Storage, key, location, numel)``),
  ``<top>/data/<key>`` (raw storage bytes), ``<top>/byteorder`` (``little``/``big``,
  little if absent). ``<top>`` is any folder name.
* TorchScript (``torch.jit.save``, OpenAI's released CLIP files): the same zip plus
  ``<top>/constants.pkl`` and ``<top>/code/``; ``data.pkl`` pickles the module tree as
  ``__torch__.<qualname>`` objects, which we rebuild as inert placeholders. The class
  code declares ``__parameters__``/``__buffers__``; we read those lists (with
  ``ast.literal_eval``, never executing code) so flattening yields ``state_dict()``'s keys.
* legacy (``_use_new_zipfile_serialization=False``): consecutive pickles - magic
  number, protocol version 1001, sys info, the object, the sorted storage keys - then per
  key an int64 LE element count and the raw little-endian bytes.
"""

from __future__ import annotations

import ast
import io
import re
import struct
import zipfile
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from megforge.convert.objects import StorageRef, itemsize
from megforge.convert.tensors import materialize, tensor_from_bytes
from megforge.convert.unpickler import unpickle
from megforge.errors import CheckpointError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_CLASS_LINE = re.compile(r"^class (\w+)\(Module\):")
_MEMBER_LINE = re.compile(r"^\s+(__parameters__|__buffers__) = (\[.*\])\s*$")


def is_zip(head: bytes) -> bool:
    return head[:4] in ZIP_MAGIC


def is_legacy(head: bytes) -> bool:
    """True if ``head`` starts with the pickled legacy magic number (``\\x80\\x02\\x8a\\x0a`` + 10 bytes)."""
    return head[:4] == b"\x80\x02\x8a\x0a" and int.from_bytes(head[4:14], "little") == LEGACY_MAGIC


def read_torch(path: str | Path, *, placeholders: Iterable[str] = (),
               extra_globals: Mapping[tuple[str, str], object] | None = None,
               entries: Iterable[str] | None = None) -> Any:
    """Load a ``torch.save`` / ``torch.jit.save`` file as plain Python + numpy objects.

    ``entries``: when the file holds a top-level dict with at least one of these keys, only
    those entries are kept and only their tensors are read (a Lightning ``.ckpt``'s
    optimizer states are then never read); other files are returned whole.

    Returns the pickled object with every tensor replaced by a C-contiguous numpy array
    (bfloat16 widened to float32). Module classes under ``placeholders`` prefixes (and
    ``__torch__`` in TorchScript archives) become :class:`PickledObject` placeholders.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(16)
    keep = None if entries is None else frozenset(entries)
    reader = _read_zip if is_zip(head) else _read_legacy if is_legacy(head) else None
    if reader is not None:
        try:
            return reader(path, tuple(placeholders), extra_globals, keep)
        except CheckpointError as exc:  # the unpickler's messages do not know the file
            if str(path) in str(exc):
                raise
            raise CheckpointError(f"{path}: {exc}") from exc
    raise CheckpointError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor a legacy torch.save file)")


# ---- zip and TorchScript --------------------------------------------------------------

def _select(obj: Any, keep: frozenset[str] | None) -> Any:
    if keep and isinstance(obj, dict) and keep.intersection(obj):
        return {k: v for k, v in obj.items() if k in keep}
    return obj


def _read_zip(path: Path, placeholders: tuple[str, ...], extra: Mapping | None,
              keep: frozenset[str] | None = None) -> Any:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated zip archive ({exc})") from exc
    with archive:
        names = set(archive.namelist())
        tops = sorted({n.split("/", 1)[0] for n in names if n.count("/") == 1 and n.endswith("/data.pkl")})
        if len(tops) != 1:
            raise CheckpointError(f"{path}: expected exactly one <folder>/data.pkl in the zip, found {tops or 'none'}")
        top = tops[0]
        script = f"{top}/constants.pkl" in names or any(n.startswith(f"{top}/code/") for n in names)
        members = _script_members(archive, top) if script else {}
        if script:
            placeholders = placeholders + ("__torch__",)
        byteorder = _member(archive, path, f"{top}/byteorder").decode("ascii", "replace") \
            if f"{top}/byteorder" in names else "little"
        if byteorder not in ("little", "big"):
            raise CheckpointError(f"{path}: unknown byteorder record {byteorder!r}")
        obj, storages = unpickle(_member(archive, path, f"{top}/data.pkl"), placeholders=placeholders,
                                 extra_globals=extra, members=members.get)
        obj = _select(obj, keep)
        data: dict[str, bytes] = {}

        def build(ref: Any) -> np.ndarray:   # reads each storage the kept objects use, once
            key = ref.storage.key
            if key not in data:
                name = f"{top}/data/{key}"
                if name not in names:
                    raise CheckpointError(f"{path}: storage {key!r} is missing from the archive ({name})")
                data[key] = _member(archive, path, name)
                _check_size(path, storages[key], len(data[key]))
            return tensor_from_bytes(ref, data[key], byteorder)

        return materialize(obj, build)


def _member(archive: zipfile.ZipFile, path: Path, name: str) -> bytes:
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise CheckpointError(f"{path}: cannot read {name} from the zip (truncated or corrupt: {exc})") from exc


def _check_size(path: Path, ref: StorageRef, nbytes: int) -> None:
    need = ref.numel * itemsize(ref.dtype)
    if nbytes < need:
        raise CheckpointError(f"{path}: storage {ref.key!r} has {nbytes} bytes, its header says {need}")


def _script_members(archive: zipfile.ZipFile, top: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """Map TorchScript class qualnames to their declared ``__parameters__``/``__buffers__``."""
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    prefix = f"{top}/code/"
    for name in archive.namelist():
        if not (name.startswith(prefix) and name.endswith(".py")):
            continue
        module = name[len(prefix):-3].replace("/", ".")
        current: dict[str, tuple[str, ...]] | None = None
        text = _member(archive, Path(archive.filename or "?"), name).decode("utf-8", "replace")
        for line in text.splitlines():
            match = _CLASS_LINE.match(line)
            if match:
                current = found.setdefault(f"{module}.{match.group(1)}", {})
                continue
            match = _MEMBER_LINE.match(line)
            if match and current is not None:
                try:
                    value = ast.literal_eval(match.group(2))
                except (ValueError, SyntaxError):
                    continue
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    current[match.group(1).strip("_")] = tuple(value)
    return found


# ---- legacy -----------------------------------------------------------------------------

def _read_legacy(path: Path, placeholders: tuple[str, ...], extra: Mapping | None,
                 keep: frozenset[str] | None = None) -> Any:
    raw = path.read_bytes()
    stream = io.BytesIO(raw)
    magic, _ = unpickle(stream)
    protocol, _ = unpickle(stream)
    if magic != LEGACY_MAGIC or protocol != LEGACY_PROTOCOL:
        raise CheckpointError(f"{path}: legacy torch file with magic {magic!r} / protocol {protocol!r}")
    unpickle(stream)  # sys info: endianness and C type sizes; storage data is always little-endian
    obj, storages = unpickle(stream, placeholders=placeholders, extra_globals=extra)
    keys, _ = unpickle(stream)
    if not isinstance(keys, list) or set(map(str, keys)) != set(storages):
        raise CheckpointError(f"{path}: storage key list does not match the storages the pickle uses")
    data: dict[str, memoryview] = {}
    view = memoryview(raw)
    pos = stream.tell()
    for key in map(str, keys):
        ref = storages[key]
        if pos + 8 > len(raw):
            raise CheckpointError(f"{path}: truncated before storage {key!r}")
        (numel,) = struct.unpack_from("<q", raw, pos)
        nbytes = numel * itemsize(ref.dtype)
        if numel != ref.numel or pos + 8 + nbytes > len(raw):
            raise CheckpointError(f"{path}: storage {key!r} record is truncated or has a wrong size "
                                  f"({numel} elements, expected {ref.numel})")
        data[key] = view[pos + 8:pos + 8 + nbytes]
        pos += 8 + nbytes

    def build(ref: Any) -> np.ndarray:
        root = storages[ref.storage.key]
        return tensor_from_bytes(ref, data[root.key], "little")

    return materialize(_select(obj, keep), build)
