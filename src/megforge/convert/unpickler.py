"""A restricted unpickler for PyTorch checkpoints: tensors come back as numpy arrays.

Nothing in a checkpoint is trusted. :class:`RestrictedUnpickler` resolves a global
(``GLOBAL`` / ``STACK_GLOBAL`` / ``INST`` / ``EXT*`` opcodes all go through
``find_class``) only if it is

* in :data:`SAFE_GLOBALS` - a fixed allow-list of our own shims (tensor rebuild
  functions, ``OrderedDict``, storage types, dtypes, ``torch.device`` ...), or
* in ``extra_globals`` given by the caller (more shims), or
* under one of the ``placeholders`` module prefixes given by the caller (e.g.
  ``"__torch__"`` for TorchScript, ``"torch.nn"`` for pickled modules): such a class
  becomes an inert :class:`PickledObject` subclass that only records its arguments
  and state.

Any other global raises :class:`~megforge.errors.CheckpointError` naming it, before
anything is called. Tensors are first rebuilt as :class:`TensorRef` (storage key,
offset, shape, strides in elements); :func:`materialize` turns them into arrays once
the storage bytes are known (legacy files store the data after the pickle).
"""

from __future__ import annotations

import collections
import io
import pickle
from typing import Any, Callable, Iterable, Mapping

from megforge.convert.objects import (
    STORAGE_DTYPES, TORCH_DTYPES, PickledObject, StorageRef, StorageType, TensorRef, TorchDtype, itemsize,
    placeholder_class,
)
from megforge.errors import CheckpointError

# ---- shims: the only callables a checkpoint can reach ---------------------------------

def _rebuild_tensor(storage: StorageRef, offset: int, size: tuple, stride: tuple,
                    *_ignored: object) -> TensorRef:
    if not isinstance(storage, StorageRef):
        raise CheckpointError(f"malformed tensor: storage is {type(storage).__name__}, not a storage")
    return _tensor_ref(storage, offset, size, stride, storage.dtype)


def _rebuild_tensor_v3(storage: StorageRef, offset: int, size: tuple, stride: tuple,
                       requires_grad: object, hooks: object, dtype: TorchDtype,
                       *_ignored: object) -> TensorRef:
    if not isinstance(storage, StorageRef) or not isinstance(dtype, TorchDtype):
        raise CheckpointError("malformed tensor: _rebuild_tensor_v3 needs a storage and a dtype")
    return _tensor_ref(storage, offset, size, stride, dtype.dtype)


def _tensor_ref(storage: StorageRef, offset: object, size: object, stride: object, dtype: str) -> TensorRef:
    ints = (offset, *tuple(size), *tuple(stride)) if isinstance(size, tuple) and isinstance(stride, tuple) else None
    if ints is None or not all(type(v) is int for v in ints) or len(size) != len(stride):
        raise CheckpointError(f"malformed tensor: offset={offset!r} size={size!r} stride={stride!r}")
    return TensorRef(storage, offset, size, stride, dtype)


def _rebuild_parameter(data: object, *_ignored: object) -> object:
    return data


def _rebuild_from_type(func: Callable[..., object], new_type: object, args: tuple, state: object) -> object:
    if func not in (_rebuild_tensor, _rebuild_tensor_v3, _rebuild_parameter) or not isinstance(args, tuple):
        raise CheckpointError(f"malformed tensor subclass: rebuild function {func!r}")
    return func(*args)


def _not_callable(*_args: object) -> object:
    raise CheckpointError("malformed pickle: a type marker was called")


def _codecs_encode(text: object, encoding: object = "utf-8") -> bytes:
    # protocol-2 pickles store bytes as _codecs.encode(str, "latin1")
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise CheckpointError(f"_codecs.encode is allowed only for latin1 text, got {encoding!r}")
    return text.encode("latin1")


def _device(*args: object) -> str:
    return ":".join(str(a) for a in args)


def _identity(value: object, *_ignored: object) -> object:
    return value


def _safe_set(items: Iterable[object] = ()) -> set:
    return set(items)


def _safe_frozenset(items: Iterable[object] = ()) -> frozenset:
    return frozenset(items)


