"""The BigSleep loop (big-sleep's ``Imagine``): prompts -> steps with a progress bar -> PNG snapshots.

Prompts follow big-sleep: ``"a|b"`` optimises towards both phrases, ``text_min`` phrases
(also ``|``-separated) are pushed away. Snapshots are rendered from the EMA latents every
``save_every`` steps and after the last one: ``<name>.step<NNNNN>.png`` plus ``<name>.png``
(the latest).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator

import megengine as mge
import numpy as np

from megforge.errors import InvalidArgumentError
from megforge.models.bigsleep import BigSleep

TextEncoder = Callable[[str], np.ndarray]  # phrase -> CLIP text embedding (1, D)

# Geometry of the random CLIP used without checkpoints: ViT-B/32's input (224, patch 32), narrow.
RANDOM_CLIP = dict(embed_dim=64, image_resolution=224, vision_layers=2, vision_width=64, vision_patch_size=32,
                   context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1,
                   transformer_layers=2)


class ClipPerceptor:
    """megforge CLIP as BigSleep's perceptor: differentiable ``encode_image`` + phrase encoder."""

    def __init__(self, model) -> None:
        self.model = model
        self.input_resolution = int(model.image_resolution)

    def encode_image(self, image: mge.Tensor) -> mge.Tensor:
        """image: float32 (N, 3, R, R) CLIP-normalised, kept in the autodiff graph -> (N, embed_dim).

        CLIP.encode_image keeps tensor inputs in the graph (moving them to the model's device);
        the features come back on the image's device, where BigSleep computes its losses.
        """
        features = self.model.encode_image(image)
        return features if features.device == image.device else features.to(image.device)

    def encode_text(self, phrase: str) -> np.ndarray:
        """phrase -> float32 (1, embed_dim)."""
        from megforge.models.clip import tokenize

        return self.model.encode_text(tokenize([phrase], self.model.context_length)).numpy()


def load_perceptor(path: str | Path) -> ClipPerceptor:
    """A CLIP checkpoint (OpenAI TorchScript file, state dict or safetensors), read torch-free."""
    from megforge.models import clip

    return ClipPerceptor(clip.load(path))


def random_perceptor(seed: int = 0) -> ClipPerceptor:
    """Seeded random-weight CLIP (RANDOM_CLIP geometry): runs the pipeline, understands nothing."""
    from megforge.models import clip

    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in clip.expected_shapes(clip.CLIP(**RANDOM_CLIP)).items():
        if key.endswith(("ln_1.weight", "ln_2.weight", "ln_pre.weight", "ln_post.weight", "ln_final.weight")):
            state[key] = np.ones(shape, np.float32)
        elif key == "logit_scale":
            state[key] = np.full(shape, np.log(1 / 0.07), np.float32)
        elif key.endswith("bias"):
            state[key] = np.zeros(shape, np.float32)
        else:
            fan_in = shape[-1] if len(shape) > 1 else 1
            state[key] = (rng.standard_normal(shape) / np.sqrt(max(fan_in, 1))).astype(np.float32)
    return ClipPerceptor(clip.from_state_dict(state, RANDOM_CLIP))


def text_path(text: str, text_min: str = "") -> str:
    """File-name stem for a prompt, as big-sleep names its images."""
    if text_min:
        text = f"{text}_wout_{text_min[:255]}"
    name = text.replace("-", "_").replace(",", "").replace(" ", "_").replace("|", "--").strip("-_")[:255]
    return name or "image"


def encode_prompts(text: str, encode_text: TextEncoder) -> list[np.ndarray]:
    """One embedding per ``|``-separated phrase; empty phrases are an error."""
    phrases = [p.strip() for p in text.split("|")]
    if not all(phrases):
        raise InvalidArgumentError(f"prompt {text!r} has an empty phrase")
    return [np.asarray(encode_text(p), np.float32) for p in phrases]


def save_png(image: np.ndarray, path: Path) -> Path:
    """image: float32 (3, H, W) in [0, 1] -> 8-bit RGB PNG (round half up, like torchvision's save_image)."""
    from PIL import Image

    pixels = np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)  # (H, W, 3)
    Image.fromarray(pixels, "RGB").save(path)
    return path


def _progress(steps: int, enabled: bool) -> tuple[Iterator[int], Callable[[str], None]]:
    """A tqdm bar when available, else a plain line every ~10% on stderr."""
    if not enabled:
        return iter(range(steps)), lambda _: None
    try:
        from tqdm import tqdm
    except ImportError:
        state = {"i": 0}

        def plain() -> Iterable[int]:
            for i in range(steps):
                state["i"] = i
                yield i

        def describe(text: str) -> None:
            i = state["i"]
            if (i + 1) % max(1, steps // 10) == 0 or i + 1 == steps:
                print(f"step {i + 1}/{steps} {text}", file=sys.stderr, flush=True)

        return iter(plain()), describe
    bar = tqdm(range(steps), desc="BigSleep", unit="step")
    return iter(bar), bar.set_description


def imagine(model: BigSleep, text: str, encode_text: TextEncoder, steps: int, out_dir: Path,
            text_min: str = "", save_every: int = 50, progress: bool = True) -> list[Path]:
    """Run ``steps`` BigSleep updates towards ``text``; returns the PNG paths written."""
    if steps < 1:
        raise InvalidArgumentError(f"steps must be >= 1, got {steps}")
    if save_every < 1:
        raise InvalidArgumentError(f"save_every must be >= 1, got {save_every}")
    targets = encode_prompts(text, encode_text)
    avoid = encode_prompts(text_min, encode_text) if text_min else []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = text_path(text, text_min)
    written: list[Path] = []
    iterator, describe = _progress(steps, progress)
    for i in iterator:
        parts = model.step(targets, avoid)
        describe(f"loss {parts['loss']:.2f} (sim {parts['sim_loss']:.2f})")
        if (i + 1) % save_every == 0 or i + 1 == steps:
            image = model.ema_image()
            written.append(save_png(image, out_dir / f"{name}.step{i + 1:05d}.png"))
            save_png(image, out_dir / f"{name}.png")
    return written
