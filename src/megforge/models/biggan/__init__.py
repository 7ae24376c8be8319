"""BigGAN-deep (pytorch-pretrained-biggan 0.1.1 layout) on MegEngine.

``from_state_dict(state_dict, config=None)`` takes the reference's key names mapped to
numpy arrays (as read torch-free by :mod:`megforge.convert` from its ``pytorch_model.bin``)
and returns an eval-mode :class:`BigGAN`; ``load_pretrained(directory)`` reads
``pytorch_model.bin`` + ``config.json`` from a directory, like the reference's
``BigGAN.from_pretrained(path)``.

Spectrally normalised layers accept either the three tensors torch stores
(``<layer>.weight_orig``, ``<layer>.weight_u``, ``<layer>.weight_v``) or a plain,
already normalised ``<layer>.weight`` (state dicts saved after ``remove_spectral_norm``,
or legacy ones that also keep ``weight_orig``/``weight_u`` without ``weight_v``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from megforge.errors import CheckpointError
from megforge.models.biggan.config import BigGANConfig, resolve_config
from megforge.models.biggan.model import BigGAN, _SpectralNorm
from megforge.models.biggan.random_weights import random_state_dict

__all__ = ["BigGAN", "BigGANConfig", "from_state_dict", "load_pretrained", "random_state_dict"]

WEIGHTS_NAME = "pytorch_model.bin"
CONFIG_NAME = "config.json"


def _take(state_dict: dict[str, np.ndarray], key: str, shape: tuple[int, ...]) -> np.ndarray:
    if key not in state_dict:
        raise CheckpointError(f"BigGAN state dict is missing key {key!r}")
    value = np.asarray(state_dict.pop(key))
    if value.shape != shape:
        raise CheckpointError(f"BigGAN state dict key {key!r} has shape {value.shape}, expected {shape}")
    if not np.issubdtype(value.dtype, np.floating):
        raise CheckpointError(f"BigGAN state dict key {key!r} has dtype {value.dtype}, expected floating point")
    return value.astype(np.float32)


def _load_spectral_norm(layer: _SpectralNorm, prefix: str, state_dict: dict[str, np.ndarray],
                        loaded: dict[str, np.ndarray]) -> None:
    shapes = {name: tuple(getattr(layer, name).shape) for name in ("weight_orig", "weight_u", "weight_v")}
    if prefix + "weight_v" in state_dict or prefix + "weight" not in state_dict:
        for name, shape in shapes.items():
            loaded[prefix + name] = _take(state_dict, prefix + name, shape)
        layer.normalised = True
    else:  # already normalised weight; legacy files may keep weight_orig / weight_u beside it
        loaded[prefix + "weight_orig"] = _take(state_dict, prefix + "weight", shapes["weight_orig"])
        loaded[prefix + "weight_u"] = np.zeros(shapes["weight_u"], np.float32)
        loaded[prefix + "weight_v"] = np.zeros(shapes["weight_v"], np.float32)
        for stale in ("weight_orig", "weight_u"):
            state_dict.pop(prefix + stale, None)
        layer.normalised = False


def from_state_dict(state_dict: Mapping[str, Any], config: Mapping[str, Any] | None = None) -> BigGAN:
    """Build an eval-mode BigGAN from the reference's state dict.

    config: the reference's BigGANConfig fields (config.json). Needed only for ``layers``
    (which blocks up-sample) when the block widths match no released model, and for
    ``eps`` when it is not the reference default 1e-4. Unknown or missing keys and shape
    mismatches raise CheckpointError naming the key.
    """
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(f"state_dict must be a mapping of key -> array, got {type(state_dict).__name__}")
    remaining = {str(k): v for k, v in state_dict.items()}
    model = BigGAN(resolve_config(remaining, config))
    loaded: dict[str, np.ndarray] = {}
    for name, module in model.named_modules():
        if isinstance(module, _SpectralNorm):
            _load_spectral_norm(module, name + ".", remaining, loaded)
    for key, tensor in model.state_dict().items():
        if key not in loaded:
            loaded[key] = _take(remaining, key, tuple(tensor.shape))
    if remaining:
        raise CheckpointError(f"BigGAN state dict has unexpected key(s): {sorted(remaining)[:8]}")
    model.load_state_dict(loaded, strict=True)
    model.eval()
    return model


def load_pretrained(directory: str | Path) -> BigGAN:
    """Load ``directory/pytorch_model.bin`` (+ ``config.json`` if present), torch-free."""
    from megforge.convert import load_checkpoint

    directory = Path(directory)
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"no {WEIGHTS_NAME} in {directory}")
    config = None
    if (directory / CONFIG_NAME).is_file():
        try:
            config = json.loads((directory / CONFIG_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{directory / CONFIG_NAME}: not valid JSON ({exc})") from None
        if not isinstance(config, dict):
            raise CheckpointError(f"{directory / CONFIG_NAME}: expected a JSON object")
    return from_state_dict(load_checkpoint(weights), config)
