"""BigGAN-deep configuration: the fields of pytorch-pretrained-biggan's ``BigGANConfig``.

A checkpoint's tensor shapes give the widths, class count, latent size, attention
position and number of truncation statistics, but not which blocks up-sample nor the
batch-norm epsilon. ``resolve_config`` fills those from ``config`` (the reference's
``config.json`` fields) or, for the three released layouts, from the reference defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from megforge.errors import CheckpointError, InvalidArgumentError

Layer = tuple[bool, int, int]  # (up-sample?, input channels / channel_width, output channels / channel_width)


def _official_layers(output_dim: int) -> list[Layer]:
    """Block layout of the released biggan-deep-{128,256,512}: pairs of (keep, up-sample) blocks."""
    widths = {128: [16, 16, 8, 4, 2, 1], 256: [16, 16, 8, 8, 4, 2, 1], 512: [16, 16, 8, 8, 4, 2, 1, 1]}[output_dim]
    layers: list[Layer] = []
    for c_in, c_out in zip(widths[:-1], widths[1:]):
        layers += [(False, c_in, c_in), (True, c_in, c_out)]
    return layers


OFFICIAL_LAYERS = {dim: _official_layers(dim) for dim in (128, 256, 512)}


@dataclass
class BigGANConfig:
    """Hyper-parameters with the reference's names and defaults (biggan-deep-128).

    As in the reference, the class embedding has z_dim entries; class_embed_dim is kept
    only because config.json files carry it.
    """

    output_dim: int = 128
    z_dim: int = 128
    class_embed_dim: int = 128
    channel_width: int = 128
    num_classes: int = 1000
    layers: list[Layer] = field(default_factory=lambda: list(OFFICIAL_LAYERS[128]))
    attention_layer_position: int = 8
    eps: float = 1e-4
    n_stats: int = 51

    @classmethod
    def from_dict(cls, fields: Mapping[str, Any]) -> BigGANConfig:
        """Build from the reference's config.json fields; unknown fields are an error."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(fields) - known)
        if unknown:
            raise InvalidArgumentError(f"unknown BigGANConfig field(s) {unknown}; known: {sorted(known)}")
        config = cls(**dict(fields))
        config.layers = [_layer(i, layer) for i, layer in enumerate(config.layers)]
        if not config.layers or not _chains([(a, b) for _, a, b in config.layers]):
            raise InvalidArgumentError(f"BigGANConfig layers {config.layers} do not chain 16 -> ... -> 1 "
                                       "(channel multiples), keeping or halving the width at each block")
        if config.channel_width < 3 or config.n_stats < 2:
            raise InvalidArgumentError(f"BigGANConfig needs channel_width >= 3 and n_stats >= 2, got {config}")
        return config


def _chains(blocks: list[tuple[int, int]]) -> bool:
    """The generator starts at 16 x channel_width, ends at 1 x, and each block keeps or halves the width."""
    chain = [16] + [c_out for _, c_out in blocks]
    return ([c_in for c_in, _ in blocks] == chain[:-1] and chain[-1] == 1
            and all(c_out in (c_in, c_in // 2) for c_in, c_out in blocks))


def _layer(index: int, layer: Any) -> Layer:
    try:
        up, c_in, c_out = layer
        return (bool(up), int(c_in), int(c_out))
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"BigGANConfig layers[{index}] = {layer!r} is not (up_sample, in, out)") from None


def _shape(state_dict: Mapping[str, np.ndarray], key: str) -> tuple[int, ...]:
    if key not in state_dict:
        raise CheckpointError(f"BigGAN state dict is missing key {key!r}")
    return tuple(np.shape(state_dict[key]))


def resolve_config(state_dict: Mapping[str, np.ndarray], config: Mapping[str, Any] | None) -> BigGANConfig:
    """Read the architecture from tensor shapes and check it against ``config``.

    Raises CheckpointError when the state dict and config disagree, or when the
    up-sampling pattern is needed but not given and the shapes match no released model.
    """
    z_dim, num_classes = _shape(state_dict, "embeddings.weight")
    gen_z_out, cond_dim = _shape(state_dict, "generator.gen_z.weight_orig"
                                 if "generator.gen_z.weight_orig" in state_dict else "generator.gen_z.weight")
    if cond_dim != 2 * z_dim or gen_z_out % (4 * 4 * 16):
        raise CheckpointError(f"generator.gen_z has shape {(gen_z_out, cond_dim)}; expected (256*channel_width, "
                              f"2*z_dim={2 * z_dim})")
    ch = gen_z_out // (4 * 4 * 16)
    if ch < 3:
        raise CheckpointError(f"channel_width {ch} < 3: conv_to_rgb cannot give the 3 RGB channels")

    blocks: list[tuple[int, int]] = []  # (in, out) channel multiples, in module order
    attention = -1
    i = 0
    while True:
        prefix = f"generator.layers.{i}."
        if any(k.startswith(prefix + "snconv1x1_theta.") for k in state_dict):
            attention = len(blocks)
        elif any(k.startswith(prefix + "conv_0.") for k in state_dict):
            c_in = _shape(state_dict, prefix + "bn_0.running_means")[1]
            c_out = _shape(state_dict, prefix + "conv_3.bias")[0]
            if c_in % ch or c_out % ch:
                raise CheckpointError(f"{prefix}: channels {c_in}->{c_out} are not multiples of channel_width {ch}")
            blocks.append((c_in // ch, c_out // ch))
        else:
            break
        i += 1
    if not blocks:
        raise CheckpointError("BigGAN state dict has no generator.layers.<i> blocks")
    if not _chains(blocks):
        raise CheckpointError(f"BigGAN blocks {blocks} (channel multiples) do not chain 16 -> ... -> 1, "
                              "keeping or halving the width at each block")
    n_stats = _shape(state_dict, "generator.bn.running_means")[0]

    found = dict(z_dim=z_dim, class_embed_dim=z_dim, channel_width=ch, num_classes=num_classes,
                 attention_layer_position=attention, n_stats=n_stats)
    if config is None:
        matches = [dim for dim, layers in OFFICIAL_LAYERS.items() if [(a, b) for _, a, b in layers] == blocks]
        if not matches:
            raise CheckpointError(f"cannot tell which BigGAN blocks up-sample from shapes (blocks {blocks}); "
                                  "pass config={'layers': [(up_sample, in, out), ...], ...} from config.json")
        return BigGANConfig(output_dim=matches[0], layers=list(OFFICIAL_LAYERS[matches[0]]), **found)

    merged = BigGANConfig.from_dict(config)
    if attention < 0 and not 0 <= merged.attention_layer_position < len(merged.layers):
        found["attention_layer_position"] = merged.attention_layer_position  # both say: no attention block
    for name, value in found.items():
        if name in config and getattr(merged, name) != value:
            raise CheckpointError(f"config {name}={getattr(merged, name)!r} disagrees with the state dict ({value!r})")
        setattr(merged, name, value)
    if "layers" not in config:
        raise CheckpointError("config must give 'layers' (the up-sampling pattern is not in the tensor shapes)")
    if [(a, b) for _, a, b in merged.layers] != blocks:
        raise CheckpointError(f"config layers {merged.layers} disagree with the state dict blocks {blocks}")
    ups = sum(up for up, _, _ in merged.layers)
    if "output_dim" in config and merged.output_dim != 4 * 2**ups:
        raise CheckpointError(f"config output_dim={merged.output_dim} but layers up-sample 4 -> {4 * 2**ups}")
    merged.output_dim = 4 * 2**ups
    return merged
