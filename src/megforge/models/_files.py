"""File helpers shared by the VQGAN and DALL-E families: checkpoints, configs, images.

Checkpoints go through :mod:`megforge.convert` only (restricted unpickler / safetensors).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from megforge.errors import CheckpointError, InvalidArgumentError


# tensor-free entries of training checkpoints worth keeping next to the weights (dalle-pytorch)
KEPT_METADATA = ("hparams", "vae_params")


def read_checkpoint(path: str | Path, *, entry: str | None = None,
                    placeholders: Iterable[str] = ()) -> tuple[dict[str, np.ndarray], Any]:
    """Read a checkpoint file torch-free; return ``(state_dict, top-level object)``.

    ``entry`` names the dict entry holding the state dict when the file has one
    (``"state_dict"`` in Lightning ``.ckpt``, ``"weights"`` in dalle-pytorch training files);
    a file that is itself a state dict is accepted too. ``placeholders``: module prefixes of
    pickled whole modules (``("torch.nn", "dall_e")`` for OpenAI's dVAE files).
    """
    from megforge.convert import detect_format, flatten_state_dict, load_safetensors, read_torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist or is not a file")
    if detect_format(path) == "safetensors":
        arrays = load_safetensors(path)
        return dict(arrays), arrays
    keep = None if entry is None else (entry, *KEPT_METADATA)   # e.g. optimizer states are never read
    obj = read_torch(path, placeholders=placeholders, entries=keep)
    key = entry if isinstance(obj, Mapping) and entry is not None and entry in obj else None
    return flatten_state_dict(obj, key=key), obj


def read_config(path: str | Path | None) -> dict[str, Any] | None:
    """A JSON or YAML config file as a dict (``None`` passes through)."""
    if path is None:
        return None
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgumentError(f"cannot read config {path}: {exc}") from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:
            raise InvalidArgumentError(f"{path}: reading YAML needs PyYAML (pip install pyyaml), "
                                       f"or give the config as JSON") from exc
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidArgumentError(f"{path}: invalid YAML: {exc}") from exc
    else:
        try:
            config = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArgumentError(f"{path}: invalid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise InvalidArgumentError(f"{path}: config must be a mapping, got {type(config).__name__}")
    return config


def read_image(path: str | Path, size: int | None = None) -> np.ndarray:
    """An image file as uint8 RGB ``(H, W, 3)``; with ``size``, shorter side resized to ``size``
    (bicubic) and centre-cropped to ``size x size``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if size is not None:
                if size <= 0:
                    raise InvalidArgumentError(f"size must be positive, got {size}")
                scale = size / min(im.size)
                w, h = max(size, round(im.size[0] * scale)), max(size, round(im.size[1] * scale))
                im = im.resize((w, h), Image.BICUBIC)
                left, top = (w - size) // 2, (h - size) // 2
                im = im.crop((left, top, left + size, top + size))
            return np.asarray(im, dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, InvalidArgumentError):
            raise
        raise InvalidArgumentError(f"cannot read image {path}: {exc}") from exc


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write float ``(3, H, W)`` in [0, 1] as an 8-bit RGB PNG."""
    from PIL import Image

    pixels = np.clip(np.rint(np.asarray(image).transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)
    try:
        Image.fromarray(pixels, "RGB").save(path, format="PNG")
    except OSError as exc:
        raise InvalidArgumentError(f"cannot write {path}: {exc}") from exc
