"""VQGAN (taming-transformers) on MegEngine: quantizers, ``VQModel``, ``GumbelVQ``, ``from_state_dict``.

Semantics follow taming's ``VQModel``: ``encode(x) -> (quant, emb_loss, info)`` with
``info = (perplexity, min_encodings, indices)``, ``decode(quant)``, ``decode_code(codes)``,
``forward(x) -> (dec, diff)``. Images are float32 NCHW in [-1, 1].
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import megengine as mge
import megengine.functional as F
import megengine.module as M
import numpy as np

from megforge.errors import CheckpointError, InvalidArgumentError
from megforge.models._torchlike import Conv2d, Embedding, load_parameters, require
from megforge.models.vqgan_blocks import Decoder, Encoder

# Parts of a taming checkpoint that only training uses (LPIPS + discriminator).
TRAINING_ONLY_PREFIXES = ("loss.",)


class VectorQuantizer(M.Module):
    """Nearest-codebook-entry quantizer (taming's ``VectorQuantizer2``; beta is loss-only).

    ``forward(z)``: z ``(B, e_dim, H, W)`` -> ``(z_q, loss, (None, None, indices))`` where
    indices is int32 ``(B*H*W,)``, or ``(B, H, W)`` with ``sane_index_shape``.
    """

    def __init__(self, n_e: int, e_dim: int, beta: float = 0.25, sane_index_shape: bool = False) -> None:
        super().__init__()
        self.n_e, self.e_dim, self.beta = n_e, e_dim, beta
        self.sane_index_shape = sane_index_shape
        self.embedding = Embedding(n_e, e_dim)

    def forward(self, z: mge.Tensor) -> tuple[mge.Tensor, mge.Tensor, tuple[None, None, mge.Tensor]]:
        b, c, h, w = z.shape
        z = z.transpose(0, 2, 3, 1)               # (b, h, w, c)
        z_flat = z.reshape(-1, self.e_dim)        # (b*h*w, c)
        e = self.embedding.weight                 # (n_e, c)
        # squared distances |z|^2 + |e|^2 - 2 z.e, shape (b*h*w, n_e)
        d = (F.sum(z_flat ** 2, axis=1, keepdims=True) + F.sum(e ** 2, axis=1)
             - 2 * F.matmul(z_flat, e, transpose_b=True))
        indices = F.argmin(d, axis=1)
        z_q = self.embedding(indices).reshape(b, h, w, c)
        loss = (1 + self.beta) * F.mean((z_q - z) ** 2)
        z_q = z_q.transpose(0, 3, 1, 2)            # (b, c, h, w)
        if self.sane_index_shape:
            indices = indices.reshape(b, h, w)
        return z_q, loss, (None, None, indices)

    def get_codebook_entry(self, indices: mge.Tensor, shape: tuple[int, int, int, int] | None) -> mge.Tensor:
        """indices ``(B*H*W,)`` -> ``(B, C, H, W)`` given shape ``(B, H, W, C)`` (else ``(B*H*W, C)``)."""
        z_q = self.embedding(indices.reshape(-1))
        if shape is None:
            return z_q
        return z_q.reshape(*shape).transpose(0, 3, 1, 2)


class GumbelQuantize(M.Module):
    """Gumbel-softmax quantizer: ``proj`` 1x1 conv to logits, ``embed`` codebook.

    In eval mode the sample is hard: ``indices = argmax(logits + g)`` with Gumbel noise g, as in
    taming. ``gumbel_noise`` (same shape as the logits, ``(B, n_embed, H, W)``) fixes g; by default
    it is drawn from MegEngine's RNG (``megengine.random.seed``). Returns ``(z_q, diff, (None, None,
    indices (B, H, W)))`` and the logits too when ``return_logits``.
    """

    def __init__(self, num_hiddens: int, embedding_dim: int, n_embed: int,
                 kl_weight: float = 5e-4, temp_init: float = 1.0) -> None:
        super().__init__()
        self.embedding_dim, self.n_embed = embedding_dim, n_embed
        self.kl_weight, self.temperature = kl_weight, temp_init
        self.proj = Conv2d(num_hiddens, n_embed, 1)
        self.embed = Embedding(n_embed, embedding_dim)

    def forward(self, z: mge.Tensor, temp: float | None = None, return_logits: bool = False,
                gumbel_noise: np.ndarray | mge.Tensor | None = None) -> tuple[Any, ...]:
        logits = self.proj(z)                       # (b, n_embed, h, w)
        if gumbel_noise is None:
            u = mge.random.uniform(0.0, 1.0, size=logits.shape)
            gumbel_noise = -F.log(-F.log(F.clip(u, 1e-20, 1.0)) + 1e-20)
        elif tuple(np.shape(gumbel_noise)) != tuple(logits.shape):
            raise InvalidArgumentError(
                f"gumbel_noise has shape {tuple(np.shape(gumbel_noise))}, expected {tuple(logits.shape)}")
        # a positive temperature does not move the argmax, and eval mode samples hard
        indices = F.argmax(logits + mge.tensor(gumbel_noise), axis=1)      # (b, h, w)
        z_q = self.embed(indices).transpose(0, 3, 1, 2)                 # (b, d, h, w)
        qy = F.softmax(logits, axis=1)
        diff = self.kl_weight * F.mean(F.sum(qy * F.log(qy * self.n_embed + 1e-10), axis=1))
        if return_logits:
            return z_q, diff, (None, None, indices), logits
        return z_q, diff, (None, None, indices)

    def get_codebook_entry(self, indices: mge.Tensor, shape: tuple[int, int, int, int]) -> mge.Tensor:
        """indices ``(B*H*W,)`` -> ``(B, embedding_dim, H, W)`` given shape ``(B, H, W, C)``."""
        b, h, w, _ = shape
        return self.embed(indices.reshape(b, h, w)).transpose(0, 3, 1, 2)


class VQModel(M.Module):
    """taming ``VQModel`` for inference: encoder -> quant_conv -> quantize -> post_quant_conv -> decoder."""

    def __init__(self, ddconfig: Mapping[str, Any], n_embed: int, embed_dim: int,
                 sane_index_shape: bool = False, **ignore: Any) -> None:
        super().__init__()
        self.encoder = Encoder(**ddconfig)
        self.decoder = Decoder(**ddconfig)
        self.quantize: M.Module = VectorQuantizer(n_embed, embed_dim, beta=0.25,
                                                  sane_index_shape=sane_index_shape)
        self.quant_conv = Conv2d(ddconfig["z_channels"], embed_dim, 1)
        self.post_quant_conv = Conv2d(embed_dim, ddconfig["z_channels"], 1)

    def encode(self, x: mge.Tensor) -> tuple[Any, ...]:
        return self.quantize(self.quant_conv(self.encoder(x)))

    def decode(self, quant: mge.Tensor) -> mge.Tensor:
        return self.decoder(self.post_quant_conv(quant))

    def decode_code(self, code_b: mge.Tensor | np.ndarray) -> mge.Tensor:
        """Codebook indices ``(B, H, W)`` -> image ``(B, out_ch, H*f, W*f)``."""
        code_b = mge.tensor(np.asarray(code_b, dtype=np.int32)) if isinstance(code_b, np.ndarray) else code_b
        if code_b.ndim != 3:
            raise InvalidArgumentError(f"codes must be (B, H, W), got shape {tuple(code_b.shape)}")
        b, h, w = code_b.shape
        n = self.quantize.embed.weight.shape[0] if isinstance(self.quantize, GumbelQuantize) else self.quantize.n_e
        codes = code_b.numpy()
        if codes.size and (codes.min() < 0 or codes.max() >= n):
            raise InvalidArgumentError(f"codes must lie in [0, {n}), got range [{codes.min()}, {codes.max()}]")
        embed_dim = self.quant_conv.weight.shape[0]
        return self.decode(self.quantize.get_codebook_entry(code_b.reshape(-1), (b, h, w, embed_dim)))

    def forward(self, input: mge.Tensor) -> tuple[mge.Tensor, mge.Tensor]:
        quant, diff, _ = self.encode(input)
        return self.decode(quant), diff


class GumbelVQ(VQModel):
    """taming ``GumbelVQ``: the quantizer is :class:`GumbelQuantize` over ``z_channels`` features."""

    def __init__(self, ddconfig: Mapping[str, Any], n_embed: int, embed_dim: int,
                 kl_weight: float = 1e-8, **ignore: Any) -> None:
        super().__init__(ddconfig, n_embed, embed_dim)
        self.quantize = GumbelQuantize(ddconfig["z_channels"], embed_dim, n_embed,
                                       kl_weight=kl_weight, temp_init=1.0)

    def encode_to_prequant(self, x: mge.Tensor) -> mge.Tensor:
        return self.quant_conv(self.encoder(x))


def _count(keys: list[str], pattern: str) -> int:
    found = {int(m.group(1)) for k in keys if (m := re.match(pattern, k))}
    return max(found) + 1 if found else 0


def infer_config(state_dict: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """taming model params (``ddconfig``, ``n_embed``, ``embed_dim``) read off tensor shapes."""
    what = "vqgan"
    keys = list(state_dict)
    conv_in = require(state_dict, "encoder.conv_in.weight", what)
    ch, in_channels = int(conv_in.shape[0]), int(conv_in.shape[1])
    num_resolutions = _count(keys, r"encoder\.down\.(\d+)\.")
    num_res_blocks = _count(keys, r"encoder\.down\.0\.block\.(\d+)\.")
    if num_resolutions == 0 or num_res_blocks == 0:
        raise CheckpointError(f"{what}: missing key 'encoder.down.0.block.0.conv1.weight' in state dict")
    ch_mult = [int(require(state_dict, f"encoder.down.{i}.block.0.conv1.weight", what).shape[0]) // ch
               for i in range(num_resolutions)]
    resolution = 16 * 2 ** (num_resolutions - 1)   # only its ratio to attn_resolutions matters
    attn_resolutions = [resolution >> i for i in range(num_resolutions)
                        if f"encoder.down.{i}.attn.0.q.weight" in state_dict]
    z_channels = int(require(state_dict, "decoder.conv_in.weight", what).shape[1])
    enc_out = int(require(state_dict, "encoder.conv_out.weight", what).shape[0])
    ddconfig = dict(
        ch=ch, in_channels=in_channels, ch_mult=ch_mult, num_res_blocks=num_res_blocks,
        attn_resolutions=attn_resolutions, resolution=resolution, z_channels=z_channels,
        double_z=enc_out == 2 * z_channels, dropout=0.0,
        out_ch=int(require(state_dict, "decoder.conv_out.weight", what).shape[0]),
        resamp_with_conv=num_resolutions == 1 or "encoder.down.0.downsample.conv.weight" in state_dict)
    embed_dim = int(require(state_dict, "quant_conv.weight", what).shape[0])
    codebook = "quantize.embed.weight" if "quantize.embed.weight" in state_dict else "quantize.embedding.weight"
    n_embed = int(require(state_dict, codebook, what).shape[0])
    return {"ddconfig": ddconfig, "n_embed": n_embed, "embed_dim": embed_dim}


def _model_params(config: Mapping[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    """Accept taming's model params, or a whole taming YAML config (``model: {target, params}``)."""
    if config is None:
        return {}, None
    if not isinstance(config, Mapping):
        raise InvalidArgumentError(f"config must be a mapping, got {type(config).__name__}")
    target = None
    if "model" in config:
        model = config["model"]
        target = model.get("target") if isinstance(model, Mapping) else None
        config = model.get("params", {}) if isinstance(model, Mapping) else {}
    return dict(config), target


