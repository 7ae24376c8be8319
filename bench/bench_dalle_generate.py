"""Benchmark: DALLE image-token generation with and without the key/value cache (MegEngine, CPU).

A seeded random dalle-pytorch-shaped DALLE (no fixtures needed): dim 256, depth 4, 8 heads of 32,
text_seq_len 32, a 16x16 image-token grid (256 tokens), rotary + token shift, OpenAI-dVAE-shaped
VAE. Prints seconds per image for both modes and their ratio, measured in one run, and writes a
markdown table. Run: ``PYTHONPATH=src python bench/bench_dalle_generate.py [--out table.md]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def random_model(fmap: int = 16):
    from megforge.models import dalle, dvae

    enc = dvae.Encoder(n_hid=64, n_blk_per_group=1, vocab_size=512)
    dec = dvae.Decoder(n_init=32, n_hid=64, n_blk_per_group=1, vocab_size=512)
    config = dict(dim=256, depth=4, heads=8, dim_head=32, num_text_tokens=1000, text_seq_len=32)
    model = dalle.DALLE(vae=dalle.OpenAIDiscreteVAE(enc, dec, image_size=8 * fmap), image_fmap_size=fmap, **config)
    rng = np.random.default_rng(0)
    state_dict = {k: (rng.standard_normal(v.shape) * 0.05).astype(np.float32) for k, v in model.named_parameters()}
    return dalle.from_state_dict(state_dict, config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="write a markdown table here")
    args = parser.parse_args(argv)
    model = random_model()
    text = np.zeros((1, model.text_seq_len), np.int64)
    text[0, :5] = [11, 22, 33, 44, 55]
    seconds = {}
    tokens = {}
    for use_cache in (True, False):
        start = time.perf_counter()
        tokens[use_cache] = model.generate_image_tokens(text, filter_thres=0.9, seed=0, use_cache=use_cache)
        seconds[use_cache] = time.perf_counter() - start
    same = bool((tokens[True] == tokens[False]).all())
    ratio = seconds[False] / seconds[True]
    rows = [("full recompute per token", seconds[False]), ("key/value cache", seconds[True])]
    table = ["| mode | s / image (256 tokens) |", "| --- | --- |"]
    table += [f"| {name} | {s:.2f} |" for name, s in rows]
    table.append(f"\ncache speed-up: {ratio:.2f}x (identical tokens: {same})")
    print("\n".join(table))
    if args.out is not None:
        args.out.write_text("\n".join(table) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
