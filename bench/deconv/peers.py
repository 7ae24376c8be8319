"""Wall-clock time of a peer's conv_transpose2d on the suite (run inside the peer's own venv).

Usage: python peers.py {megengine|torch} <repeats>   -> prints JSON {shape name: median seconds}
Single thread (torch.set_num_threads(1); MegEngine's default CPU comp node runs one thread),
NCHW float32, bias included, no output_padding argument for MegEngine (broken in 1.13; the
suite's output_padding shapes are timed with padding folded into a one-larger output there).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shapes import SHAPES  # noqa: E402


def time_it(fn, repeats: int) -> float:
    fn()
    fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    peer, repeats = sys.argv[1], int(sys.argv[2])
    results = {}
    rng = np.random.default_rng(0)
    for s in SHAPES:
        x = rng.standard_normal((s.n, s.cin, s.h, s.w), dtype=np.float32)
        w = rng.standard_normal((s.cin, s.cout // s.g, s.k, s.k), dtype=np.float32)
        b = rng.standard_normal(s.cout, dtype=np.float32)
        if peer == "torch":
            import torch

            torch.set_num_threads(1)
            tx, tw, tb = map(torch.from_numpy, (x, w, b))

            def fn():
                with torch.no_grad():
                    torch.nn.functional.conv_transpose2d(tx, tw, tb, stride=s.s, padding=s.p, output_padding=s.op,
                                                         groups=s.g, dilation=s.d)
        else:
            import megengine as mge
            import megengine.functional as F

            mw = w.reshape(s.g, s.cin // s.g, s.cout // s.g, s.k, s.k) if s.g > 1 else w
            # output_padding=op adds op rows/cols; MegEngine 1.13 cannot take it, so pad=p-op/2
            # is not expressible either: time the same layer without output_padding (op=0 changes
            # the work by < 1/H).
            mx, mwt, mb = mge.tensor(x), mge.tensor(mw), mge.tensor(b.reshape(1, s.cout, 1, 1))

            def fn():
                F.conv_transpose2d(mx, mwt, mb, stride=s.s, padding=s.p, dilation=s.d, groups=s.g).numpy()
        results[s.name] = time_it(fn, repeats)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
