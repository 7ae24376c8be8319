"""Train-after-install smoke test: a small convolutional autoencoder trained in MegEngine.

    python -m megforge.smoke.train --steps 300 --out DIR

Data: 3-channel 16x16 images of 1-3 coloured Gaussian blobs, generated from a fixed seed
(float32 NCHW in [0, 1]). Model: a plain MegEngine module, two strided ``M.Conv2d`` down
to (16, 4, 4) and two ``M.ConvTranspose2d`` (kernel 4, stride 2, padding 1) back up, so a
MegEngine build that routes transposed convolutions elsewhere is exercised as is.

Passes when, on a fixed held-out batch,
  1. the mean squared error after training is <= LOSS_RATIO (0.3) x the error before training
     and <= LOSS_RATIO x the error of the best input-independent guess (the training set's
     mean image), so the drop is not just learning the background, and
  2. the model saved with ``megengine.save`` and loaded into a fresh instance with
     ``megengine.load`` gives bitwise-identical outputs, and
  3. the trained decoder run through megforge's own NC4HW4 transposed convolution
     (``megforge.deconv``, weights as trained) reproduces MegEngine's outputs (relative error
     <= 1e-4). Training itself uses MegEngine's NCHW op: megforge's kernel is inference-only.
Exit code 0 on success, 1 with a message naming the failed criterion otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

LOSS_RATIO = 0.3
IMAGE_SIZE = 16
BATCH = 32


def make_images(count: int, seed: int) -> np.ndarray:
    """``count`` images (count, 3, 16, 16) float32 in [0, 1]: each 1-3 blobs of random colour."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32)
    images = np.zeros((count, 3, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    for image in images:
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(2, IMAGE_SIZE - 2, 2)
            radius = rng.uniform(1.5, 4.0)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
            image += rng.uniform(0.2, 1.0, (3, 1, 1)).astype(np.float32) * blob
    return np.clip(images, 0.0, 1.0)


def build_model():
    """Encoder (3,16,16) -> (16,4,4); decoder back with transposed convolutions; sigmoid output."""
    import megengine.functional as F
    import megengine.module as M

    class AutoEncoder(M.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc1 = M.Conv2d(3, 16, 3, stride=2, padding=1)  # -> (16, 8, 8)
            self.enc2 = M.Conv2d(16, 16, 3, stride=2, padding=1)  # -> (16, 4, 4)
            self.dec1 = M.ConvTranspose2d(16, 16, 4, stride=2, padding=1)  # -> (16, 8, 8)
            self.dec2 = M.ConvTranspose2d(16, 3, 4, stride=2, padding=1)  # -> (3, 16, 16)

        def forward(self, x):
            x = F.relu(self.enc2(F.relu(self.enc1(x))))
            return F.sigmoid(self.dec2(F.relu(self.dec1(x))))

    return AutoEncoder()


def decode_with_megforge(model, images) -> np.ndarray:
    """The model's outputs with its decoder computed by megforge.deconv in NC4HW4.

    Encoder in MegEngine; then each ``ConvTranspose2d`` (weight (C_in, C_out, KH, KW), the
    PyTorch layout megforge takes; bias (1, C_out, 1, 1)) as a DeconvPlan on NC4HW4 arrays.
    """
    import megengine.functional as F

    from megforge import deconv

    model.eval()
    latent = F.relu(model.enc2(F.relu(model.enc1(images)))).numpy()  # (N, 16, 4, 4)
    x = deconv.to_nc4hw4(np.ascontiguousarray(latent))
    for layer, activation in ((model.dec1, lambda v: np.maximum(v, 0)), (model.dec2, lambda v: 1 / (1 + np.exp(-v)))):
        weight = np.ascontiguousarray(layer.weight.numpy())
        bias = np.ascontiguousarray(layer.bias.numpy().reshape(-1))
        with deconv.DeconvPlan(weight, bias, stride=layer.stride, padding=layer.padding, layout="NC4HW4") as plan:
            x = activation(plan(x)).astype(np.float32)
    model.train()
    return deconv.from_nc4hw4(x, 3)


def _save_and_reload(model, path: Path):
    """megengine.save the state dict, megengine.load it into a fresh model (our own file)."""
    import megengine as mge

    mge.save(model.state_dict(), str(path))
    reloaded = build_model()
    reloaded.load_state_dict(mge.load(str(path)))
    return reloaded


@dataclass
class SmokeResult:
    """What a training smoke run measured (losses: mean squared error on the held-out batch) and
    which criteria of the module doc it failed; shared by this trainer and ``train_numpy``."""

    steps: int
    initial_loss: float
    final_loss: float
    mean_image_loss: float  # of the training set's mean image, the best input-independent guess
    reload_max_abs_diff: float
    megforge_rel_err: float  # criterion 3: megforge's kernel vs what it must reproduce
    seconds: float
    failures: list[str] = field(default_factory=list)

    @property
    def loss_ratio(self) -> float:
        return self.final_loss / self.initial_loss if self.initial_loss else float("inf")

    @property
    def ok(self) -> bool:
        return not self.failures

    def judge(self, reloaded_equal: bool, megforge_what: str, megforge_rtol: float = 1e-4) -> "SmokeResult":
        """Record every failed criterion (``megforge_what`` names criterion 3's comparison)."""
        if not self.loss_ratio <= LOSS_RATIO:
            self.failures.append(f"loss did not drop enough: {self.initial_loss:.5f} -> {self.final_loss:.5f} "
                                 f"(ratio {self.loss_ratio:.3f} > {LOSS_RATIO})")
        if not self.final_loss <= LOSS_RATIO * self.mean_image_loss:
            self.failures.append(f"loss {self.final_loss:.5f} is not <= {LOSS_RATIO} x the mean-image guess's "
                                 f"{self.mean_image_loss:.5f}")
        if not reloaded_equal:
            self.failures.append(f"saved and reloaded model differs: max |diff| {self.reload_max_abs_diff:.3g}")
        if not self.megforge_rel_err <= megforge_rtol:
            self.failures.append(f"{megforge_what} differs: relative error {self.megforge_rel_err:.3g}")
        return self

    def write_report(self, directory: Path) -> None:
        report = {**asdict(self), "loss_ratio": self.loss_ratio, "ok": self.ok}
        (Path(directory) / "report.json").write_text(json.dumps(report, indent=2) + "\n")


def run(steps: int = 300, out: Path | None = None, seed: int = 0, lr: float = 0.01) -> SmokeResult:
    """Train for ``steps`` Adam steps (batch 32) and check both criteria; ``out`` gets model + report."""
    import megengine as mge
    import megengine.functional as F
    import megengine.optimizer as optim
    from megengine.autodiff import GradManager

    start = time.perf_counter()
    mge.random.seed(seed)
    train, held_out = make_images(512, seed), mge.Tensor(make_images(BATCH, seed + 1))
    model = build_model()
    gm = GradManager().attach(model.parameters())
    opt = optim.Adam(model.parameters(), lr=lr)

    def evaluate(m) -> tuple[np.ndarray, float]:
        m.eval()
        y = m(held_out)
        m.train()
        return y.numpy(), float(F.loss.square_loss(y, held_out).item())

    _, initial = evaluate(model)
    order = np.random.default_rng(seed + 2)
    for _ in range(steps):
        batch = mge.Tensor(train[order.choice(len(train), BATCH, replace=False)])
        with gm:
            loss = F.loss.square_loss(model(batch), batch)
            gm.backward(loss)
        opt.step().clear_grad()
    outputs, final = evaluate(model)

    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        reloaded_outputs = evaluate(_save_and_reload(model, Path(out) / "autoencoder.mge"))[0]
    else:
        with tempfile.TemporaryDirectory() as tmp:
            reloaded_outputs = evaluate(_save_and_reload(model, Path(tmp) / "autoencoder.mge"))[0]

    from megforge.testing import relative_error

    megforge_err = relative_error(decode_with_megforge(model, held_out), outputs.astype(np.float64))
    baseline = float(np.mean((held_out.numpy() - train.mean(axis=0)) ** 2))
    result = SmokeResult(steps, initial, final, baseline, float(np.abs(reloaded_outputs - outputs).max()),
                         megforge_err, time.perf_counter() - start)
    result.judge(np.array_equal(reloaded_outputs, outputs), "the decoder through megforge's NC4HW4 kernel")
    if out is not None:
        result.write_report(Path(out))
    return result


def check(steps: int = 300) -> str:
    """``python -m megforge.smoke train``: raises AssertionError naming the failed criterion."""
    result = run(steps)
    if not result.ok:
        raise AssertionError("; ".join(result.failures))
    return (f"held-out MSE {result.initial_loss:.4f} -> {result.final_loss:.4f} in {steps} steps "
            f"(ratio {result.loss_ratio:.3f} <= {LOSS_RATIO}); save/load bitwise equal; decoder through "
            f"megforge NC4HW4 rel. err {result.megforge_rel_err:.1e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m megforge.smoke.train", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--out", type=Path, default=None, help="directory for autoencoder.mge and report.json")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.steps < 0:
        parser.error(f"--steps must be >= 0, got {args.steps}")
    try:
        import megengine  # noqa: F401
    except Exception as exc:  # ImportError, or a broken wheel failing inside its own import
        print(f"megforge smoke train: FAILED: cannot import megengine ({type(exc).__name__}: {exc})",
              file=sys.stderr)
        return 1
    result = run(args.steps, args.out, args.seed)
    print(f"megforge smoke train: {result.steps} steps, held-out MSE {result.initial_loss:.5f} -> "
          f"{result.final_loss:.5f} (ratio {result.loss_ratio:.3f}, need <= {LOSS_RATIO}; mean-image guess "
          f"{result.mean_image_loss:.5f}); "
          f"reload max |diff| {result.reload_max_abs_diff:.3g}; megforge NC4HW4 decoder rel. err "
          f"{result.megforge_rel_err:.1e}; {result.seconds:.1f} s")
    for failure in result.failures:
        print(f"megforge smoke train: FAILED: {failure}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
