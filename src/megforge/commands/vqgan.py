"""``megforge vqgan reconstruct``: encode an image to VQGAN codes and decode it back to a PNG."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("vqgan", help="VQGAN (taming-transformers) on MegEngine")
    sub = parser.add_subparsers(dest="vqgan_command", required=True, metavar="ACTION")
    rec = sub.add_parser("reconstruct", help="encode IMG to codebook indices and decode them to OUT (PNG)")
    rec.add_argument("--weights", required=True, type=Path,
                     help="taming checkpoint: Lightning .ckpt, torch state dict or safetensors")
    rec.add_argument("--config", type=Path, default=None,
                     help="taming model config (.yaml or .json); optional, shapes determine the model")
    rec.add_argument("--size", type=int, default=None,
                     help="resize the shorter side to SIZE and centre-crop SIZE x SIZE first")
    rec.add_argument("--seed", type=int, default=0, help="seed of a Gumbel quantizer's noise")
    rec.add_argument("--codes", type=Path, default=None, help="also save the indices (B, h, w) as .npy")
    rec.add_argument("image", type=Path, metavar="IMG")
    rec.add_argument("out", type=Path, metavar="OUT.png")
    rec.set_defaults(func=reconstruct)


def reconstruct(args: argparse.Namespace) -> int:
    import megengine as mge
    import numpy as np

    from megforge.errors import InvalidArgumentError
    from megforge.models import vqgan
    from megforge.models._files import read_config, read_image, write_png

    model = vqgan.load(args.weights, read_config(args.config))
    pixels = read_image(args.image, args.size)                              # (H, W, 3) uint8
    factor = 2 ** (model.encoder.num_resolutions - 1)
    h, w = pixels.shape[:2]
    if h % factor or w % factor:
        raise InvalidArgumentError(f"image is {w}x{h}; this VQGAN needs sides divisible by {factor} "
                                   f"(use --size)")
    x = mge.tensor(pixels.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1)   # (1, 3, H, W) in [-1, 1]
    mge.random.seed(args.seed)
    quant, _, (_, _, indices) = model.encode(x)
    rec = model.decode(quant).numpy()[0]
    write_png(args.out, (np.clip(rec, -1, 1) + 1) / 2)
    if args.codes is not None:
        np.save(args.codes, indices.numpy().reshape(1, h // factor, w // factor))
    print(f"{args.out}: {w}x{h}, {(h // factor) * (w // factor)} codes")
    return 0
