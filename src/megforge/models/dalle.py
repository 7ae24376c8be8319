"""DALL-E on MegEngine: dalle-pytorch's ``DALLE`` (text -> image tokens) decoding through a VAE.

``from_state_dict`` reads dalle-pytorch ``DALLE.state_dict()`` keys, including the VAE it holds
(``vae.enc.*``/``vae.dec.*`` for OpenAI's dVAE, ``vae.model.*`` for a taming VQGAN). Text is
int ``(batch, text_seq_len)`` BPE ids with 0 as padding; image tokens are int
``(batch, image_seq_len)`` codebook ids in raster order; images are float32 ``(batch, 3, H, W)``
in [0, 1]. OpenAI's dVAE Encoder/Decoder live in :mod:`megforge.models.dvae` and are re-exported.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable, Mapping

import megengine as mge
import megengine.functional as F
import megengine.module as M
import numpy as np

from megforge.errors import CheckpointError, InvalidArgumentError
from megforge.models._torchlike import Embedding, LayerNorm, Linear, load_parameters, materialize
from megforge.models.dalle_transformer import MAX_NEG, Transformer
from megforge.models.dalle_vae import (VAE_TRAINING_ONLY_PREFIXES, OpenAIDiscreteVAE, VQGanVAE, build_vae,
                                       load_dvae_decoder, load_dvae_encoder)
from megforge.models.dvae import dvae_decoder_from_state_dict, dvae_encoder_from_state_dict

__all__ = ["DALLE", "OpenAIDiscreteVAE", "VQGanVAE", "dvae_decoder_from_state_dict", "dvae_encoder_from_state_dict",
           "from_state_dict", "load", "load_dvae_decoder", "load_dvae_encoder", "tokenize", "top_k"]


class AxialPositionalEmbedding(M.Module):
    """Summed axial embedding: position (h, w) gets ``weights.0[h] + weights.1[w]``."""

    def __init__(self, dim: int, fmap: int) -> None:
        super().__init__()
        self.fmap = fmap
        self.weights = [mge.Parameter(np.zeros((1, fmap, 1, dim), np.float32)),
                        mge.Parameter(np.zeros((1, 1, fmap, dim), np.float32))]

    def forward(self, n: int) -> mge.Tensor:
        table = (self.weights[0] + self.weights[1]).reshape(1, self.fmap ** 2, -1)   # (1, h*w, dim)
        return materialize(table[:, :n])


def top_k(logits: np.ndarray, thres: float = 0.5) -> np.ndarray:
    """Keep the ``max(int((1 - thres) * num_logits), 1)`` largest logits per row; others -> -inf."""
    k = max(int((1 - thres) * logits.shape[-1]), 1)
    keep = np.argpartition(-logits, k - 1, axis=-1)[:, :k]
    out = np.full_like(logits, -np.inf)
    np.put_along_axis(out, keep, np.take_along_axis(logits, keep, axis=-1), axis=-1)
    return out


def gumbel_sample(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """argmax(logits / temperature + Gumbel noise) per row."""
    u = rng.random(logits.shape)
    noise = -np.log(np.maximum(-np.log(np.maximum(u, 1e-20)), 1e-20))
    return np.argmax(logits / temperature + noise, axis=-1)


class DALLE(M.Module):
    """dalle-pytorch ``DALLE`` for inference: ``forward(text, image=None) -> logits``, ``generate_images``."""

    def __init__(self, *, dim: int, vae: M.Module, num_text_tokens: int = 10000, text_seq_len: int = 256,
                 depth: int, heads: int = 8, dim_head: int = 64, stable: bool = False,
                 sandwich_norm: bool = False, shift_tokens: bool = True, rotary_emb: bool = True,
                 share_input_output_emb: bool = False, image_fmap_size: int | None = None,
                 **ignore: Any) -> None:
        super().__init__()
        self.vae = vae
        if image_fmap_size is None:   # as dalle-pytorch: the VAE's image size over its downsampling
            image_fmap_size = vae.image_size // 2 ** vae.num_layers
        self.num_text_tokens = num_text_tokens + text_seq_len   # unique padding id per position
        self.num_image_tokens = vae.num_tokens
        self.text_seq_len, self.image_seq_len = text_seq_len, image_fmap_size ** 2
        self.total_tokens = self.num_text_tokens + self.num_image_tokens
        self.total_seq_len = text_seq_len + self.image_seq_len
        self.stable, self.shared_emb = stable, share_input_output_emb
        self.text_pos_emb = None if rotary_emb else Embedding(text_seq_len + 1, dim)
        self.image_pos_emb = None if rotary_emb else AxialPositionalEmbedding(dim, image_fmap_size)
        rotary = None
        if rotary_emb:
            rotary = 3 * 2 * ((dim_head // 3) // 2)   # text angles + two image axes, per head
        self.transformer = Transformer(dim=dim, depth=depth, seq_len=self.total_seq_len, heads=heads,
                                       dim_head=dim_head, image_fmap_size=image_fmap_size, stable=stable,
                                       sandwich_norm=sandwich_norm, shift_tokens=shift_tokens, rotary_dim=rotary)
        self.to_logits = [LayerNorm(dim), Linear(dim, self.total_tokens)]
        self.text_emb = None if share_input_output_emb else Embedding(self.num_text_tokens, dim)
        self.image_emb = None if share_input_output_emb else Embedding(self.num_image_tokens, dim)
        seq = np.arange(self.total_seq_len)[:, None]
        tok = np.arange(self.total_tokens)[None, :]
        # text positions may only predict text tokens, image positions only image tokens
        self.logits_mask = ((seq >= text_seq_len) & (tok < self.num_text_tokens)) | \
                           ((seq < text_seq_len) & (tok >= self.num_text_tokens))   # (seq, tokens)

    def _embed(self, ids: np.ndarray, image: bool) -> mge.Tensor:
        table = self.image_emb if image else self.text_emb
        if table is not None:
            return table(mge.tensor(ids.astype(np.int32)))
        rows = self.to_logits[1].weight
        start = self.num_text_tokens if image else 0
        return rows[mge.tensor(ids.reshape(-1).astype(np.int32) + start)].reshape(*ids.shape, -1)

    def forward(self, text: Any, image: Any = None, return_loss: bool = False,
                null_cond_prob: float = 0.0, cache: dict | None = None,
                rng: np.random.Generator | None = None) -> mge.Tensor:
        """text int ``(b, text_seq_len)``; image codes ``(b, m)`` or pixels ``(b, 3, H, W)`` -> logits
        ``(b, n, total_tokens)`` with forbidden entries at -float32 max (n = text_seq_len + 1 + m,
        capped at ``total_seq_len``). With ``cache`` (a dict, empty at first) only the positions
        from ``cache["offset"]`` on are computed and returned, reusing earlier keys/values."""
        if return_loss:
            raise InvalidArgumentError("return_loss=True (training) is not supported; use the logits")
        text = self.check_text(text)
        b = text.shape[0]
        if null_cond_prob > 0:
            drop = (rng or np.random.default_rng()).random(b) < null_cond_prob
            text = text * ~drop[:, None]
        pad_ids = np.arange(self.text_seq_len) + (self.num_text_tokens - self.text_seq_len)
        text = np.where(text == 0, pad_ids[None], text)
        text = np.concatenate([np.zeros((b, 1), text.dtype), text], axis=1)          # <bos>
        tokens = self._embed(text, image=False)                                       # (b, t+1, dim)
        if self.text_pos_emb is not None:
            tokens = tokens + self.text_pos_emb(mge.tensor(np.arange(text.shape[1], dtype=np.int32)))
        if image is not None:
            image = self._image_codes(image, b)
            if image.shape[1]:
                image_emb = self._embed(image, image=True)
                if self.image_pos_emb is not None:
                    image_emb = image_emb + self.image_pos_emb(image.shape[1])
                tokens = F.concat([tokens, image_emb], axis=1)
        if tokens.shape[1] > self.total_seq_len:
            tokens = materialize(tokens[:, :-1])
        offset = cache.get("offset", 0) if cache is not None else 0
        if offset:
            tokens = materialize(tokens[:, offset:])
        out = self.transformer(tokens, cache=cache)
        if self.stable:
            out = out / F.max(out, axis=-1, keepdims=True)
        logits = self.to_logits[1](self.to_logits[0](out))
        rows = self.logits_mask[None, offset:offset + logits.shape[1]]
        if cache is not None:
            cache["offset"] = offset + logits.shape[1]
        return F.where(F.broadcast_to(mge.tensor(rows), logits.shape), F.full(logits.shape, MAX_NEG), logits)

    def check_text(self, text: Any) -> np.ndarray:
        """Checked text ids ``(b, text_seq_len)`` as a numpy integer array."""
        text = np.array(text.numpy() if isinstance(text, mge.Tensor) else text)
        if text.ndim != 2 or text.shape[-1] != self.text_seq_len or not np.issubdtype(text.dtype, np.integer):
            raise InvalidArgumentError(f"text must be integer ids of shape (batch, {self.text_seq_len}), "
                                       f"got {text.dtype} {text.shape}")
        vocab = self.num_text_tokens - self.text_seq_len
        if text.size and (text.min() < 0 or text.max() >= vocab):
            raise InvalidArgumentError(f"text ids must lie in [0, {vocab}) (the model's num_text_tokens), "
                                       f"got ids in [{text.min()}, {text.max()}]")
        return text

    def _image_codes(self, image: Any, batch: int) -> np.ndarray:
        if isinstance(image, mge.Tensor):
            image = image.numpy()
        image = np.asarray(image)
        if image.ndim == 4:
            size = self.vae.image_size
            if image.shape[1:] != (3, size, size):
                raise InvalidArgumentError(f"image must be (batch, 3, {size}, {size}), got {image.shape}")
            image = self.vae.get_codebook_indices(mge.tensor(image.astype(np.float32))).numpy()
        if image.ndim != 2 or image.shape[0] != batch or not np.issubdtype(image.dtype, np.integer):
            raise InvalidArgumentError(f"image codes must be integer (batch={batch}, n), got {image.dtype} {image.shape}")
        if image.size and (image.min() < 0 or image.max() >= self.num_image_tokens):
            raise InvalidArgumentError(f"image codes must lie in [0, {self.num_image_tokens})")
        return image

    def generate_image_tokens(self, text: Any, *, filter_thres: float = 0.5, temperature: float = 1.0,
                              img: Any = None, num_init_img_tokens: int | None = None, cond_scale: float = 1.0,
                              use_cache: bool = False, seed: int | None = None,
                              progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Sample image codes ``(b, image_seq_len)`` one token at a time (top-k + Gumbel sampling).

        ``filter_thres`` close to 1 keeps one logit: greedy decoding. ``progress(1)`` is called
        once per token. ``seed`` seeds the Gumbel noise (numpy's PCG64). ``use_cache`` keeps keys and
        values between steps (one new token per step instead of the whole sequence; same result).
        """
        if not 0.0 <= filter_thres <= 1.0 or temperature <= 0:
            raise InvalidArgumentError(f"need 0 <= filter_thres <= 1 and temperature > 0, "
                                       f"got {filter_thres}, {temperature}")
        rng = np.random.default_rng(seed)
        text = np.array(text.numpy() if isinstance(text, mge.Tensor) else text)
        out = text = self.check_text(text[:, :self.text_seq_len] if text.ndim == 2 else text)
        if img is not None:
            codes = self._image_codes(img, text.shape[0])
            n_init = num_init_img_tokens if num_init_img_tokens is not None else int(0.4375 * self.image_seq_len)
            if not 0 <= n_init < self.image_seq_len:
                raise InvalidArgumentError(f"num_init_img_tokens must lie in [0, {self.image_seq_len})")
            out = np.concatenate([out, codes[:, :n_init]], axis=1)
        caches = ({}, {}) if use_cache else (None, None)
        for cur_len in range(out.shape[1], self.total_seq_len):
            logits = self._cond_logits(out, cond_scale, caches)
            sample = gumbel_sample(top_k(logits, filter_thres), temperature, rng)
            if cur_len >= self.text_seq_len:
                sample = sample - self.num_text_tokens
            out = np.concatenate([out, sample[:, None].astype(out.dtype)], axis=1)
            if progress is not None:
                progress(1)
        return out[:, -self.image_seq_len:]

    def forward_with_cond_scale(self, text: Any, image: Any = None, *, cond_scale: float = 1.0,
                                cache: dict | None = None, null_cache: dict | None = None) -> mge.Tensor:
        """Classifier-free guidance: ``null + (logits - null) * cond_scale``, where ``null`` are the
        logits with the text dropped. ``null_cache`` keeps the text-free pass's cache (the
        reference copies ``cache`` instead)."""
        logits = self(text, image, cache=cache)
        if cond_scale == 1:
            return logits
        null = self(text, image, null_cond_prob=1.0, cache=null_cache)
        return null + (logits - null) * cond_scale

    def _cond_logits(self, out: np.ndarray, cond_scale: float,
                     caches: tuple[dict | None, dict | None]) -> np.ndarray:
        text, image = out[:, :self.text_seq_len], out[:, self.text_seq_len:]
        logits = self.forward_with_cond_scale(text, image, cond_scale=cond_scale, cache=caches[0],
                                              null_cache=caches[1])
        return logits[:, -1].numpy()

    def generate_images(self, text: Any, *, clip: Any = None, filter_thres: float = 0.5, temperature: float = 1.0,
                        img: Any = None, num_init_img_tokens: int | None = None, cond_scale: float = 1.0,
                        use_cache: bool = False, seed: int | None = None,
                        progress: Callable[[int], None] | None = None) -> mge.Tensor:
        """Images ``(b, 3, H, W)`` in [0, 1] for text ids ``(b, text_seq_len)``; see
        :meth:`generate_image_tokens`. CLIP re-ranking (``clip``) is not supported.
        """
        if clip is not None:
            raise InvalidArgumentError("re-ranking with clip= is not supported; rank the images separately")
        codes = self.generate_image_tokens(text, filter_thres=filter_thres, temperature=temperature, img=img,
                                           num_init_img_tokens=num_init_img_tokens, cond_scale=cond_scale,
                                           use_cache=use_cache, seed=seed, progress=progress)
        return self.vae.decode(mge.tensor(codes.astype(np.int32)))


