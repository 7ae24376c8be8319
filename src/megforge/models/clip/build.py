"""Build a CLIP model from a reference state dict (openai/CLIP keys) or a checkpoint file.

The configuration is inferred from tensor shapes exactly as openai's ``build_model``
does (heads = width // 64); ``config`` (openai ``CLIP(**kwargs)`` fields) overrides or
completes it. Weights of any float dtype (OpenAI's released files are fp16) are
widened to float32: the model computes openai/CLIP's fp32 forward.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import megengine as mge

from megforge.convert import check_state_dict, load_checkpoint
from megforge.errors import CheckpointError, InvalidArgumentError, InvalidTypeError
from megforge.models._runtime import default_device
from megforge.models.clip.model import CLIP

CONFIG_FIELDS = ("embed_dim", "image_resolution", "vision_layers", "vision_width", "vision_patch_size",
                 "context_length", "vocab_size", "transformer_width", "transformer_heads", "transformer_layers")
# scalar entries of OpenAI's TorchScript files that restate the config (checked, then dropped)
METADATA_KEYS = ("input_resolution", "context_length", "vocab_size")
# buffers derived from the config: open_clip stores the causal mask, openai/CLIP rebuilds it
IGNORED = ("*attn_mask",)


def config_from_state_dict(state_dict: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Infer openai ``CLIP(**kwargs)`` fields from tensor shapes (as ``clip.model.build_model``)."""
    def shape(key: str) -> tuple[int, ...]:
        if key not in state_dict:
            raise CheckpointError(f"state dict does not match CLIP: missing keys: {key} (needed to infer the config)")
        return tuple(state_dict[key].shape)

    def count(prefix: str) -> int:  # distinct block indices under prefix
        return len({k[len(prefix):].split(".")[0] for k in state_dict if k.startswith(prefix)})

    config: dict[str, Any] = {}
    if "visual.proj" in state_dict:  # ViT
        config["vision_width"] = shape("visual.conv1.weight")[0]
        config["vision_layers"] = count("visual.transformer.resblocks.")
        config["vision_patch_size"] = shape("visual.conv1.weight")[-1]
        grid = round((shape("visual.positional_embedding")[0] - 1) ** 0.5)
        config["image_resolution"] = config["vision_patch_size"] * grid
    else:  # ModifiedResNet
        config["vision_layers"] = tuple(count(f"visual.layer{b}.") for b in (1, 2, 3, 4))
        config["vision_width"] = shape("visual.layer1.0.conv1.weight")[0]
        config["vision_patch_size"] = None
        config["image_resolution"] = round((shape("visual.attnpool.positional_embedding")[0] - 1) ** 0.5) * 32
    config["embed_dim"] = shape("text_projection")[1]
    config["context_length"] = shape("positional_embedding")[0]
    config["vocab_size"] = shape("token_embedding.weight")[0]
    config["transformer_width"] = shape("ln_final.weight")[0]
    config["transformer_heads"] = config["transformer_width"] // 64
    config["transformer_layers"] = count("transformer.resblocks.")
    return config


