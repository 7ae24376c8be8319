"""BigSleep on MegEngine: steer BigGAN's latents so CLIP sees a text prompt in the image.

Algorithm facts from big-sleep 0.9.1 (``big_sleep/big_sleep.py``):

* latents: ``normu`` (L+1, z_dim) ~ N(0, 1) and class logits ``cls`` (L+1, num_classes)
  ~ N(-3.9, 0.3); classes = sigmoid(cls) (or a differentiable top-k when ``max_classes``).
  Row 0 feeds BigGAN's gen_z, row k its k-th block (``BigGAN.forward_layerwise``), at
  truncation 1; image = (G + 1) / 2 in [0, 1], (1, 3, S, S).
* each step: ``num_cutouts`` square crops, side ``int(S * clip(N(0.8, 0.3), 0.5, 0.95))`` at
  uniform offsets, nearest-resized to CLIP's input size, CLIP-normalised, encoded.
* loss = lat_loss + cls_loss + sim_loss:
  lat_loss = mean|1 - std_row(z)| + mean|mean_row(z)| + 4 max(mean(z^2), 1)
             + sum_rows (|kurtosis| + |skew|) / (L+1)
  cls_loss = mean((50 * the num_classes-1 smallest class weights per row)^2)
  sim_loss = -loss_coef * mean_cutouts cos(text, image) per prompt (+ for "min" prompts)
* Adam (lr 0.07) on (normu, cls); a bias-corrected EMA of the latents (decay 0.99) gives
  the snapshot images.

The image encoder is a seam: any object with ``encode_image(x) -> (N, D)`` for CLIP-
normalised (N, 3, R, R) float32 input (megforge.models.clip's CLIP, or a stand-in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import megengine as mge
import megengine.functional as F
import megengine.module as M
import megengine.optimizer as optim
import numpy as np
from megengine.autodiff import GradManager

from megforge.errors import InvalidArgumentError
from megforge.models.biggan import BigGAN

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


class ImageEncoder(Protocol):
    def encode_image(self, image: mge.Tensor) -> mge.Tensor:
        """image: float32 (N, 3, R, R), CLIP-normalised -> embeddings (N, D)."""


@dataclass
class BigSleepConfig:
    """The reference's knobs (big-sleep ``Imagine`` defaults)."""

    num_cutouts: int = 128
    loss_coef: float = 100.0
    lr: float = 0.07
    ema_decay: float = 0.99
    center_bias: bool = False
    center_focus: float = 2.0
    max_classes: int | None = None
    class_temperature: float = 2.0
    input_resolution: int = 224

    def __post_init__(self) -> None:
        checks = {"num_cutouts": self.num_cutouts >= 1, "lr": self.lr > 0, "ema_decay": 0 <= self.ema_decay < 1,
                  "input_resolution": self.input_resolution >= 1, "class_temperature": self.class_temperature > 0,
                  "center_focus": self.center_focus > 0}
        bad = [f"{name}={getattr(self, name)!r}" for name, ok in checks.items() if not ok]
        if bad:
            raise InvalidArgumentError(f"invalid BigSleep setting(s): {', '.join(bad)} (need num_cutouts >= 1, "
                                       "lr > 0, 0 <= ema_decay < 1, input_resolution >= 1, positive temperature)")


def cutout_boxes(rng: np.random.Generator, width: int, count: int, center_bias: bool = False,
                 center_focus: float = 2.0) -> np.ndarray:
    """``count`` crops as int rows (size, offset_y, offset_x) of a width x width image."""
    boxes = np.empty((count, 3), np.int64)
    for i in range(count):
        size = int(width * float(np.clip(rng.normal(0.8, 0.3), 0.5, 0.95)))
        high = width - size
        if center_bias:
            center = high / 2
            offsets = [int(rng.normal(center, center / center_focus)) for _ in range(2)]
            offsets = [o if 0 <= o <= high else int(rng.integers(0, high + 1)) for o in offsets]
        else:
            offsets = [int(rng.integers(0, high + 1)) for _ in range(2)]
        boxes[i] = (size, *offsets)
    return boxes


def nearest_indices(size: int, out: int) -> np.ndarray:
    """Source index of each of ``out`` outputs when nearest-resizing ``size`` samples (PyTorch's rule)."""
    scale = np.float32(size) / np.float32(out)
    return np.minimum(np.floor(np.arange(out, dtype=np.float32) * scale).astype(np.int64), size - 1)


