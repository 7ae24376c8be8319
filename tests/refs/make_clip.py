"""CLIP parity fixtures from openai/CLIP (clip-anytorch 2.6.0), seeded random weights.

For each config in CONFIGS, under ``out_dir``: ``<name>.state_dict.pt`` (``torch.save`` of
``state_dict()``), ``<name>.jit.pt`` (a ``torch.jit.trace`` archive with OpenAI's extra
``input_resolution``/``context_length``/``vocab_size`` entries) - both in fp16 for the
full-size ViT-B/32, like OpenAI's released files - and ``<name>.npz`` with
inputs (``image``, ``text``) and the fp32 reference outputs (``image_features``,
``text_features``, ``logits_per_image``, ``logits_per_text``).

Tokenizer: ``tokens.npz`` maps ``CORPUS[i]`` to ``clip.tokenize`` ids (``truncate=True``)
and records which texts the reference refuses without truncation.
Preprocessing: ``preprocess.npz`` holds synthetic images (saved as PNG beside it) and the
reference pipeline's output. torchvision cannot be imported in the refs env, so
``_reference_transform`` performs torchvision's documented ``Resize(BICUBIC)`` /
``CenterCrop`` / ``ToTensor`` / ``Normalize`` steps with the same PIL calls.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

CLIP_DIR = Path(importlib.util.find_spec("clip").submodule_search_locations[0])  # type: ignore[index]
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)

# openai CLIP(**kwargs); vocab 49408 so that real token ids fit
CONFIGS = {
    "vit_small": dict(embed_dim=32, image_resolution=64, vision_layers=2, vision_width=128, vision_patch_size=16,
                      context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1,
                      transformer_layers=2),
    "rn_small": dict(embed_dim=32, image_resolution=64, vision_layers=(1, 2, 1, 1), vision_width=16,
                     vision_patch_size=None, context_length=77, vocab_size=49408, transformer_width=64,
                     transformer_heads=1, transformer_layers=2),
    "vit_b32": dict(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=32,
                    context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8,
                    transformer_layers=12),
}
CAPTIONS = ["a photo of a cat", "a diagram", "Ünïcödé façade — naïve café 東京 🐱🚀", "&lt;b&gt;bold&amp;co"]
CORPUS = CAPTIONS + [
    "", "   ", "Hello, World!!! It's 3:45pm... don't", "I'll they've we'd she's 'quoted' “curly” ‘quotes’",
    "emoji 👩‍👩‍👧‍👦 👍🏽 🇯🇵 ❤️ ☕", "HTML &amp;amp; &quot;x&quot; &#39;y&#39; &eacute; &#x263A; &nbsp;end",
    "mojibake: Ã©tÃ© â€œquoteâ€\x9d", "tabs\tand\nnewlines\r\n and   spaces", "numbers 1234567890 ½ ² ٣ Ⅻ",
    "CJK 中文字符 한국어 日本語のテキスト", "Ελληνικά русский עברית العربية हिन्दी", "<|startoftext|>x<|endoftext|>",
    "zero\u200bwidth soft\u00adhyphen ligature ﬁ fullwidth ＡＢＣ", "a" * 300, "word " * 100,
    "supercalifragilisticexpialidocious " * 20, "!!!???...,,,;;;:::---___", "x's Y'S z'Re",
]


def _load(name: str) -> object:
    """Import a clip submodule without clip/__init__ (which needs torchvision)."""
    spec = importlib.util.spec_from_file_location(f"clip_ref_{name}", CLIP_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _tokenize(tokenizer: object, texts: list[str], context_length: int = 77, truncate: bool = False) -> np.ndarray:
    """clip.tokenize (clip/clip.py), restated: sot + encode + eot, zero-padded / truncated."""
    sot, eot = tokenizer.encoder["<|startoftext|>"], tokenizer.encoder["<|endoftext|>"]
    out = np.zeros((len(texts), context_length), np.int64)
    for i, text in enumerate(texts):
        ids = [sot] + tokenizer.encode(text) + [eot]
        if len(ids) > context_length:
            if not truncate:
                raise RuntimeError(f"Input {text} is too long for context length {context_length}")
            ids = ids[:context_length]
            ids[-1] = eot
        out[i, :len(ids)] = ids
    return out


def _reference_transform(image: Image.Image, n_px: int) -> np.ndarray:
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = n_px, int(n_px * long / short)
    size = (new_short, new_long) if width <= height else (new_long, new_short)
    if size != image.size:
        image = image.resize(size, Image.BICUBIC)
    left, top = int(round((size[0] - n_px) / 2.0)), int(round((size[1] - n_px) / 2.0))
    image = image.crop((left, top, left + n_px, top + n_px)).convert("RGB")
    x = np.asarray(image, np.float32) / 255.0
    return ((x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)).transpose(2, 0, 1)


def _synthetic_images(rng: np.random.Generator) -> dict[str, Image.Image]:
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32)
    smooth = np.stack([np.sin(xx / 17) * 90 + 120, np.cos(yy / 23) * 80 + 110, (xx + yy) / 560 * 255], -1)
    photo = np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8)
    checker = ((xx[:150, :97] // 4 + yy[:150, :97] // 4) % 2 * 255).astype(np.uint8)
    rgba = np.concatenate([photo[:200, :200], rng.integers(0, 256, (200, 200, 1), np.uint8)], -1)
    return {"photo_rgb": Image.fromarray(photo, "RGB"), "checker_l": Image.fromarray(checker, "L"),
            "palette_p": Image.fromarray(photo).convert("P"), "alpha_rgba": Image.fromarray(rgba, "RGBA"),
            "small_rgb": Image.fromarray(photo[:20, :31], "RGB")}


def _model_fixtures(model_module: object, tokenizer: object, name: str, config: dict, out_dir: Path) -> None:
    torch.manual_seed(sum(map(ord, name)))
    model = model_module.CLIP(**config).eval()
    with torch.no_grad():  # random but non-degenerate BatchNorm statistics and a visible logit scale
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5), module.bias.normal_(0, 0.1)
                module.running_mean.normal_(0, 0.1), module.running_var.uniform_(0.5, 1.5)
        model.logit_scale.fill_(np.log(50.0))
        if name == "vit_b32":  # stored in fp16 like OpenAI's releases; compare against those weights in fp32
            for p in model.parameters():
                p.copy_(p.half().float())
    resolution = config["image_resolution"]
    image = torch.from_numpy(np.random.default_rng(1).standard_normal((2, 3, resolution, resolution), np.float32))
    text = torch.from_numpy(_tokenize(tokenizer, CAPTIONS[:3]))
    with torch.no_grad():
        outputs = {"image_features": model.encode_image(image), "text_features": model.encode_text(text)}
        outputs["logits_per_image"], outputs["logits_per_text"] = model(image, text)
    np.savez(out_dir / f"{name}.npz", image=image.numpy(), text=text.numpy(),
             config=json.dumps(config), **{k: v.numpy() for k, v in outputs.items()})
    state = model.state_dict()
    if name == "vit_b32":
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    torch.save(state, out_dir / f"{name}.state_dict.pt")
    for key, value in (("input_resolution", resolution), ("context_length", config["context_length"]),
                       ("vocab_size", config["vocab_size"])):
        model.__dict__.pop(key, None)  # plain int attributes of CLIP; OpenAI's archives hold tensors
        model.register_buffer(key, torch.tensor(value))
    traced = torch.jit.trace(model, (image, text), check_trace=False)
    if name == "vit_b32":  # OpenAI's released archives: a TorchScript module holding fp16 tensors
        traced = traced.half()
    traced.save(str(out_dir / f"{name}.jit.pt"))


def main(out_dir: Path) -> None:
    tokenizer = _load("simple_tokenizer").SimpleTokenizer()
    model_module = _load("model")
    for name, config in CONFIGS.items():
        _model_fixtures(model_module, tokenizer, name, config, out_dir)

    refused = []
    for text in CORPUS:
        try:
            _tokenize(tokenizer, [text])
        except RuntimeError:
            refused.append(text)
    np.savez(out_dir / "tokens.npz", corpus=np.array(CORPUS), ids=_tokenize(tokenizer, CORPUS, truncate=True),
             refused=np.array(refused), short_ctx=_tokenize(tokenizer, CAPTIONS, context_length=8, truncate=True))

    images = _synthetic_images(np.random.default_rng(7))
    arrays = {}
    for key, image in images.items():
        image.save(out_dir / f"{key}.png")
        for n_px in (224, 64):
            arrays[f"{key}|{n_px}"] = _reference_transform(Image.open(out_dir / f"{key}.png"), n_px)
    np.savez(out_dir / "preprocess.npz", **arrays)