# ---- building from a state dict --------------------------------------------------------------

def _layer_key(state_dict: Mapping[str, np.ndarray], suffix: str) -> str | None:
    pattern = re.compile(r"transformer\.layers\.layers\.0\.0\.fn\.(fn\.)+" + re.escape(suffix) + "$")
    return next((k for k in state_dict if pattern.match(k)), None)


def infer_config(state_dict: Mapping[str, np.ndarray], config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """dalle-pytorch DALLE kwargs from tensor shapes, completed/overridden by ``config``."""
    config = dict(config or {})
    if config.get("reversible") or any(k.startswith("transformer.layers.blocks.") for k in state_dict):
        raise CheckpointError("dalle: reversible transformers are not supported")
    attn_types = config.get("attn_types") or ("full",)
    attn_types = (attn_types,) if isinstance(attn_types, str) else tuple(attn_types)
    if set(attn_types) != {"full"} or config.get("sparse_attn"):
        raise InvalidArgumentError(f"dalle: only attn_types=('full',) is supported, got {attn_types}")
    if "to_logits.1.weight" not in state_dict:
        raise CheckpointError("dalle: missing key 'to_logits.1.weight' in state dict")
    dim = int(np.shape(state_dict["to_logits.1.weight"])[1])
    qkv = _layer_key(state_dict, "to_qkv.weight")
    if qkv is None:
        raise CheckpointError("dalle: missing key 'transformer.layers.layers.0.0.fn.fn.fn.to_qkv.weight'")
    inner = int(np.shape(state_dict[qkv])[0]) // 3
    depth = len({m.group(1) for k in state_dict if (m := re.match(r"transformer\.layers\.layers\.(\d+)\.", k))})
    shared = "text_emb.weight" not in state_dict and "to_logits.1.weight" in state_dict
    rotary = "transformer.pos_emb" in state_dict
    out = dict(dim=dim, depth=depth, rotary_emb=rotary, share_input_output_emb=shared,
               shift_tokens=qkv.count("fn.") == 5,  # LayerScale.PreNorm.CachedAs.PreShiftToken.CachedAs
               sandwich_norm="transformer.layers.layers.0.0.fn.norm_out.weight" in state_dict)
    if "heads" in config:
        out["heads"] = int(config["heads"])
    elif "dim_head" in config:
        out["heads"] = inner // int(config["dim_head"])
    elif inner % 64 == 0:   # dalle-pytorch's default dim_head
        out["heads"] = inner // 64
    else:
        raise InvalidArgumentError(f"dalle: config must give heads (attention width {inner})")
    out["dim_head"] = inner // out["heads"]
    if "text_pos_emb.weight" in state_dict:
        out["text_seq_len"] = int(np.shape(state_dict["text_pos_emb.weight"])[0]) - 1
    out.update({k: v for k, v in config.items() if k in ("text_seq_len", "num_text_tokens", "stable", "heads")})
    return out


def _sequence_sizes(state_dict: Mapping[str, np.ndarray], cfg: dict[str, Any], num_image_tokens: int) -> None:
    """Fill ``text_seq_len``, ``num_text_tokens`` and ``image_fmap_size`` in ``cfg`` (config first)."""
    text_rows = int(np.shape(state_dict["to_logits.1.weight"])[0]) - num_image_tokens   # ids + padding ids
    if "text_seq_len" not in cfg and "num_text_tokens" in cfg:
        cfg["text_seq_len"] = text_rows - int(cfg["num_text_tokens"])
    if "text_seq_len" not in cfg:
        raise InvalidArgumentError("dalle: config must give text_seq_len or num_text_tokens")
    cfg.setdefault("num_text_tokens", text_rows - int(cfg["text_seq_len"]))
    if "image_pos_emb.weights.0" in state_dict:
        cfg["image_fmap_size"] = int(np.shape(state_dict["image_pos_emb.weights.0"])[1])
    elif "transformer.pos_emb" not in state_dict:
        raise CheckpointError("dalle: missing key 'transformer.pos_emb' (or 'image_pos_emb.weights.0') in state dict")
    else:   # rotary angle rows: <bos> + text + image
        image_rows = int(np.shape(state_dict["transformer.pos_emb"])[1]) - 1 - int(cfg["text_seq_len"])
        cfg["image_fmap_size"] = math.isqrt(max(image_rows, 0))
        if image_rows <= 0 or cfg["image_fmap_size"] ** 2 != image_rows:
            raise InvalidArgumentError(f"dalle: text_seq_len={cfg['text_seq_len']} leaves {image_rows} image "
                                       f"positions in transformer.pos_emb, not a square grid")


def from_state_dict(state_dict: Mapping[str, np.ndarray], config: Mapping[str, Any] | None = None,
                    vae_config: Mapping[str, Any] | None = None) -> DALLE:
    """Build :class:`DALLE` (with its VAE) from a dalle-pytorch ``DALLE.state_dict()`` (numpy arrays).

    ``config``: dalle-pytorch's DALLE kwargs (the ``hparams`` of its training checkpoints); shapes
    give dim, depth, rotary/shift/sandwich/shared-embedding choices and the image grid;
    ``text_seq_len`` (or ``num_text_tokens``) is needed with rotary embeddings, ``heads`` unless
    dim_head is 64. ``vae_config``: taming config of a VQGAN VAE.
    """
    cfg = infer_config(state_dict, config)
    vae = build_vae(state_dict, vae_config)
    _sequence_sizes(state_dict, cfg, vae.num_tokens)
    vae.image_size = cfg["image_fmap_size"] * 2 ** vae.num_layers
    model = DALLE(vae=vae, **cfg)
    ignore = VAE_TRAINING_ONLY_PREFIXES
    if cfg["share_input_output_emb"]:   # the same tensor again under the embeddings' names
        ignore += ("text_emb.linear.", "image_emb.linear.")
    return load_parameters(model, state_dict, ignore_prefixes=ignore, what="dalle")


def load(path: str | Path, config: Mapping[str, Any] | None = None,
         vae_config: Mapping[str, Any] | None = None) -> DALLE:
    """A DALLE from a ``torch.save(dalle.state_dict())`` file or a dalle-pytorch training
    checkpoint (``{"hparams": ..., "weights": ...}``, whose hparams serve as config)."""
    from megforge.models._files import read_checkpoint

    state_dict, top = read_checkpoint(path, entry="weights")
    if config is None and isinstance(top, Mapping) and isinstance(top.get("hparams"), Mapping):
        config = dict(top["hparams"])
    return from_state_dict(state_dict, config, vae_config)


def tokenize(text: str, text_seq_len: int, truncate_text: bool = False) -> np.ndarray:
    """dalle-pytorch's default tokenization: CLIP BPE ids without start/end tokens, 0-padded.

    Uses megforge's CLIP tokenizer (dalle-pytorch's ``SimpleTokenizer`` is CLIP's, same
    vocabulary and merges). Returns int64 ``(1, text_seq_len)``.
    """
    from megforge.models.clip.tokenizer import default_tokenizer

    ids = default_tokenizer().encode(text)
    if len(ids) > text_seq_len:
        if not truncate_text:
            raise InvalidArgumentError(f"text is {len(ids)} tokens, longer than text_seq_len={text_seq_len}")
        ids = ids[:text_seq_len]
    out = np.zeros((1, text_seq_len), np.int64)
    out[0, :len(ids)] = ids
    return out
