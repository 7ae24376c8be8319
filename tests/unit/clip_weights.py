"""Seeded random CLIP weights under openai/CLIP's keys, for unit tests (needs MegEngine)."""

from __future__ import annotations

import numpy as np

TINY_VIT = dict(embed_dim=16, image_resolution=32, vision_layers=2, vision_width=64, vision_patch_size=16,
                context_length=12, vocab_size=100, transformer_width=64, transformer_heads=2, transformer_layers=1)
TINY_RN = dict(embed_dim=16, image_resolution=64, vision_layers=(1, 1, 1, 1), vision_width=8,
               vision_patch_size=None, context_length=12, vocab_size=100, transformer_width=64,
               transformer_heads=1, transformer_layers=1)


def random_state_dict(config: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """Every key ``from_state_dict`` expects for ``config``; N(0, 0.1) weights, variances near 1."""
    from megforge.models.clip.build import expected_shapes
    from megforge.models.clip.model import CLIP

    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in expected_shapes(CLIP(**config)).items():
        values = 0.1 * rng.standard_normal(shape)
        if key.endswith("running_var"):
            values = 1.0 + np.abs(values)
        state[key] = values.astype(np.float32)
    state["logit_scale"] = np.array(np.log(20.0), np.float32)
    return state
