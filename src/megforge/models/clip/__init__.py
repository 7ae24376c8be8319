"""CLIP on MegEngine: openai/CLIP's model, tokenizer and preprocessing, loaded torch-free.

>>> from megforge.models import clip
>>> model = clip.load("ViT-B-32.pt")                # OpenAI TorchScript file, state dict or safetensors
>>> image = clip.preprocess(Image.open("cat.jpg"), model.image_resolution)  # (3, R, R) float32
>>> logits_per_image, _ = model(image[None], clip.tokenize(["a cat", "a dog"]))

Importing this package imports MegEngine; the tokenizer and preprocessing alone do not
need it (:mod:`megforge.models.clip.tokenizer`, :mod:`megforge.models.clip.preprocess`).
"""

from __future__ import annotations

from megforge.models.clip.build import config_from_state_dict, expected_shapes, from_state_dict, load, state_dict_of
from megforge.models.clip.model import CLIP
from megforge.models.clip.preprocess import preprocess
from megforge.models.clip.tokenizer import SimpleTokenizer, tokenize

__all__ = ["CLIP", "SimpleTokenizer", "config_from_state_dict", "expected_shapes", "from_state_dict", "load",
           "preprocess", "state_dict_of", "tokenize"]
