"""``megforge clip ...``: CLIP on MegEngine from the command line.

``megforge clip zero-shot --weights ViT-B-32.pt --image cat.jpg --labels "a cat,a dog"`` prints
the labels ranked by probability (softmax over CLIP's image-text logits). ``--weights`` takes
OpenAI's TorchScript files, ``torch.save`` state dicts or safetensors, read without torch.
"""

from __future__ import annotations

import argparse
from typing import Any

from megforge.errors import InvalidArgumentError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("clip", help="CLIP zero-shot classification on MegEngine",
                                   description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="clip_command", required=True, metavar="COMMAND")
    zero_shot = commands.add_parser("zero-shot", help="rank text labels for an image")
    zero_shot.add_argument("--weights", required=True, help="CLIP checkpoint (TorchScript, torch.save or safetensors)")
    zero_shot.add_argument("--image", required=True, help="image file (any format Pillow reads)")
    zero_shot.add_argument("--labels", required=True, help='comma-separated labels, e.g. "a cat,a dog"')
    zero_shot.add_argument("--template", default="{}", help='prompt with {} for the label, e.g. "a photo of {}"')
    zero_shot.add_argument("--top", type=int, default=0, help="print only the best N labels (default: all)")
    zero_shot.add_argument("--truncate", action="store_true", help="cut prompts longer than the context")
    zero_shot.add_argument("--device", default=None, help="MegEngine device (default: all CPU cores or the GPU)")
    zero_shot.set_defaults(func=run_zero_shot)


def parse_labels(text: str) -> list[str]:
    """Split ``"a cat, a dog"`` into labels; empty labels are dropped, none at all is an error."""
    labels = [label.strip() for label in text.split(",") if label.strip()]
    if not labels:
        raise InvalidArgumentError(f"--labels {text!r} holds no label; give comma-separated labels")
    return labels


def zero_shot(model: Any, image: Any, labels: list[str], template: str = "{}",
              truncate: bool = False) -> list[tuple[str, float]]:
    """Rank ``labels`` for a PIL ``image``: ``[(label, probability)]``, most probable first."""
    import numpy as np

    from megforge.models import clip

    if "{}" not in template:
        raise InvalidArgumentError(f"--template {template!r} must contain {{}} where the label goes")
    pixels = clip.preprocess(image, model.image_resolution)[None]  # (1, 3, R, R)
    tokens = clip.tokenize([template.replace("{}", label) for label in labels], model.context_length, truncate)
    logits_per_image, _ = model(pixels, tokens)
    logits = logits_per_image.numpy()[0].astype(np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")
    return [(labels[i], float(probs[i])) for i in order]


def run_zero_shot(args: argparse.Namespace) -> int:
    from megforge.models import clip

    if args.top < 0:
        raise InvalidArgumentError(f"--top must be >= 0, got {args.top}")
    labels = parse_labels(args.labels)
    image = clip.load_image(args.image)
    model = clip.load(args.weights, device=args.device)
    ranked = zero_shot(model, image, labels, args.template, args.truncate)
    for label, probability in ranked[: args.top or None]:
        print(f"{probability * 100:7.2f}%  {label}")
    return 0