def _merge(config: dict[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    if override is None:
        return config
    if not isinstance(override, Mapping):
        raise InvalidTypeError(f"config must be a dict of CLIP(**kwargs) fields, got {type(override).__name__}")
    unknown = sorted(set(override) - set(CONFIG_FIELDS))
    if unknown:
        raise InvalidArgumentError(f"unknown CLIP config fields {unknown}; known: {', '.join(CONFIG_FIELDS)}")
    merged = dict(config, **override)
    if isinstance(merged["vision_layers"], list):
        merged["vision_layers"] = tuple(merged["vision_layers"])
    return merged


def _check_config(config: Mapping[str, Any]) -> None:
    resnet = isinstance(config["vision_layers"], tuple)
    vision_heads = config["vision_width"] * 32 // 64 if resnet else config["vision_width"] // 64
    for name, width, heads in (("vision", config["vision_width"] * (32 if resnet else 1), vision_heads),
                               ("text", config["transformer_width"], config["transformer_heads"])):
        if not (isinstance(heads, int) and heads >= 1 and width % heads == 0):
            raise InvalidArgumentError(f"{name} tower: width {width} cannot be split into {heads} attention heads")
    if resnet and (len(config["vision_layers"]) != 4 or min(config["vision_layers"]) < 1):
        raise InvalidArgumentError(f"ResNet vision_layers must be 4 positive counts, got {config['vision_layers']}")
    if not resnet and (not config["vision_patch_size"] or config["image_resolution"] % config["vision_patch_size"]):
        raise InvalidArgumentError(f"image_resolution {config['image_resolution']} is not a multiple of "
                                   f"vision_patch_size {config['vision_patch_size']}")


def expected_shapes(model: CLIP) -> dict[str, tuple[int, ...]]:
    """Reference key -> shape for every tensor of ``model`` (the keys ``from_state_dict`` needs)."""
    return {name: tuple(t.shape) for name, t in model.named_tensors()}


def from_state_dict(state_dict: Mapping[str, np.ndarray], config: Mapping[str, Any] | None = None, *,
                    device: str | None = None) -> CLIP:
    """Build an eval-mode :class:`CLIP` from openai/CLIP state-dict keys mapped to numpy arrays.

    Raises CheckpointError naming missing / unexpected / wrong-shape keys. ``device`` is a
    MegEngine device name; default: :func:`megforge.models._runtime.default_device` (all CPU
    cores through a ``multithread`` device, or the GPU).
    """
    if not isinstance(state_dict, Mapping):
        raise InvalidTypeError(f"state_dict must map names to numpy arrays, got {type(state_dict).__name__}")
    config = _merge(config_from_state_dict(state_dict), config)
    _check_config(config)
    model = CLIP(**config)
    device = default_device() if device is None else device
    for key in METADATA_KEYS:  # restated config in TorchScript files: must agree
        if key in state_dict:
            want = config["image_resolution"] if key == "input_resolution" else config[key]
            if np.asarray(state_dict[key]).size != 1 or int(np.asarray(state_dict[key]).reshape(())) != want:
                raise CheckpointError(f"state dict entry {key} = {state_dict[key]!r} contradicts the weights ({want})")
    weights = {k: v for k, v in state_dict.items() if k not in METADATA_KEYS}
    weights = check_state_dict(weights, expected_shapes(model), ignore=IGNORED, model=_describe(config))
    for name, tensor in model.named_tensors():
        array = weights[name]
        if not np.issubdtype(array.dtype, np.floating):
            raise InvalidTypeError(f"state dict entry {name} has dtype {array.dtype}, expected floating point")
        tensor._reset(mge.Tensor(np.array(array, dtype=np.float32, order="C"), device=device))  # keeps 0-d
    model.device = device
    model.eval()
    return model


def state_dict_of(model: CLIP) -> dict[str, np.ndarray]:
    """The model's weights under openai/CLIP's keys (float32), e.g. for ``save_safetensors``."""
    return {name: tensor.numpy().reshape(tuple(tensor.shape)) for name, tensor in model.named_tensors()}


def load(path: str | Path, config: Mapping[str, Any] | None = None, *, device: str | None = None) -> CLIP:
    """Load CLIP from a file: OpenAI's TorchScript archive, a ``torch.save`` state dict or safetensors."""
    return from_state_dict(load_checkpoint(path), config, device=device)


def _describe(config: Mapping[str, Any]) -> str:
    if isinstance(config["vision_layers"], tuple):
        tower = f"RN(layers={config['vision_layers']}, width={config['vision_width']})"
    else:
        tower = f"ViT(patch={config['vision_patch_size']}, width={config['vision_width']}, " \
                f"layers={config['vision_layers']})"
    return f"CLIP {tower} text(width={config['transformer_width']}, layers={config['transformer_layers']})"
