"""CLIP on MegEngine: openai/CLIP's model, tokenizer and preprocessing, loaded torch-free.

>>> from megforge.models import clip
>>> model = clip.load("ViT-B-32.pt")          # OpenAI TorchScript file, torch.save state dict or safetensors
>>> image = clip.preprocess(clip.load_image("cat.jpg"), model.image_resolution)  # (3, R, R) float32
>>> logits_per_image, logits_per_text = model(image[None], clip.tokenize(["a cat", "a dog"]))

The model parts import MegEngine on first use; the tokenizer (:func:`tokenize`, needs
ftfy and regex) and preprocessing (:func:`preprocess`, needs Pillow) work without it.
"""

from __future__ import annotations

import importlib
from typing import Any

from megforge.models.clip.preprocess import MEAN, STD, load_image, preprocess
from megforge.models.clip.tokenizer import SimpleTokenizer, tokenize

_LAZY = {
    "CLIP": "megforge.models.clip.model",
    "config_from_state_dict": "megforge.models.clip.build",
    "expected_shapes": "megforge.models.clip.build",
    "from_state_dict": "megforge.models.clip.build",
    "load": "megforge.models.clip.build",
    "state_dict_of": "megforge.models.clip.build",
}

__all__ = ["MEAN", "STD", "SimpleTokenizer", "load_image", "preprocess", "tokenize", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
