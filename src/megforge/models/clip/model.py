"""CLIP (Radford et al., 2021) on MegEngine, mirroring openai/CLIP's ``clip/model.py``.

Module and parameter names follow the reference checkpoint keys (``visual.layer1.0.conv1.weight``,
``transformer.resblocks.3.attn.in_proj_weight`` ...), so ``named_tensors()`` of a model
equals the reference ``state_dict`` keys except BatchNorm's ``num_batches_tracked`` (no
information for inference). The causal text mask is derived from ``context_length``.
Images are float32 NCHW, CLIP-normalised; text is int token ids ``(N, n_ctx)`` from
:func:`megforge.models.clip.tokenize`. Transformer activations are channel-first (see
:mod:`megforge.models.clip.layers`).
"""

from __future__ import annotations

import numpy as np
import megengine as mge
import megengine.functional as F
import megengine.module as M

from megforge.models.clip.inputs import image_tensor, text_tensor
from megforge.models.clip.layers import (
    MLP, BatchNorm2d, Conv2d, Embedding, LayerNorm, Linear, MultiheadAttention, zeros_parameter, attention,
)


class Bottleneck(M.Module):
    """ResNet bottleneck; stride > 1 is an average pool after ``conv2`` (anti-aliased)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1, self.bn1 = Conv2d(inplanes, planes, 1), BatchNorm2d(planes)
        self.conv2, self.bn2 = Conv2d(planes, planes, 3, padding=1), BatchNorm2d(planes)
        self.conv3, self.bn3 = Conv2d(planes, planes * 4, 1), BatchNorm2d(planes * 4)
        self.stride = stride
        self.downsample = None
        if stride > 1 or inplanes != planes * 4:
            # keys downsample.0 (conv) and downsample.1 (bn); the reference's "-1" avgpool has none
            self.downsample = [Conv2d(inplanes, planes * 4, 1), BatchNorm2d(planes * 4)]

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        if self.stride > 1:
            out = F.avg_pool2d(out, self.stride)
        out = self.bn3(self.conv3(out))
        identity = x
        if self.downsample is not None:
            pooled = F.avg_pool2d(x, self.stride) if self.stride > 1 else x
            identity = self.downsample[1](self.downsample[0](pooled))
        return F.relu(out + identity)


class AttentionPool2d(M.Module):
    """Attention pooling: the mean token attends over all spatial tokens (separate q/k/v)."""

    def __init__(self, spacial_dim: int, embed_dim: int, num_heads: int, output_dim: int) -> None:
        super().__init__()
        self.positional_embedding = zeros_parameter(spacial_dim ** 2 + 1, embed_dim)
        self.k_proj, self.q_proj = Linear(embed_dim, embed_dim), Linear(embed_dim, embed_dim)
        self.v_proj, self.c_proj = Linear(embed_dim, embed_dim), Linear(embed_dim, output_dim)
        self.num_heads = num_heads

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        n, c = x.shape[:2]
        x = x.reshape(n, c, -1).transpose(0, 2, 1)  # NCHW -> (N, HW, C)
        x = F.concat([x.mean(axis=1, keepdims=True), x], axis=1)  # (N, HW+1, C)
        x = x + self.positional_embedding
        out = attention(self.q_proj(x[:, :1]), self.k_proj(x), self.v_proj(x), self.num_heads)  # (N, 1, C)
        return self.c_proj(out).reshape(n, -1)


class ModifiedResNet(M.Module):
    """ResNet with a 3-conv stem, average-pool downsampling and an attention-pool head."""

    def __init__(self, layers: tuple[int, int, int, int], output_dim: int, heads: int,
                 input_resolution: int = 224, width: int = 64) -> None:
        super().__init__()
        self.output_dim, self.input_resolution = output_dim, input_resolution
        self.conv1, self.bn1 = Conv2d(3, width // 2, 3, stride=2, padding=1), BatchNorm2d(width // 2)
        self.conv2, self.bn2 = Conv2d(width // 2, width // 2, 3, padding=1), BatchNorm2d(width // 2)
        self.conv3, self.bn3 = Conv2d(width // 2, width, 3, padding=1), BatchNorm2d(width)
        inplanes = width
        for index, (blocks, planes) in enumerate(zip(layers, (width, width * 2, width * 4, width * 8))):
            stride = 1 if index == 0 else 2
            layer = [Bottleneck(inplanes, planes, stride)] + [Bottleneck(planes * 4, planes) for _ in range(blocks - 1)]
            setattr(self, f"layer{index + 1}", layer)
            inplanes = planes * 4
        self.attnpool = AttentionPool2d(input_resolution // 32, width * 32, heads, output_dim)

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.avg_pool2d(F.relu(self.bn3(self.conv3(x))), 2)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in layer:
                x = block(x)
        return self.attnpool(x)


class ResidualAttentionBlock(M.Module):
    def __init__(self, d_model: int, n_head: int) -> None:
        super().__init__()
        self.attn = MultiheadAttention(d_model, n_head)
        self.ln_1 = LayerNorm(d_model)
        self.mlp = MLP(d_model)
        self.ln_2 = LayerNorm(d_model)

    def forward(self, x: mge.Tensor, mask: mge.Tensor | None = None) -> mge.Tensor:
        """x: channel-first ``(N, d_model, L, 1)``."""
        x = x + self.attn(self.ln_1.channels_first(x), mask)
        return x + self.mlp(self.ln_2.channels_first(x))


class Transformer(M.Module):
    """``layers`` residual attention blocks over channel-first ``(N, width, L, 1)`` tokens."""

    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.width, self.layers = width, layers
        self.resblocks = [ResidualAttentionBlock(width, heads) for _ in range(layers)]

    def forward(self, x: mge.Tensor, mask: mge.Tensor | None = None) -> mge.Tensor:
        for block in self.resblocks:
            x = block(x, mask)
        return x


class VisionTransformer(M.Module):
    def __init__(self, input_resolution: int, patch_size: int, width: int, layers: int, heads: int,
                 output_dim: int) -> None:
        super().__init__()
        self.input_resolution, self.output_dim = input_resolution, output_dim
        self.conv1 = Conv2d(3, width, patch_size, stride=patch_size)
        self.class_embedding = zeros_parameter(width)
        self.positional_embedding = zeros_parameter((input_resolution // patch_size) ** 2 + 1, width)
        self.ln_pre = LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = LayerNorm(width)
        self.proj = zeros_parameter(width, output_dim)

    def forward(self, x: mge.Tensor) -> mge.Tensor:
        x = self.conv1(x)  # (N, width, grid, grid)
        n, width = x.shape[:2]
        x = x.reshape(n, width, -1, 1)  # channel-first tokens (N, width, grid**2, 1)
        cls = F.broadcast_to(self.class_embedding.reshape(1, width, 1, 1), (n, width, 1, 1))
        x = F.concat([cls, x], axis=2)  # (N, width, grid**2 + 1, 1)
        x = x + self.positional_embedding.transpose(1, 0).reshape(1, width, -1, 1)
        x = self.transformer(self.ln_pre.channels_first(x))
        return F.matmul(self.ln_post(x[:, :, 0, 0]), self.proj)  # class token -> (N, output_dim)


class CLIP(M.Module):
    """Contrastive image/text model; constructor arguments are openai/CLIP's ``CLIP(...)``.

    ``vision_layers`` as a 4-tuple selects the ModifiedResNet tower, an int the ViT.
    """

    def __init__(self, embed_dim: int, image_resolution: int, vision_layers: tuple[int, int, int, int] | int,
                 vision_width: int, vision_patch_size: int | None, context_length: int, vocab_size: int,
                 transformer_width: int, transformer_heads: int, transformer_layers: int) -> None:
        super().__init__()
        self.context_length, self.vocab_size = context_length, vocab_size
        if isinstance(vision_layers, (tuple, list)):
            self.visual = ModifiedResNet(tuple(vision_layers), embed_dim, vision_width * 32 // 64,
                                         image_resolution, vision_width)
        else:
            self.visual = VisionTransformer(image_resolution, int(vision_patch_size or 0), vision_width,
                                            vision_layers, vision_width // 64, embed_dim)
        self.transformer = Transformer(transformer_width, transformer_layers, transformer_heads)
        self.token_embedding = Embedding(vocab_size, transformer_width)
        self.positional_embedding = zeros_parameter(context_length, transformer_width)
        self.ln_final = LayerNorm(transformer_width)
        self.text_projection = zeros_parameter(transformer_width, embed_dim)
        self.logit_scale = zeros_parameter()
        # additive causal mask: -inf above the diagonal (kept in numpy: it is no checkpoint entry)
        self._causal_mask = np.triu(np.full((context_length, context_length), -np.inf, np.float32), 1)
        self.device: str | None = None  # where inputs go; set by from_state_dict

    @property
    def image_resolution(self) -> int:
        return self.visual.input_resolution

    def encode_image(self, image: mge.Tensor | np.ndarray) -> mge.Tensor:
        """image: float ``(N, 3, R, R)``, CLIP-normalised -> features float32 ``(N, embed_dim)``."""
        return self.visual(image_tensor(image, self.image_resolution, self.device))

    def encode_text(self, text: mge.Tensor | np.ndarray) -> mge.Tensor:
        """text: int token ids ``(N, n_ctx)``, n_ctx <= context_length -> features float32 ``(N, embed_dim)``."""
        text = text_tensor(text, self.context_length, self.vocab_size, self.device)
        n, n_ctx = text.shape
        x = self.token_embedding(text) + self.positional_embedding[:n_ctx]  # (N, n_ctx, width)
        mask = mge.Tensor(self._causal_mask[:n_ctx, :n_ctx], device=x.device)
        x = self.transformer(x.transpose(0, 2, 1).reshape(n, -1, n_ctx, 1), mask)  # (N, width, n_ctx, 1)
        x = x.reshape(n, -1, n_ctx).transpose(0, 2, 1)  # (N, n_ctx, width)
        # features at the end-of-text token, the highest id of each sequence (ln_final is per token)
        eot = F.argmax(text, axis=-1)
        rows = mge.Tensor(np.arange(n, dtype=np.int32), dtype="int32", device=x.device)
        x = self.ln_final(x[rows, eot])  # (N, width)
        return F.matmul(x, self.text_projection)

    def forward(self, image: mge.Tensor | np.ndarray,
                text: mge.Tensor | np.ndarray) -> tuple[mge.Tensor, mge.Tensor]:
        """Returns ``(logits_per_image (N_img, N_txt), logits_per_text (N_txt, N_img))``."""
        image_features = self.encode_image(image)
        text_features = self.encode_text(text)
        image_features = image_features / F.norm(image_features, axis=-1, keepdims=True)
        text_features = text_features / F.norm(text_features, axis=-1, keepdims=True)
        logits_per_image = F.exp(self.logit_scale) * F.matmul(image_features, text_features, transpose_b=True)
        return logits_per_image, logits_per_image.T
