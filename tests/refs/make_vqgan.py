"""Parity fixtures for VQGAN: seeded random taming-transformers models in Lightning ``.ckpt`` files.

Writes into ``out_dir``:
  vq.ckpt, vq.yaml, vq.json     VQModel (VectorQuantizer2) checkpoint + its taming config
  vq_io.npz                     x, quant, emb_loss, indices, dec, diff, codes, dec_codes
  gumbel.ckpt, gumbel.json      GumbelVQ checkpoint + config
  gumbel_io.npz                 x, noise, logits, indices, quant, dec
  image.png, image_rec.npz      an RGB test image and the VQModel's reconstruction of it
Checkpoints mimic Lightning's layout (``state_dict`` next to epoch, optimizer states, ...) and
carry a training-only ``loss.*`` key, as the released taming checkpoints do.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import refs_compat  # noqa: E402

refs_compat.install()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

DDCONFIG = dict(double_z=False, z_channels=8, resolution=16, in_channels=3, out_ch=3, ch=32,
                ch_mult=[1, 2], num_res_blocks=1, attn_resolutions=[8], dropout=0.0)
LOSS = {"target": "taming.modules.losses.vqperceptual.DummyLoss"}


def _config(target: str, **params: object) -> dict:
    return {"model": {"base_learning_rate": 4.5e-6, "target": target,
                      "params": {"ddconfig": DDCONFIG, "lossconfig": LOSS, **params}}}


def _randomise(model: torch.nn.Module, seed: int) -> None:
    """Seeded weights with non-trivial norms/biases (default init leaves those at 1 / 0)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1 + (1.0 if "norm" in name and name.endswith("weight") else 0.0))
            elif "embed" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)


def _save_lightning(model: torch.nn.Module, path: Path) -> None:
    state = model.state_dict()
    # the released checkpoints also hold the GAN loss (LPIPS + discriminator)
    state["loss.discriminator.main.0.weight"] = torch.randn(8, 3, 4, 4)
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=1e-4, betas=(0.5, 0.9))
    for p in params:
        p.grad = torch.zeros_like(p)
    opt.step()
    ckpt = {"epoch": 3, "global_step": 1234, "pytorch-lightning_version": "1.0.8",
            "state_dict": state, "callbacks": {}, "optimizer_states": [opt.state_dict()],
            "lr_schedulers": []}
    torch.save(ckpt, path)


def _write_yaml(config: dict, path: Path) -> None:
    from omegaconf import OmegaConf

    OmegaConf.save(OmegaConf.create(config), path)


def make_vq(out: Path) -> None:
    from taming.models.vqgan import VQModel

    torch.manual_seed(0)
    config = _config("taming.models.vqgan.VQModel", n_embed=64, embed_dim=8)
    model = VQModel(**config["model"]["params"]).eval()
    _randomise(model, 1)
    _save_lightning(model, out / "vq.ckpt")
    _write_yaml(config, out / "vq.yaml")
    (out / "vq.json").write_text(json.dumps(config, indent=1))

    gen = torch.Generator().manual_seed(2)
    x = torch.rand(2, 3, 16, 16, generator=gen) * 2 - 1
    codes = torch.randint(0, 64, (2, 8, 8), generator=gen)
    with torch.no_grad():
        quant, emb_loss, (_, _, indices) = model.encode(x)
        dec = model.decode(quant)
        dec_fwd, diff = model(x)
        z = model.quantize.get_codebook_entry(codes.reshape(-1), (2, 8, 8, 8))
        dec_codes = model.decode(z)
    assert len(set(indices.tolist())) > 8, "degenerate fixture: too few distinct codes"
    np.savez(out / "vq_io.npz", x=x.numpy(), quant=quant.numpy(), emb_loss=emb_loss.numpy(),
             indices=indices.numpy(), dec=dec.numpy(), dec_fwd=dec_fwd.numpy(), diff=diff.numpy(),
             codes=codes.numpy(), dec_codes=dec_codes.numpy())

    rgb = (np.random.default_rng(3).random((16, 16, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(out / "image.png")
    img = torch.from_numpy(rgb.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
    with torch.no_grad():
        rec = model(img)[0]
    np.savez(out / "image_rec.npz", rec=rec.numpy())


def make_gumbel(out: Path) -> None:
    from taming.models.vqgan import GumbelVQ

    torch.manual_seed(10)
    config = _config("taming.models.vqgan.GumbelVQ", n_embed=64, embed_dim=8, kl_weight=1e-8,
                     temperature_scheduler_config={"target": "taming.lr_scheduler.LambdaWarmUpCosineScheduler",
                                                   "params": {"warm_up_steps": 0, "max_decay_steps": 1000,
                                                              "lr_start": 0.9, "lr_max": 0.9, "lr_min": 1e-6}})
    model = GumbelVQ(**config["model"]["params"]).eval()
    _randomise(model, 11)
    _save_lightning(model, out / "gumbel.ckpt")
    (out / "gumbel.json").write_text(json.dumps(config, indent=1))

    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(12)) * 2 - 1
    with torch.no_grad():
        h = model.encode_to_prequant(x)
        torch.manual_seed(13)
        quant, _, (_, _, indices), logits = model.quantize(h, return_logits=True)
        torch.manual_seed(13)  # F.gumbel_softmax draws -log(Exp(1)) first: replay that draw
        noise = -torch.empty_like(logits).exponential_().log()
        dec = model.decode(quant)
    assert torch.equal((logits + noise).argmax(dim=1), indices), "gumbel noise replay failed"
    np.savez(out / "gumbel_io.npz", x=x.numpy(), noise=noise.numpy(), logits=logits.numpy(),
             indices=indices.numpy(), quant=quant.numpy(), dec=dec.numpy())


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    make_vq(out_dir)
    make_gumbel(out_dir)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
