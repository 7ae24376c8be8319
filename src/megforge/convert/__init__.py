"""Torch-free checkpoint readers and writers.

Checkpoints are untrusted input: they are never unpickled with plain ``pickle`` or
``torch.load``. Readers rebuild tensors only (as numpy arrays) through a restricted
unpickler (:mod:`megforge.convert.unpickler`), or read safetensors.

Entry points:

* :func:`load_checkpoint` - any supported file -> ``dict[str, numpy.ndarray]``
* :func:`read_torch` - a torch file -> its object tree (dicts, arrays, placeholders)
* :func:`load_safetensors` / :func:`save_safetensors`
* :func:`check_state_dict` - names missing / unexpected / wrong-shape keys

Supported: ``torch.save`` zip files (any top-level folder) and legacy files, TorchScript
archives (OpenAI's released CLIP files), Lightning ``.ckpt`` (``key="state_dict"``),
pickled whole ``nn.Module`` objects (``placeholders=("torch.nn", "<package>")``), and
safetensors. Tensors of every torch storage dtype come back as numpy arrays, except
bfloat16, which is widened exactly to float32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from megforge.convert.safetensors import load_safetensors, looks_like_safetensors, read_safetensors, save_safetensors
from megforge.convert.state_dict import IGNORED_BUFFERS, Flattener, check_state_dict, flatten_state_dict
from megforge.convert.torch_format import is_legacy, is_zip, read_torch
from megforge.convert.objects import PickledObject
from megforge.convert.unpickler import SAFE_GLOBALS
from megforge.errors import CheckpointError

__all__ = [
    "IGNORED_BUFFERS", "SAFE_GLOBALS", "Flattener", "PickledObject", "check_state_dict", "detect_format",
    "flatten_state_dict", "load_checkpoint", "load_safetensors", "read_safetensors", "read_torch",
    "save_safetensors",
]


def detect_format(path: str | Path) -> str:
    """Return ``"zip"`` (torch.save / TorchScript), ``"legacy"`` or ``"safetensors"``."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from exc
    if is_zip(head):
        return "zip"
    if is_legacy(head):
        return "legacy"
    if looks_like_safetensors(head):
        return "safetensors"
    raise CheckpointError(f"{path}: unrecognised checkpoint format (not a torch zip, legacy torch file "
                          f"or safetensors; first bytes {head[:8]!r})")


def load_checkpoint(path: str | Path, *, key: str | None = None, placeholders: Iterable[str] = (),
                    extra_globals: Mapping[tuple[str, str], object] | None = None,
                    flatteners: Mapping[str, Flattener] | None = None) -> dict[str, np.ndarray]:
    """Load any supported checkpoint file as a flat ``name -> numpy array`` state dict.

    ``key`` picks an entry of a top-level dict first (``"state_dict"`` for Lightning).
    ``placeholders`` are module-name prefixes whose pickled classes become inert
    placeholders (needed for pickled ``nn.Module`` files: e.g. ``("torch.nn", "dall_e")``);
    ``extra_globals`` adds ``(module, name) -> safe object`` shims to the allow-list;
    ``flatteners`` handles module classes that keep tensors in unusual places.
    """
    kind = detect_format(path)
    if kind == "safetensors":
        arrays = load_safetensors(path)
        return flatten_state_dict(arrays, key=None) if key is None else _no_key(path, key)
    obj = read_torch(path, placeholders=placeholders, extra_globals=extra_globals,
                     entries=None if key is None else (key,))
    return flatten_state_dict(obj, key=key, flatteners=flatteners)


def _no_key(path: str | Path, key: str) -> dict[str, np.ndarray]:
    raise CheckpointError(f"{path}: safetensors files are flat; key={key!r} does not apply")
