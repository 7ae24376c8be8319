"""Parity fixtures for BigGAN-deep: pytorch-pretrained-biggan 0.1.1 with seeded random weights.

Each case directory holds what ``BigGAN.from_pretrained(directory)`` reads
(``pytorch_model.bin`` via torch.save of the state dict, ``config.json``) and ``io.npz``
with inputs and the reference's eval-mode outputs:

  z (N, z_dim), class_label (N, num_classes), truncations (T,), out_<t> (N, 3, H, W)

Random init as the reference leaves it would be degenerate (fresh spectral-norm vectors
saturate tanh, ``generator.bn`` weight/bias are uninitialised, attention ``gamma`` is 0),
so statistics, gamma and the class embedding are randomised and ~20 train-mode forwards
settle the spectral-norm power iteration before switching to eval.

Cases:
  official128  the released 128x128 block layout at channel_width 16, 1000 classes; saved in
               torch's legacy (non-zip) format like the released files
  custom       a non-released layout (needs config.json), n_stats 11, eps 1e-3
  custom_plain the custom model after remove_spectral_norm: plain ``weight`` keys
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from pytorch_pretrained_biggan import BigGAN, BigGANConfig

CASES = {
    "official128": dict(output_dim=128, z_dim=128, class_embed_dim=128, channel_width=16, num_classes=1000,
                        layers=[(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8),
                                (True, 8, 4), (False, 4, 4), (True, 4, 2), (False, 2, 2), (True, 2, 1)],
                        attention_layer_position=8, eps=1e-4, n_stats=51),
    "custom": dict(output_dim=32, z_dim=24, class_embed_dim=24, channel_width=4, num_classes=20,
                   layers=[(True, 16, 8), (True, 8, 4), (False, 4, 4), (True, 4, 2), (False, 2, 1)],
                   attention_layer_position=2, eps=1e-3, n_stats=11),
}
TRUNCATIONS = [1.0, 0.4, 0.55, 0.73]
SETTLE_FORWARDS = 20


def randomise(model: BigGAN, seed: int) -> None:
    """Give every buffer/parameter the reference leaves trivial a seeded random value."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, module in model.named_modules():
            if hasattr(module, "running_means"):
                module.running_means.normal_(0.0, 0.3, generator=gen)
                module.running_vars.uniform_(0.5, 2.0, generator=gen)
            if name == "generator.bn":
                module.weight.normal_(1.0, 0.2, generator=gen)
                module.bias.normal_(0.0, 0.2, generator=gen)
            if hasattr(module, "gamma"):
                module.gamma.fill_(0.7)
        model.embeddings.weight.normal_(0.0, 0.5, generator=gen)
        for name, param in model.named_parameters():
            if name.endswith(".bias") and name != "generator.bn.bias":
                param.normal_(0.0, 0.05, generator=gen)


def make_model(config: dict, seed: int) -> BigGAN:
    torch.manual_seed(seed)
    model = BigGAN(BigGANConfig.from_dict(config))
    randomise(model, seed + 1)
    n = 1  # the power iteration does not depend on the batch
    z = torch.randn(n, config["z_dim"])
    label = torch.zeros(n, config["num_classes"])
    label[torch.arange(n), torch.randint(config["num_classes"], (n,))] = 1.0
    model.train()  # train mode only runs the spectral-norm power iteration (BN uses stored stats)
    with torch.no_grad():
        for _ in range(SETTLE_FORWARDS):
            model(z, label, 1.0)
    return model.eval()


def inputs(config: dict, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, classes = 3, config["num_classes"]
    z = np.clip(rng.standard_normal((n, config["z_dim"])), -2, 2).astype(np.float32)
    label = np.zeros((n, classes), np.float32)
    label[0, rng.integers(classes)] = 1.0
    label[1, rng.integers(classes)] = 1.0
    label[2] = 1.0 / (1.0 + np.exp(-rng.normal(-3.0, 1.0, classes)))  # soft class mix, as BigSleep feeds
    return z, label


def save_case(out: Path, model: BigGAN, config: dict, z: np.ndarray, label: np.ndarray) -> None:
    out.mkdir(parents=True, exist_ok=True)
    # the released files (2019, torch 1.0) use torch's legacy, non-zip serialisation
    legacy = out.name == "official128"
    torch.save(model.state_dict(), out / "pytorch_model.bin", _use_new_zipfile_serialization=not legacy)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    arrays = {"z": z, "class_label": label, "truncations": np.array(TRUNCATIONS)}
    with torch.no_grad():
        for t in TRUNCATIONS:
            y = model(torch.from_numpy(z), torch.from_numpy(label), t).numpy()
            saturated = float(np.mean(np.abs(y) > 0.999))
            assert saturated < 0.05, f"{out.name}: {saturated:.0%} of outputs saturated; fixture is degenerate"
            assert y.std() > 0.05, f"{out.name}: outputs nearly constant; fixture is degenerate"
            arrays[f"out_{t}"] = y
    np.savez(out / "io.npz", **arrays)


def _make(out_dir: Path) -> None:
    for seed, (name, config) in enumerate(CASES.items()):
        model = make_model(config, 1000 + seed)
        z, label = inputs(config, 2000 + seed)
        save_case(out_dir / name, model, config, z, label)
        if name == "custom":
            for module in model.modules():
                if hasattr(module, "weight_orig"):
                    torch.nn.utils.remove_spectral_norm(module)
            save_case(out_dir / "custom_plain", model, config, z, label)


def main(out_dir: Path) -> None:
    """Small models: one torch thread is faster than two contending ones on a shared 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _make(out_dir)
    finally:
        torch.set_num_threads(threads)
