"""Turn loaded checkpoint objects into flat state dicts, and check them against a model.

A *state dict* here is ``dict[str, numpy.ndarray]`` keyed by the reference
implementation's parameter names (``visual.conv1.weight`` ...).

Buffers that carry no information for inference are accepted and dropped:
:data:`IGNORED_BUFFERS` (``num_batches_tracked``) always; a model family adds its own
patterns through ``ignore=`` (CLIP passes ``attn_mask``: open_clip stores the causal
mask as a buffer, openai/CLIP rebuilds it from ``context_length``). Anything else that
is missing, unexpected or of the wrong shape is an error naming the keys.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from megforge.convert.objects import PickledObject
from megforge.errors import CheckpointError, InvalidTypeError

IGNORED_BUFFERS: tuple[str, ...] = ("num_batches_tracked", "*.num_batches_tracked")

# pickled_class -> function(obj) -> {name: array | PickledObject}; extension point for
# module classes whose tensors do not live in _parameters/_buffers/_modules or attributes.
Flattener = Callable[[PickledObject], Mapping[str, Any]]


def flatten_state_dict(obj: Any, *, key: str | None = None,
                       flatteners: Mapping[str, Flattener] | None = None) -> dict[str, np.ndarray]:
    """Flatten a loaded checkpoint into ``name -> array``.

    ``obj`` may be a mapping of names to arrays (``torch.save(model.state_dict())``), a
    pickled ``nn.Module`` or a TorchScript module (placeholders). ``key`` first selects
    an entry of a top-level dict (``"state_dict"`` for Lightning ``.ckpt`` files).
    """
    if key is not None:
        if not isinstance(obj, Mapping) or key not in obj:
            have = sorted(map(str, obj)) if isinstance(obj, Mapping) else type(obj).__name__
            raise CheckpointError(f"checkpoint has no entry {key!r} (top level: {have})")
        obj = obj[key]
    if isinstance(obj, PickledObject):
        try:
            return dict(_module_tensors(obj, "", flatteners or {}, frozenset()))
        except RecursionError as exc:
            raise CheckpointError("pickled modules nest too deeply") from exc
    if isinstance(obj, Mapping):
        others = [str(k) for k, v in obj.items() if not isinstance(v, np.ndarray)]
        if others:
            hint = " (a Lightning checkpoint: pass key='state_dict')" if "state_dict" in obj else ""
            raise CheckpointError(f"checkpoint is a dict with non-tensor entries {others[:8]}{hint}")
        return {str(k): v for k, v in obj.items()}
    raise CheckpointError(f"checkpoint holds a {type(obj).__name__}, not a state dict or a module")


def _module_tensors(obj: PickledObject, prefix: str, flatteners: Mapping[str, Flattener],
                    ancestors: frozenset[int]) -> Iterator[tuple[str, np.ndarray]]:
    # like torch's state_dict, a shared submodule is listed under every path that reaches it
    if id(obj) in ancestors:
        raise CheckpointError(f"module {prefix.rstrip('.') or '<root>'} contains itself")
    members = _named_members(obj, flatteners)
    for name, value in members.items():
        if isinstance(value, np.ndarray):
            yield prefix + name, value
    for name, value in members.items():
        if isinstance(value, PickledObject):
            yield from _module_tensors(value, f"{prefix}{name}.", flatteners, ancestors | {id(obj)})


def _named_members(obj: PickledObject, flatteners: Mapping[str, Flattener]) -> Mapping[str, Any]:
    """Tensors and child modules of one module, in the order torch's ``state_dict`` uses."""
    if obj.pickled_class in flatteners:
        return flatteners[obj.pickled_class](obj)
    attrs = obj.attributes
    if "_parameters" in attrs or "_modules" in attrs:  # a pickled torch.nn.Module
        skip = attrs.get("_non_persistent_buffers_set") or set()
        members: dict[str, Any] = {}
        members.update((k, v) for k, v in (attrs.get("_parameters") or {}).items() if v is not None)
        members.update((k, v) for k, v in (attrs.get("_buffers") or {}).items() if v is not None and k not in skip)
        members.update((k, v) for k, v in (attrs.get("_modules") or {}).items() if v is not None)
        return members
    declared = obj.members
    if declared is not None and ("parameters" in declared or "buffers" in declared):  # TorchScript class
        names = set(declared.get("parameters", ())) | set(declared.get("buffers", ()))
        return {k: v for k, v in attrs.items()
                if (isinstance(v, np.ndarray) and k in names) or isinstance(v, PickledObject)}
    return {k: v for k, v in attrs.items() if isinstance(v, (np.ndarray, PickledObject))}


def check_state_dict(state_dict: Mapping[str, Any], expected: Mapping[str, Sequence[int]], *,
                     ignore: Iterable[str] = (), model: str = "model") -> dict[str, np.ndarray]:
    """Check ``state_dict`` against ``expected`` (name -> shape); return the expected entries.

    Keys matching :data:`IGNORED_BUFFERS` or an ``ignore`` fnmatch pattern are dropped
    unless expected. Raises CheckpointError listing missing, unexpected and wrong-shape
    keys, InvalidTypeError for values that are not numpy arrays.
    """
    if not isinstance(state_dict, Mapping):
        raise InvalidTypeError(f"state_dict must be a mapping of names to numpy arrays, "
                               f"got {type(state_dict).__name__}")
    patterns = IGNORED_BUFFERS + tuple(ignore)
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise InvalidTypeError(f"state_dict key {name!r} is not a string")
        if not isinstance(value, np.ndarray):
            raise InvalidTypeError(f"state_dict[{name!r}] is a {type(value).__name__}, not a numpy array")
    given = {k for k in state_dict if k in expected or not any(fnmatch.fnmatchcase(k, p) for p in patterns)}
    missing = [k for k in expected if k not in given]
    unexpected = sorted(given - set(expected))
    wrong = [f"{k} (expected {tuple(expected[k])}, got {tuple(state_dict[k].shape)})"
             for k in expected if k in given and tuple(state_dict[k].shape) != tuple(expected[k])]
    problems = []
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong)):
        if keys:
            shown = ", ".join(keys[:10]) + (f", ... ({len(keys)} in all)" if len(keys) > 10 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise CheckpointError(f"state dict does not match {model}: " + "; ".join(problems))
    return {k: state_dict[k] for k in expected}
