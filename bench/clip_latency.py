"""ViT-B/32 image-encode latency: megforge (MegEngine) vs openai/CLIP on PyTorch CPU, one run.

Run from the repository root in the MegEngine env; the PyTorch half runs as a subprocess
in the refs env::

    PYTHONPATH=src .tox/py310/bin/python bench/clip_latency.py \
        --torch-python .tox/refs/bin/python

Both sides get the same seeded random ViT-B/32 weights (written as safetensors by
megforge, read by the ``safetensors`` package on the torch side) and the same images.
Timing rounds alternate between the two sides so that load from other processes hits
both alike; the ratio is megforge's median over PyTorch's median. Also checks that both
return the same features. Writes ``build/bench/clip_latency.md``. Target: ratio <= 1.2.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VIT_B32 = dict(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=32,
               context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8, transformer_layers=12)


def random_state_dict(config: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded random weights for every key of a CLIP with ``config`` (N(0, 0.02), norms ~1)."""
    from megforge.models.clip.build import expected_shapes
    from megforge.models.clip.model import CLIP

    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in expected_shapes(CLIP(**config)).items():
        base = 1.0 if key.endswith(("ln_1.weight", "ln_2.weight", "ln_pre.weight", "ln_post.weight",
                                    "ln_final.weight", "running_var")) else 0.0
        state[key] = (base + 0.02 * rng.standard_normal(shape)).astype(np.float32)
    state["logit_scale"] = np.array(np.log(100.0), np.float32)
    return state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-python", default=str(ROOT / ".tox" / "refs" / "bin" / "python"),
                        help="Python of the refs env (torch + clip-anytorch + safetensors)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iters", type=int, default=4, help="timed calls per side per round")
    parser.add_argument("--device", default=None, help="MegEngine device (default: megforge's choice)")
    parser.add_argument("--torch-threads", type=int, default=0, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "clip_latency.md")
    args = parser.parse_args(argv)

    from megforge.convert import save_safetensors
    from megforge.models import clip

    state = random_state_dict(VIT_B32)
    model = clip.from_state_dict(state, device=args.device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "vit_b32.safetensors"
        save_safetensors(weights, state)
        worker = subprocess.Popen([args.torch_python, str(ROOT / "bench" / "clip_latency_torch.py"), str(weights),
                                   json.dumps(VIT_B32)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = worker.stdout.readline()
        if not first:  # the torch side died (its traceback is on stderr above)
            sys.exit(f"the PyTorch side ({args.torch_python}) exited with {worker.wait()} before answering; "
                     "it needs torch 2.13, clip-anytorch and safetensors (the refs tox env has them)")
        info = json.loads(first)
        try:
            for batch in args.batch:
                image = np.random.default_rng(batch).standard_normal((batch, 3, 224, 224)).astype(np.float32)
                np.save(Path(tmp) / "image.npy", image)
                ours, theirs, error = [], [], 0.0
                for round_index in range(args.rounds + 1):  # round 0 warms both sides up and is not counted
                    times = []
                    for _ in range(args.iters):
                        start = time.perf_counter()
                        features = model.encode_image(image).numpy()
                        times.append(time.perf_counter() - start)
                    request = {"image": str(Path(tmp) / "image.npy"), "iters": args.iters,
                               "threads": args.torch_threads}
                    worker.stdin.write(json.dumps(request) + "\n")
                    worker.stdin.flush()
                    reply = json.loads(worker.stdout.readline())
                    reference = np.array(reply["features"], np.float32)
                    error = max(error, float(np.abs(features - reference).max() / np.abs(reference).max()))
                    if round_index > 0:
                        ours += times
                        theirs += reply["times"]
                rows.append((batch, statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3, error))
        finally:
            worker.stdin.close()
            worker.wait(timeout=60)

    threads = args.torch_threads or info["threads"]
    header = (f"ViT-B/32 encode_image, random weights; torch {info['torch']} ({threads} threads) vs "
              f"megforge on MegEngine ({model.device or 'default device'}); {args.rounds} rounds x {args.iters} "
              f"calls per side, medians")
    lines = [header, "", "| batch | megforge ms | PyTorch ms | ratio megforge/PyTorch | max rel. feature diff |",
             "| ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {b} | {m:.1f} | {t:.1f} | {m / t:.2f} | {e:.1e} |" for b, m, t, e in rows]
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