def cutouts(image: mge.Tensor, boxes: np.ndarray, resolution: int) -> mge.Tensor:
    """image (1, 3, S, S) -> crops (K, 3, R, R), each nearest-resized; one gather, differentiable."""
    s = image.shape[-1]
    flat = np.empty((len(boxes), resolution, resolution), np.int32)
    for k, (size, oy, ox) in enumerate(boxes):
        if not (0 < size and 0 <= oy <= s - size and 0 <= ox <= s - size):
            raise InvalidArgumentError(f"cutout box {tuple(int(b) for b in (size, oy, ox))} outside a {s}x{s} image")
        idx = nearest_indices(int(size), resolution)
        flat[k] = (oy + idx)[:, None] * s + (ox + idx)[None, :]
    pixels = image.reshape(3, s * s)[:, mge.Tensor(flat)]  # (3, K, R, R)
    return pixels.transpose(1, 0, 2, 3)


def differentiable_topk(x: mge.Tensor, k: int, temperature: float) -> mge.Tensor:
    """Sum of k one-hot rows weighted by successive softmax maxima of x / temperature."""
    total = None
    for i in range(k):
        p = F.softmax(x / temperature, axis=-1)
        onehot = F.one_hot(F.argmax(p, axis=-1), x.shape[-1]).astype("float32")
        picked = onehot * (p * onehot).sum(axis=-1, keepdims=True)
        total = picked if total is None else total + picked
        if i < k - 1:
            x = F.where(onehot > 0.5, F.full_like(x, -np.inf), x)
    return total


class Latents(M.Module):
    def __init__(self, num_latents: int, num_classes: int, z_dim: int, rng: np.random.Generator,
                 max_classes: int | None = None, class_temperature: float = 2.0) -> None:
        super().__init__()
        if max_classes is not None and not 0 < max_classes <= num_classes:
            raise InvalidArgumentError(f"max_classes must be in 1..{num_classes}, got {max_classes}")
        self.normu = mge.Parameter(rng.standard_normal((num_latents, z_dim)).astype(np.float32))
        self.cls = mge.Parameter(rng.normal(-3.9, 0.3, (num_latents, num_classes)).astype(np.float32))
        self.max_classes = max_classes
        self.class_temperature = class_temperature

    def forward(self) -> tuple[mge.Tensor, mge.Tensor]:
        if self.max_classes is not None:
            return self.normu, differentiable_topk(self.cls, self.max_classes, self.class_temperature)
        return self.normu, F.sigmoid(self.cls)


class LatentsEMA:
    """Bias-corrected exponential moving average of the latents (numpy copies)."""

    def __init__(self, latents: Latents, decay: float) -> None:
        self.latents, self.decay, self.accum = latents, decay, 1.0
        self.biased = {n: np.zeros(p.shape, np.float32) for n, p in latents.named_parameters()}
        self.average = dict(self.biased)
        self.update()

    def update(self) -> None:
        self.accum *= self.decay
        for name, param in self.latents.named_parameters():
            self.biased[name] = self.decay * self.biased[name] + (1 - self.decay) * param.numpy()
            self.average[name] = self.biased[name] / (1 - self.accum)


def latent_loss(latents: mge.Tensor) -> mge.Tensor:
    """The reference's regulariser keeping each latent row close to N(0, 1)."""
    n, d = latents.shape
    mean = latents.mean(axis=1, keepdims=True)
    diffs = latents - mean
    std_unbiased = F.sqrt((diffs**2).sum(axis=1) / (d - 1))
    loss = F.abs(1 - std_unbiased).mean() + F.abs(mean).mean() + 4 * F.maximum((latents**2).mean(), mge.Tensor(1.0))
    zscores = diffs / F.sqrt((diffs**2).mean(axis=1, keepdims=True))
    skews = (zscores**3).mean(axis=1)
    kurtoses = (zscores**4).mean(axis=1) - 3.0
    return loss + (F.abs(kurtoses) / n + F.abs(skews) / n).sum()


def class_loss(classes: mge.Tensor) -> mge.Tensor:
    """Pushes all but the largest class weight of each row towards 0."""
    smallest, _ = F.topk(classes, classes.shape[1] - 1, descending=False)
    return ((50 * smallest) ** 2).mean()


def cosine_similarity(a: mge.Tensor, b: mge.Tensor, eps: float = 1e-8) -> mge.Tensor:
    """Row-wise cosine of broadcastable (.., D) tensors."""
    na = F.maximum(F.sqrt((a * a).sum(axis=-1)), mge.Tensor(eps))
    nb = F.maximum(F.sqrt((b * b).sum(axis=-1)), mge.Tensor(eps))
    return (a * b).sum(axis=-1) / (na * nb)


