"""Reference checkpoint files for megforge.convert, written by real torch (refs env).

Writes, under ``out_dir``: ``zip.pt`` / ``legacy.pt`` (``torch.save`` of a state dict with
float32, float16, bfloat16, int64, bool, a transposed view and tensors sharing a storage),
``module.pt`` (a whole pickled ``nn.Module`` tree with custom classes from
``refpkg.blocks`` and a non-persistent buffer), ``script.pt`` (``torch.jit.script``), ``traced.pt``
(``torch.jit.trace``), ``lightning.ckpt`` (a Lightning-shaped dict), ``hf.safetensors``
(written by the ``safetensors`` package) and ``expected.npz`` holding
``<file>|<key>`` -> array for every file (bfloat16 as float32) plus ``<file>|__keys__``
(the key order of ``state_dict()``). ``pl.ckpt`` is a real checkpoint written by
pytorch-lightning's ``Trainer.save_checkpoint`` after one training step; ``dalle_encoder.pkl``
a whole pickled ``dall_e.encoder.Encoder`` (small), the form of OpenAI's released dVAE files.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import torch
from torch import nn


class Block(nn.Module):
    """A custom module class: pickled by reference to this file's module name."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 3)
        self.norm = nn.BatchNorm1d(3)
        self.register_buffer("mask", torch.triu(torch.ones(3, 3)), persistent=False)
        self.scale = nn.Parameter(torch.tensor(2.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x)) * self.scale + self.mask.sum()


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.Sequential(Block(), nn.ReLU(), Block().proj)
        self.register_buffer("input_resolution", torch.tensor(224))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks[2](nn.functional.pad(self.blocks[1](self.blocks[0](x)), (0, 1)))


def _register_classes() -> None:
    """Give Block/Net an importable home, ``refpkg.blocks``, so whole-module pickles can name them."""
    package, module = types.ModuleType("refpkg"), types.ModuleType("refpkg.blocks")
    package.blocks = module
    for cls in (Block, Net):
        cls.__module__ = module.__name__
        setattr(module, cls.__name__, cls)
    sys.modules.update({"refpkg": package, "refpkg.blocks": module})


def _state_dict_file() -> dict[str, torch.Tensor]:
    base = torch.randn(6, 5)
    return {
        "f32": torch.randn(3, 4), "f16": torch.randn(2, 3).half(), "bf16": torch.randn(5).bfloat16(),
        "i64": torch.arange(7), "bool": torch.rand(4) > 0.5, "f64": torch.randn(2, 2).double(),
        "base": base, "transposed": base.t(), "rows": base[2:4], "cols": base[:, 1:3], "scalar": base[1, 1],
        "conv.weight": torch.randn(8, 3, 3, 3).permute(0, 2, 3, 1),  # channels-last style strides
    }


def _expected(prefix: str, sd: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    out = {f"{prefix}|{k}": (v.float() if v.dtype == torch.bfloat16 else v).detach().numpy().copy()
           for k, v in sd.items()}
    out[f"{prefix}|__keys__"] = np.array(list(sd), dtype=object).astype(str)
    return out


def _real_lightning_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    import warnings

    import pytorch_lightning as pl

    class Module(pl.LightningModule):
        def __init__(self, lr: float = 0.01) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = Net()

        def training_step(self, batch: list[torch.Tensor], index: int) -> torch.Tensor:
            return self.net(batch[0]).square().mean()

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 4)), batch_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = pl.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, accelerator="cpu", default_root_dir=str(path.parent))
        module = Module()
        trainer.fit(module, data)
        trainer.save_checkpoint(str(path))
    return module.state_dict()


def main(out_dir: Path) -> None:
    torch.manual_seed(0)
    _register_classes()
    expected: dict[str, np.ndarray] = {}
    sd = _state_dict_file()
    torch.save(sd, out_dir / "zip.pt")
    torch.save(sd, out_dir / "legacy.pt", _use_new_zipfile_serialization=False)
    expected.update(_expected("zip.pt", sd))
    expected.update(_expected("legacy.pt", sd))

    net = Net().eval()
    torch.save(net, out_dir / "module.pt")
    expected.update(_expected("module.pt", net.state_dict()))
    scripted = torch.jit.script(net)
    scripted.save(str(out_dir / "script.pt"))
    expected.update(_expected("script.pt", scripted.state_dict()))
    traced = torch.jit.trace(net, torch.randn(2, 4))
    traced.save(str(out_dir / "traced.pt"))
    expected.update(_expected("traced.pt", traced.state_dict()))

    ckpt = {"epoch": 1, "global_step": 20, "pytorch-lightning_version": "2.4.0", "state_dict": net.state_dict(),
            "optimizer_states": [torch.optim.Adam(net.parameters()).state_dict()], "lr_schedulers": [],
            "hyper_parameters": {"lr": 1e-4, "embed_dim": 256}}
    torch.save(ckpt, out_dir / "lightning.ckpt")
    expected.update(_expected("lightning.ckpt", net.state_dict()))

    expected.update(_expected("pl.ckpt", _real_lightning_checkpoint(out_dir / "pl.ckpt")))

    from dall_e.encoder import Encoder
    encoder = Encoder(n_hid=16, n_blk_per_group=1, vocab_size=64)
    torch.save(encoder, out_dir / "dalle_encoder.pkl")
    expected.update(_expected("dalle_encoder.pkl", encoder.state_dict()))

    from safetensors.torch import save_file
    flat = {k: v.contiguous() for k, v in sd.items() if k not in ("transposed", "rows", "cols", "base", "scalar")}
    save_file(flat, str(out_dir / "hf.safetensors"), metadata={"format": "pt"})
    expected.update(_expected("hf.safetensors", flat))
    np.savez(out_dir / "expected.npz", **expected)
