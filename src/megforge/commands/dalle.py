"""``megforge dalle generate``: text -> image tokens with a dalle-pytorch DALLE -> PNG via its VAE."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dalle", help="DALL-E (dalle-pytorch transformer + dVAE/VQGAN) on MegEngine")
    sub = parser.add_subparsers(dest="dalle_command", required=True, metavar="ACTION")
    gen = sub.add_parser("generate", help="generate images for a text prompt")
    gen.add_argument("--weights", required=True, type=Path,
                     help="DALLE state dict (torch.save) or dalle-pytorch training checkpoint")
    gen.add_argument("--config", type=Path, default=None,
                     help="DALLE kwargs as JSON/YAML (the checkpoint's hparams are used when present)")
    gen.add_argument("--vae-config", type=Path, default=None, help="taming config of a VQGAN VAE (optional)")
    text = gen.add_mutually_exclusive_group(required=True)
    text.add_argument("--text", help="prompt, tokenized with dalle-pytorch's default (CLIP BPE) tokenizer")
    text.add_argument("--text-ids", help="prompt as comma-separated token ids (other tokenizers)")
    gen.add_argument("--seed", type=int, default=0, help="seed of the sampling noise")
    gen.add_argument("--out", type=Path, required=True, help="output PNG (OUT_<i>.png for several images)")
    gen.add_argument("--num-images", type=int, default=1)
    gen.add_argument("--filter-thres", type=float, default=0.9,
                     help="top-k filter: keep the top (1 - thres) share of logits (0.999+ = greedy)")
    gen.add_argument("--temperature", type=float, default=1.0)
    gen.add_argument("--cond-scale", type=float, default=1.0, help="classifier-free guidance scale")
    gen.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    gen.set_defaults(func=generate)


def _text_ids(args: argparse.Namespace, text_seq_len: int):
    import numpy as np

    from megforge.errors import InvalidArgumentError
    from megforge.models.dalle import tokenize

    if args.text is not None:
        return tokenize(args.text, text_seq_len, truncate_text=True)
    try:
        ids = [int(t) for t in args.text_ids.split(",") if t.strip()]
    except ValueError as exc:
        raise InvalidArgumentError(f"--text-ids must be comma-separated integers, got {args.text_ids!r}") from exc
    if len(ids) > text_seq_len:
        raise InvalidArgumentError(f"--text-ids has {len(ids)} ids, more than text_seq_len={text_seq_len}")
    out = np.zeros((1, text_seq_len), np.int64)
    out[0, :len(ids)] = ids
    return out


def generate(args: argparse.Namespace) -> int:
    import numpy as np

    from megforge.errors import InvalidArgumentError
    from megforge.models import dalle
    from megforge.models._files import read_config, write_png

    if args.num_images < 1:
        raise InvalidArgumentError(f"--num-images must be at least 1, got {args.num_images}")
    model = dalle.load(args.weights, read_config(args.config), read_config(args.vae_config))
    text = np.repeat(_text_ids(args, model.text_seq_len), args.num_images, axis=0)   # (n, text_seq_len)
    model.check_text(text)   # before the progress bar starts
    from tqdm import tqdm

    with tqdm(total=model.image_seq_len, desc="image tokens", unit="tok", disable=args.no_progress) as bar:
        images = model.generate_images(text, filter_thres=args.filter_thres, temperature=args.temperature,
                                       cond_scale=args.cond_scale, use_cache=True, seed=args.seed,
                                       progress=bar.update)
    images = images.numpy()                                                      # (n, 3, H, W) in [0, 1]
    outs = [args.out] if len(images) == 1 else \
        [args.out.with_name(f"{args.out.stem}_{i}{args.out.suffix}") for i in range(len(images))]
    for image, path in zip(images, outs):
        write_png(path, image)
        print(path)
    return 0