class BigSleep:
    """Latents + Adam + EMA around a frozen BigGAN and image encoder; ``step`` is one update."""

    def __init__(self, biggan: BigGAN, perceptor: ImageEncoder, config: BigSleepConfig | None = None,
                 seed: int = 0) -> None:
        self.config = config or BigSleepConfig()
        self.biggan, self.perceptor = biggan, perceptor
        self.rng = np.random.default_rng(seed)
        gan = biggan.config
        self.latents = Latents(len(gan.layers) + 1, gan.num_classes, gan.z_dim, self.rng,
                               self.config.max_classes, self.config.class_temperature)
        self.ema = LatentsEMA(self.latents, self.config.ema_decay)
        self.gm = GradManager().attach(self.latents.parameters())
        self.optimizer = optim.Adam(self.latents.parameters(), lr=self.config.lr)

    def set_latents(self, normu: np.ndarray, cls: np.ndarray) -> None:
        """Replace the latents (shapes (L+1, z_dim), (L+1, num_classes)); restarts Adam and the EMA."""
        for name, value in (("normu", normu), ("cls", cls)):
            param = getattr(self.latents, name)
            value = np.asarray(value, np.float32)
            if value.shape != tuple(param.shape):
                raise InvalidArgumentError(f"{name} must have shape {tuple(param.shape)}, got {value.shape}")
            param._reset(mge.Tensor(value))
        self.ema = LatentsEMA(self.latents, self.config.ema_decay)
        self.optimizer = optim.Adam(self.latents.parameters(), lr=self.config.lr)

    def image(self, normu: mge.Tensor, classes: mge.Tensor) -> mge.Tensor:
        """(1, 3, S, S) in [0, 1]."""
        return (self.biggan.forward_layerwise(normu, classes, 1.0) + 1) / 2

    def losses(self, text_embeds: Sequence[np.ndarray], text_min_embeds: Sequence[np.ndarray] = (),
               boxes: np.ndarray | None = None) -> tuple[mge.Tensor, tuple[mge.Tensor, mge.Tensor, mge.Tensor]]:
        """Image and (lat_loss, cls_loss, sim_loss); text embeds (1, D) or (D,); boxes from ``cutout_boxes``."""
        normu, classes = self.latents()
        out = self.image(normu, classes)
        if boxes is None:
            boxes = cutout_boxes(self.rng, out.shape[-1], self.config.num_cutouts, self.config.center_bias,
                                 self.config.center_focus)
        into = cutouts(out, boxes, self.config.input_resolution)
        into = (into - CLIP_MEAN.reshape(1, 3, 1, 1)) / CLIP_STD.reshape(1, 3, 1, 1)
        image_embed = self.perceptor.encode_image(into)
        sims = [-self.config.loss_coef * cosine_similarity(mge.Tensor(t).reshape(1, -1), image_embed).mean()
                for t in text_embeds]
        sims += [self.config.loss_coef * cosine_similarity(mge.Tensor(t).reshape(1, -1), image_embed).mean()
                 for t in text_min_embeds]
        if not sims:
            raise InvalidArgumentError("BigSleep needs at least one text embedding")
        return out, (latent_loss(normu), class_loss(classes), sum(sims[1:], sims[0]))

    def loss_and_grads(self, text_embeds: Sequence[np.ndarray], text_min_embeds: Sequence[np.ndarray] = (),
                       boxes: np.ndarray | None = None) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """One forward + backward without updating: loss parts and d(total)/d(normu, cls)."""
        self.optimizer.clear_grad()
        with self.gm:
            _, (lat, cls, sim) = self.losses(text_embeds, text_min_embeds, boxes)
            total = lat + cls + sim
            self.gm.backward(total)
        parts = {"lat_loss": lat.item(), "cls_loss": cls.item(), "sim_loss": sim.item(), "loss": total.item()}
        return parts, {n: p.grad.numpy().copy() for n, p in self.latents.named_parameters()}

    def step(self, text_embeds: Sequence[np.ndarray], text_min_embeds: Sequence[np.ndarray] = (),
             boxes: np.ndarray | None = None) -> dict[str, float]:
        """Adam step on the latents, then the EMA update; returns the loss parts before the step."""
        parts, _ = self.loss_and_grads(text_embeds, text_min_embeds, boxes)
        self.optimizer.step().clear_grad()
        self.ema.update()
        return parts

    def ema_image(self) -> np.ndarray:
        """Snapshot from the averaged latents: float32 (3, S, S) in [0, 1]."""
        avg = self.ema.average
        classes = mge.Tensor(avg["cls"])
        if self.config.max_classes is not None:
            classes = differentiable_topk(classes, self.config.max_classes, self.config.class_temperature)
        else:
            classes = F.sigmoid(classes)
        return self.image(mge.Tensor(avg["normu"]), classes).numpy()[0]