SAFE_GLOBALS: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
    ("torch", "Tensor"): _not_callable,
    ("torch.nn.parameter", "Parameter"): _not_callable,
    ("torch", "device"): _device,
    ("torch", "Size"): tuple,
    ("torch.jit._pickle", "build_intlist"): _identity,
    ("torch.jit._pickle", "build_doublelist"): _identity,
    ("torch.jit._pickle", "build_boollist"): _identity,
    ("torch.jit._pickle", "build_tensorlist"): _identity,
    ("torch.jit._pickle", "restore_type_tag"): _identity,
    ("builtins", "set"): _safe_set, ("__builtin__", "set"): _safe_set,
    ("builtins", "frozenset"): _safe_frozenset, ("__builtin__", "frozenset"): _safe_frozenset,
    ("_codecs", "encode"): _codecs_encode,
}
SAFE_GLOBALS.update({("torch", n): StorageType(n, d) for n, d in STORAGE_DTYPES.items()})
SAFE_GLOBALS.update({("torch", n): TorchDtype(n, d) for n, d in TORCH_DTYPES.items()})


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickle a torch checkpoint pickle without importing anything.

    ``placeholders``: module-name prefixes whose classes become inert
    :class:`PickledObject` subclasses (``members(qualname)`` may attach facts to them).
    ``extra_globals``: further ``(module, name) -> object`` shims allowed by the caller.
    """

    def __init__(self, file: io.BufferedIOBase, *, placeholders: Iterable[str] = (),
                 extra_globals: Mapping[tuple[str, str], object] | None = None,
                 members: Callable[[str], Mapping[str, tuple[str, ...]] | None] | None = None) -> None:
        super().__init__(file, encoding="utf-8")
        self._placeholders = tuple(placeholders)
        self._extra = dict(extra_globals or {})
        self._members = members
        self._classes: dict[tuple[str, str], type[PickledObject]] = {}
        self.storages: dict[str, StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key in self._extra:
            return self._extra[key]
        if key in SAFE_GLOBALS:
            return SAFE_GLOBALS[key]
        if any(module == p or module.startswith(p + ".") for p in self._placeholders):
            if key not in self._classes:
                qualname = f"{module}.{name}"
                facts = self._members(qualname) if self._members else None
                self._classes[key] = placeholder_class(module, name, facts)
            return self._classes[key]
        raise CheckpointError(f"checkpoint refers to the global {module}.{name}, which is not on the "
                              f"allow-list of megforge.convert; refusing to load it")

    def persistent_load(self, pid: Any) -> Any:
        # legacy torch.save names each nn.Module class once as ("module", cls, source_file, source)
        if isinstance(pid, tuple) and len(pid) == 4 and pid[0] in ("module", b"module"):
            return _module_class(pid[1])
        # ("storage", storage_type, key, location, numel[, view_metadata])
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] in ("storage", b"storage")):
            raise CheckpointError(f"unsupported persistent id {str(pid)[:80]!r} (only storages are)")
        storage_type, key, location, numel = pid[1:5]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, StorageType):
            raise CheckpointError(f"persistent id names {storage_type!r}, not a torch storage type")
        key, location = _text(key), _text(location)
        if type(numel) is not int or numel < 0:
            raise CheckpointError(f"storage {key!r}: bad element count {numel!r}")
        ref = StorageRef(key, storage_type.dtype, numel, location)
        root = self.storages.setdefault(key, ref)
        if root.numel * itemsize(root.dtype) != numel * itemsize(ref.dtype):
            raise CheckpointError(f"storage {key!r} is declared twice with different sizes")
        if view is None:
            return ref
        if not (isinstance(view, tuple) and len(view) == 3 and type(view[1]) is int and type(view[2]) is int):
            raise CheckpointError(f"storage {key!r}: malformed view {view!r}")
        if view[1] < 0 or view[2] < 0 or view[1] + view[2] > numel:
            raise CheckpointError(f"storage {key!r}: view {view!r} lies outside {numel} elements")
        return StorageRef(key, root.dtype, view[2], location, view[1])


def _module_class(cls: object) -> type[PickledObject]:
    """The class of a legacy ``("module", ...)`` id: only a placeholder (the class was already
    resolved by ``find_class``, so it is under an allowed placeholder prefix)."""
    if not (isinstance(cls, type) and issubclass(cls, PickledObject)):
        raise CheckpointError(f"persistent id names the module class {cls!r}, which is not a placeholder")
    return cls


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    if not isinstance(value, str):
        raise CheckpointError(f"expected a string in a storage id, got {type(value).__name__}")
    return value


def unpickle(data: bytes | io.BufferedIOBase, **options: Any) -> tuple[Any, dict[str, StorageRef]]:
    """Unpickle one pickle; return ``(object, storages named by it)``.

    Any failure (unknown global, truncated or malformed stream) is a CheckpointError.
    """
    file = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    unpickler = RestrictedUnpickler(file, **options)
    try:
        obj = unpickler.load()
    except CheckpointError:
        raise
    except RecursionError as exc:
        raise CheckpointError("pickle nests too deeply") from exc
    except Exception as exc:  # noqa: BLE001 - any malformed stream ends here
        raise CheckpointError(f"corrupt or truncated pickle: {type(exc).__name__}: {exc}") from exc
    return obj, unpickler.storages
