"""The objects a checkpoint unpickles into: storage/tensor references and placeholders.

:class:`TensorRef` records a tensor (storage, offset, shape, strides in elements) until
its storage bytes are known; :mod:`megforge.convert.tensors` turns it into an array.
:class:`PickledObject` subclasses stand in, inertly, for classes we never import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from megforge.errors import CheckpointError

STORAGE_DTYPES: dict[str, str] = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
    "BFloat16Storage": "bfloat16", "LongStorage": "<i8", "IntStorage": "<i4",
    "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
    "ComplexFloatStorage": "<c8", "ComplexDoubleStorage": "<c16", "UntypedStorage": "u1",
}
# torch dtype attribute name -> numpy dtype (for _rebuild_tensor_v3 and dtype attributes)
TORCH_DTYPES: dict[str, str] = {
    "float32": "<f4", "float": "<f4", "float64": "<f8", "double": "<f8", "float16": "<f2",
    "half": "<f2", "bfloat16": "bfloat16", "int64": "<i8", "long": "<i8", "int32": "<i4",
    "int": "<i4", "int16": "<i2", "short": "<i2", "int8": "i1", "uint8": "u1", "bool": "?",
    "complex64": "<c8", "cfloat": "<c8", "complex128": "<c16", "cdouble": "<c16",
}


def itemsize(dtype: str) -> int:
    """Bytes per element of a storage dtype name from the tables above."""
    return 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize


class _Inert:
    """Objects the pickle may name but never modify (BUILD on them is an error)."""

    def __setstate__(self, state: object) -> None:
        raise CheckpointError(f"malformed pickle: BUILD applied to {type(self).__name__}")


@dataclass(frozen=True)
class StorageType(_Inert):
    """A torch storage class named by the pickle (``torch.FloatStorage`` ...)."""

    name: str
    dtype: str


@dataclass(frozen=True)
class TorchDtype(_Inert):
    """A ``torch.<dtype>`` object named by the pickle; ``dtype`` is the numpy equivalent."""

    name: str
    dtype: str


@dataclass(frozen=True)
class StorageRef(_Inert):
    """A storage named by a persistent id: ``key`` in the archive, ``numel`` elements."""

    key: str
    dtype: str
    numel: int
    location: str
    offset: int = 0  # in elements, for legacy views of a root storage


@dataclass(frozen=True)
class TensorRef(_Inert):
    """A tensor waiting for its storage bytes: ``shape``/``stride`` in elements."""

    storage: StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str


class PickledObject:
    """Inert stand-in for an instance of a class the unpickler will not import.

    ``pickled_class`` is the dotted name from the pickle; ``args``/``kwargs`` what
    the pickle passed to the class; ``state`` what it passed to ``__setstate__``
    (for modules, the instance ``__dict__``); ``items``/``list_items`` what it stored
    with ``SETITEM(S)`` / ``APPEND(S)``. Subclasses are made per global by
    :func:`placeholder_class`; ``members`` may carry extra facts about the class
    (TorchScript parameter/buffer names).
    """

    pickled_class: str = "?"
    members: Mapping[str, tuple[str, ...]] | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> PickledObject:
        obj = object.__new__(cls)
        obj.__dict__.update(args=args, kwargs=kwargs, state=None, items={}, list_items=[])
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass  # everything was recorded by __new__ (REDUCE calls both, NEWOBJ only __new__)

    def __setstate__(self, state: object) -> None:
        self.__dict__["state"] = state

    def __setitem__(self, key: object, value: object) -> None:
        self.items[key] = value

    def append(self, value: object) -> None:
        self.list_items.append(value)

    def extend(self, values: Iterable[object]) -> None:
        self.list_items.extend(values)

    def __repr__(self) -> str:
        return f"<pickled {self.pickled_class}>"

    @property
    def attributes(self) -> dict[str, Any]:
        """The instance ``__dict__`` recorded by BUILD (``{}`` if none or not a dict)."""
        state = self.state
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            merged = dict(state[0] or {})
            merged.update(state[1] or {})
            return merged
        return state if isinstance(state, dict) else {}


def placeholder_class(module: str, name: str,
                      members: Mapping[str, tuple[str, ...]] | None = None) -> type[PickledObject]:
    """Make an inert :class:`PickledObject` subclass standing for ``module.name``."""
    return type(name, (PickledObject,), {"pickled_class": f"{module}.{name}", "members": members,
                                         "__module__": "megforge.convert.pickled"})
