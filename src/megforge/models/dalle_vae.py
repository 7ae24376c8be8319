"""The VAEs a dalle-pytorch DALLE decodes through, as dalle-pytorch wraps them, and dVAE files.

``OpenAIDiscreteVAE`` holds OpenAI's dVAE (``enc``/``dec``, keys ``vae.enc.*``/``vae.dec.*`` in
a DALLE state dict); ``VQGanVAE`` holds a taming VQGAN (``model``, keys ``vae.model.*``).
Both map images ``(b, 3, H, W)`` in [0, 1] to codes ``(b, h*w)`` and back.
OpenAI's released ``encoder.pkl``/``decoder.pkl`` are pickled whole modules: they are read
torch-free by :func:`load_dvae_encoder` / :func:`load_dvae_decoder`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import megengine as mge
import megengine.functional as F
import megengine.module as M
import numpy as np

from megforge.errors import CheckpointError, InvalidArgumentError
from megforge.models import dvae, vqgan
from megforge.models.dvae import dvae_decoder_from_state_dict, dvae_encoder_from_state_dict

# module prefixes of the classes pickled in OpenAI's dVAE files (torch.nn containers, dall_e blocks)
DVAE_PICKLE_MODULES = ("torch.nn", "dall_e")


class OpenAIDiscreteVAE(M.Module):
    """dalle-pytorch's wrapper of OpenAI's dVAE: ``enc`` / ``dec`` are dall_e Encoder / Decoder."""

    channels, num_layers = 3, 3

    def __init__(self, enc: dvae.Encoder, dec: dvae.Decoder, image_size: int = 256) -> None:
        super().__init__()
        self.enc, self.dec = enc, dec
        self.image_size, self.num_tokens = image_size, dec.vocab_size

    def get_codebook_indices(self, img: mge.Tensor) -> mge.Tensor:
        """img ``(b, 3, H, W)`` in [0, 1] -> codes ``(b, H/8 * W/8)``."""
        logits = self.enc(dvae.map_pixels(img))
        return F.argmax(logits, axis=1).reshape(img.shape[0], -1)

    def decode(self, img_seq: mge.Tensor) -> mge.Tensor:
        """codes ``(b, n)`` (n a square) -> image ``(b, 3, 8*sqrt(n), 8*sqrt(n))`` in [0, 1]."""
        b, n = img_seq.shape
        side = math.isqrt(n)
        z = F.one_hot(img_seq.reshape(b, side, side), self.num_tokens)     # (b, h, w, vocab)
        stats = self.dec(z.astype(np.float32).transpose(0, 3, 1, 2))
        return dvae.unmap_pixels(F.sigmoid(stats[:, :3]))

    def forward(self, img: mge.Tensor) -> mge.Tensor:
        raise InvalidArgumentError("a DALL-E VAE has no forward; call get_codebook_indices or decode")


class VQGanVAE(M.Module):
    """dalle-pytorch's wrapper of a taming VQGAN (``model``)."""

    channels = 3

    def __init__(self, model: vqgan.VQModel, image_size: int = 256) -> None:
        super().__init__()
        self.model = model
        self.num_layers = model.encoder.num_resolutions - 1
        self.is_gumbel = isinstance(model, vqgan.GumbelVQ)
        self.image_size, self.num_tokens = image_size, self.codebook.weight.shape[0]

    @property
    def codebook(self) -> M.Module:
        """The quantizer's embedding table ``(num_tokens, embed_dim)``."""
        return self.model.quantize.embed if self.is_gumbel else self.model.quantize.embedding

    def get_codebook_indices(self, img: mge.Tensor) -> mge.Tensor:
        _, _, (_, _, indices) = self.model.encode(2 * img - 1)
        return indices.reshape(img.shape[0], -1)

    def decode(self, img_seq: mge.Tensor) -> mge.Tensor:
        b, n = img_seq.shape
        side = math.isqrt(n)
        z = self.codebook(img_seq).reshape(b, side, side, -1).transpose(0, 3, 1, 2)   # (b, c, h, w)
        return (F.clip(self.model.decode(z), -1.0, 1.0) + 1) * 0.5

    def forward(self, img: mge.Tensor) -> mge.Tensor:
        raise InvalidArgumentError("a DALL-E VAE has no forward; call get_codebook_indices or decode")


def _sub(state_dict: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


# parts of a VQGAN inside a DALLE state dict that only training uses
VAE_TRAINING_ONLY_PREFIXES = tuple("vae.model." + p for p in vqgan.TRAINING_ONLY_PREFIXES)


def build_vae(state_dict: Mapping[str, np.ndarray], config: Mapping[str, Any] | None = None) -> M.Module:
    """The (unloaded) VAE a DALLE state dict holds under ``vae.``: OpenAI dVAE or a taming VQGAN.

    ``config`` is a taming config for a VQGAN. The caller sets ``image_size`` (the token grid
    side times ``2 ** num_layers``).
    """
    if any(k.startswith("vae.enc.") for k in state_dict):
        enc = dvae.Encoder(**dvae.encoder_kwargs(_sub(state_dict, "vae.enc.")))
        dec = dvae.Decoder(**dvae.decoder_kwargs(_sub(state_dict, "vae.dec.")))
        return OpenAIDiscreteVAE(enc, dec)
    if any(k.startswith("vae.model.") for k in state_dict):
        return VQGanVAE(vqgan.build(_sub(state_dict, "vae.model."), config))
    if any(k.startswith("vae.") for k in state_dict):
        key = next(k for k in state_dict if k.startswith("vae."))
        raise CheckpointError(f"dalle: VAE key {key!r} is not an OpenAI dVAE (vae.enc/vae.dec) or taming "
                              f"VQGAN (vae.model); dalle-pytorch's own DiscreteVAE is not supported")
    raise CheckpointError("dalle: missing key 'vae.enc.blocks.input.w' (no VAE in the state dict)")


def load_dvae_encoder(path: str | Path) -> dvae.Encoder:
    """OpenAI's ``encoder.pkl`` (a pickled whole module) or an Encoder state-dict file."""
    from megforge.models._files import read_checkpoint

    state_dict, _ = read_checkpoint(path, placeholders=DVAE_PICKLE_MODULES)
    return dvae_encoder_from_state_dict(state_dict)


def load_dvae_decoder(path: str | Path) -> dvae.Decoder:
    """OpenAI's ``decoder.pkl`` (a pickled whole module) or a Decoder state-dict file."""
    from megforge.models._files import read_checkpoint

    state_dict, _ = read_checkpoint(path, placeholders=DVAE_PICKLE_MODULES)
    return dvae_decoder_from_state_dict(state_dict)
