"""Train-after-install smoke test that needs only megforge's own wheel and numpy, so it runs on
every target (macOS arm64, linux-aarch64, linux-x86_64, any CPython >= 3.9):

    python -m megforge.smoke.train_numpy --steps 300 --out DIR

The model is ``megforge.smoke.numpy_autoencoder``: the shapes of the MegEngine autoencoder of
``megforge.smoke.train``, backpropagation written out in numpy, and megforge's NC4HW4
transposed convolution computing the decoder's forward and the encoder's input gradient
(ConvolutionBackwardData), with plans packed from the new weights after every Adam step.
Data: the seeded 3x16x16 blob images of ``megforge.smoke.train`` (float32 NCHW in [0, 1]).

Passes when, on a fixed held-out batch,
  1. the mean squared error after training is <= LOSS_RATIO (0.3) x the error before training
     and <= LOSS_RATIO x the error of the best input-independent guess (the training set's
     mean image), so the drop is not just learning the background,
  2. the parameters saved with ``numpy_autoencoder.save`` (plain ``.npz`` arrays) and loaded
     into a fresh model give bitwise-identical outputs, and
  3. the trained model's output and every gradient computed through megforge's kernel agree
     with the same computed by the float64 numpy reference (relative error <= 1e-4).
Exit code 0 on success, 1 with a message naming the failed criterion otherwise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from megforge.errors import InvalidArgumentError
from megforge.smoke import numpy_autoencoder as nae
from megforge.smoke.train import LOSS_RATIO, SmokeResult, make_images

ENGINE_RTOL = 1e-4
BATCH = 32


class Adam:
    """Adam (Kingma & Ba) updating ``params`` in place; moments kept in the parameters' dtype."""

    def __init__(self, params: Dict[str, np.ndarray], lr: float = 0.01, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        if not lr > 0:
            raise InvalidArgumentError(f"lr must be > 0, got {lr!r}")
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads: Dict[str, np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.betas
        scale = self.lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)  # bias corrections folded in
        for k, p in self.params.items():
            self.m[k] = b1 * self.m[k] + (1 - b1) * grads[k]
            self.v[k] = b2 * self.v[k] + (1 - b2) * grads[k] ** 2
            p -= (scale * self.m[k] / (np.sqrt(self.v[k]) + self.eps)).astype(p.dtype)


def engine_rel_err(model: nae.AutoEncoder, x: np.ndarray) -> float:
    """Max relative error of the output and of every gradient of ``model`` (megforge engine)
    against the same parameters run by the float64 reference engine, on the batch x."""
    reference = nae.AutoEncoder(model.params, engine="reference")
    (_, got), (_, want) = model.loss_and_grads(x), reference.loss_and_grads(x)
    got["output"], want["output"] = model(x), reference(x)
    return max(float(np.abs(got[k] - want[k]).max()) / max(float(np.abs(want[k]).max()), 1e-30) for k in want)


def run(steps: int = 300, out: Optional[Path] = None, seed: int = 0, lr: float = 0.01) -> SmokeResult:
    """Train for ``steps`` Adam steps (batch 32) and check the criteria; ``out`` gets
    ``autoencoder.npz`` and ``report.json``."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise InvalidArgumentError(f"steps must be an int >= 0, got {steps!r}")
    start = time.perf_counter()
    train, held_out = make_images(512, seed), make_images(BATCH, seed + 1)
    model = nae.AutoEncoder(nae.init_params(seed))
    opt = Adam(model.params, lr=lr)
    initial = model.loss(held_out)
    order = np.random.default_rng(seed + 2)
    for _ in range(steps):
        _, grads = model.loss_and_grads(train[order.choice(len(train), BATCH, replace=False)])
        opt.step(grads)
        model.weights_changed()  # re-pack the DeconvPlans from the updated weights
    outputs = model(held_out)
    final = float(np.mean((outputs - held_out) ** 2))

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(out) if out is not None else Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        nae.save(model, directory / "autoencoder.npz")
        reloaded_outputs = nae.load(directory / "autoencoder.npz")(held_out)

    baseline = float(np.mean((held_out - train.mean(axis=0)) ** 2))
    result = SmokeResult(steps, initial, final, baseline, float(np.abs(reloaded_outputs - outputs).max()),
                         engine_rel_err(model, held_out), time.perf_counter() - start)
    result.judge(np.array_equal(reloaded_outputs, outputs),
                 "outputs/gradients through megforge's NC4HW4 kernel vs the float64 reference", ENGINE_RTOL)
    if out is not None:
        result.write_report(Path(out))
    return result


def check(steps: int = 300) -> str:
    """``python -m megforge.smoke train-native``: raises AssertionError naming the failed criterion."""
    result = run(steps)
    if not result.ok:
        raise AssertionError("; ".join(result.failures))
    return (f"held-out MSE {result.initial_loss:.4f} -> {result.final_loss:.4f} in {steps} steps "
            f"(ratio {result.loss_ratio:.3f} <= {LOSS_RATIO}); save/load bitwise equal; megforge NC4HW4 "
            f"forward + backward-data vs float64 reference rel. err {result.megforge_rel_err:.1e}")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m megforge.smoke.train_numpy", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--out", type=Path, default=None, help="directory for autoencoder.npz and report.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (default 0.01)")
    args = parser.parse_args(argv)
    if args.steps < 0:
        parser.error(f"--steps must be >= 0, got {args.steps}")
    if not args.lr > 0:
        parser.error(f"--lr must be > 0, got {args.lr}")
    result = run(args.steps, args.out, args.seed, args.lr)
    print(f"megforge smoke train_numpy: {result.steps} steps, held-out MSE {result.initial_loss:.5f} -> "
          f"{result.final_loss:.5f} (ratio {result.loss_ratio:.3f}, need <= {LOSS_RATIO}; mean-image guess "
          f"{result.mean_image_loss:.5f}); reload max |diff| {result.reload_max_abs_diff:.3g}; megforge vs "
          f"float64 reference rel. err {result.megforge_rel_err:.1e}; {result.seconds:.1f} s")
    for failure in result.failures:
        print(f"megforge smoke train_numpy: FAILED: {failure}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
