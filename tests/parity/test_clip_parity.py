"""CLIP on MegEngine vs openai/CLIP (fixtures from tests/refs/make_clip.py), loaded torch-free.

Tolerance: relative max error (max |ours - ref| / max |ref|) <= 1e-4 on image features,
text features and both logits, for a small ViT, a small ModifiedResNet (each as a
``torch.save`` state dict and as a TorchScript archive) and a full-size ViT-B/32 (fp16
state dict, like OpenAI's releases).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from megforge.convert import load_checkpoint

pytestmark = [pytest.mark.needs_fixtures, pytest.mark.needs_megengine]
TOLERANCE = 1e-4
CASES = [("vit_small", "state_dict"), ("vit_small", "jit"), ("rn_small", "state_dict"), ("rn_small", "jit"),
         ("vit_b32", "state_dict"), ("vit_b32", "jit")]  # vit_b32: fp16, like OpenAI's released files


@pytest.fixture(scope="module")
def clip_dir(fixtures_dir: Path) -> Path:
    path = fixtures_dir / "clip"
    if not (path / "tokens.npz").is_file():
        pytest.fail(f"{path}: fixtures missing; run tests/refs/make_fixtures.py --out {fixtures_dir} clip")
    return path


def _relative(ours: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(ours - ref).max() / np.abs(ref).max())


@pytest.mark.parametrize("name, kind", CASES)
def test_outputs_match_reference(clip_dir: Path, name: str, kind: str) -> None:
    from megforge.models import clip

    ref = np.load(clip_dir / f"{name}.npz")
    state = load_checkpoint(clip_dir / f"{name}.{kind}.pt")
    config = json.loads(str(ref["config"]))
    if kind == "jit":  # OpenAI's archives restate the config as scalar entries
        assert {"input_resolution", "context_length", "vocab_size"} <= set(state)
    inferred = clip.config_from_state_dict(state)
    assert inferred == dict(config, vision_layers=tuple(config["vision_layers"])
                            if isinstance(config["vision_layers"], list) else config["vision_layers"])
    model = clip.from_state_dict(state)
    errors = {"image_features": _relative(model.encode_image(ref["image"]).numpy(), ref["image_features"]),
              "text_features": _relative(model.encode_text(ref["text"]).numpy(), ref["text_features"])}
    logits_per_image, logits_per_text = model(ref["image"], ref["text"])
    errors["logits_per_image"] = _relative(logits_per_image.numpy(), ref["logits_per_image"])
    errors["logits_per_text"] = _relative(logits_per_text.numpy(), ref["logits_per_text"])
    assert max(errors.values()) <= TOLERANCE, errors


def test_tokenizer_matches_reference(clip_dir: Path) -> None:
    pytest.importorskip("ftfy")
    from megforge.models.clip import tokenize

    data = np.load(clip_dir / "tokens.npz")
    corpus = [str(t) for t in data["corpus"]]
    ours = tokenize(corpus, truncate=True)
    mismatched = [corpus[i][:40] for i in range(len(corpus)) if not np.array_equal(ours[i], data["ids"][i])]
    assert not mismatched
    refused = []
    for text in corpus:
        try:
            tokenize(text)
        except ValueError:
            refused.append(text)
    assert refused == [str(t) for t in data["refused"]] and refused
    np.testing.assert_array_equal(tokenize(corpus[:4], context_length=8, truncate=True), data["short_ctx"])


def test_preprocess_matches_reference(clip_dir: Path) -> None:
    from megforge.models.clip import load_image, preprocess

    data = np.load(clip_dir / "preprocess.npz")
    for key in data.files:
        name, n_px = key.split("|")
        image = load_image(clip_dir / f"{name}.png")
        np.testing.assert_allclose(preprocess(image, int(n_px)), data[key], atol=1e-6, err_msg=key)
