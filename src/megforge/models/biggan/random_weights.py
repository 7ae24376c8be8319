"""Seeded random BigGAN weights in the reference's state-dict layout (demos and tests, no download).

Weights follow torch's default init bounds (uniform +-1/sqrt(fan_in)); spectral-norm
vectors are settled by 20 power iterations, as a trained checkpoint's are; batch-norm
statistics, the class embedding and the attention gain get random non-trivial values so
the output is neither constant nor saturated.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from megforge.models.biggan.config import BigGANConfig

POWER_ITERATIONS = 20


def random_state_dict(config: BigGANConfig | Mapping[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
    """A full state dict (reference key names -> float32 arrays) for ``config``."""
    from megforge.models.biggan.model import BigGAN

    if not isinstance(config, BigGANConfig):
        config = BigGANConfig.from_dict(config)
    rng = np.random.default_rng(seed)
    state: dict[str, np.ndarray] = {}
    shapes = {k: tuple(v.shape) for k, v in BigGAN(config).state_dict().items()}
    for key, shape in shapes.items():
        prefix, name = key.rsplit(".", 1)
        if name == "weight_orig":
            fan_in = int(np.prod(shape[1:]))
            state[key] = rng.uniform(-1, 1, shape) / np.sqrt(fan_in)
        elif name == "bias" and prefix + ".weight_orig" in shapes:
            fan_in = int(np.prod(shapes[prefix + ".weight_orig"][1:]))
            state[key] = rng.uniform(-1, 1, shape) / np.sqrt(fan_in)
        elif name == "running_means":
            state[key] = rng.normal(0.0, 0.3, shape)
        elif name == "running_vars":
            state[key] = rng.uniform(0.5, 2.0, shape)
        elif key == "generator.bn.weight":
            state[key] = rng.normal(1.0, 0.2, shape)
        elif key == "generator.bn.bias":
            state[key] = rng.normal(0.0, 0.2, shape)
        elif name == "gamma":
            state[key] = np.full(shape, 0.7)
        elif key == "embeddings.weight":
            state[key] = rng.normal(0.0, 0.5, shape)
    for key in [k for k in shapes if k.endswith(".weight_orig")]:
        prefix = key[: -len("weight_orig")]
        w_mat = state[key].reshape(shapes[key][0], -1)  # (out, in*kh*kw)
        u = rng.standard_normal(w_mat.shape[0])
        u /= np.linalg.norm(u)
        for _ in range(POWER_ITERATIONS):
            v = w_mat.T @ u
            v /= max(np.linalg.norm(v), 1e-12)
            u = w_mat @ v
            u /= max(np.linalg.norm(u), 1e-12)
        state[prefix + "weight_u"], state[prefix + "weight_v"] = u, v
    assert set(state) == set(shapes), sorted(set(shapes) - set(state))
    return {k: np.asarray(v, np.float32) for k, v in state.items()}