def build(state_dict: Mapping[str, np.ndarray], config: Mapping[str, Any] | None = None) -> VQModel:
    """An unloaded :class:`VQModel` / :class:`GumbelVQ` shaped for ``state_dict`` (see :func:`from_state_dict`)."""
    params, target = _model_params(config)
    inferred = infer_config(state_dict)
    ddconfig = {**inferred["ddconfig"], **dict(params.get("ddconfig") or {})}
    kwargs = {**inferred, **params, "ddconfig": ddconfig}
    kwargs.pop("lossconfig", None)
    gumbel = "quantize.embed.weight" in state_dict or (target or "").endswith("GumbelVQ")
    try:
        return GumbelVQ(**kwargs) if gumbel else VQModel(**kwargs)
    except (TypeError, KeyError, ZeroDivisionError) as exc:
        raise InvalidArgumentError(f"vqgan: config does not fit the checkpoint: {exc}") from exc


def from_state_dict(state_dict: Mapping[str, np.ndarray], config: Mapping[str, Any] | None = None) -> VQModel:
    """Build a :class:`VQModel` (or :class:`GumbelVQ`) from taming's state dict (numpy arrays).

    ``config`` (optional) is taming's model params (``ddconfig``, ``n_embed``, ``embed_dim``,
    ``kl_weight``, ...) or a whole taming YAML config; shapes determine everything else.
    ``loss.*`` keys (LPIPS, discriminator) are ignored.
    """
    model = build(state_dict, config)
    return load_parameters(model, state_dict, ignore_prefixes=TRAINING_ONLY_PREFIXES, what="vqgan")


def load(path: str | Path, config: Mapping[str, Any] | None = None) -> VQModel:
    """A VQGAN from a taming Lightning ``.ckpt`` (only its ``state_dict`` is used) or a state-dict file."""
    from megforge.models._files import read_checkpoint

    state_dict, _ = read_checkpoint(path, entry="state_dict")
    return from_state_dict(state_dict, config)
