"""Parity fixtures for DALL-E: OpenAI's dVAE as pickled whole modules, dalle-pytorch DALLE state dicts.

Writes into ``out_dir``:
  encoder.pkl, decoder.pkl          dall_e Encoder / Decoder pickled whole with torch.save, like
                                    OpenAI's released files (zip format)
  encoder_legacy.pkl                the same encoder in torch's legacy (pre-1.6) format
  dvae_io.npz                       x (mapped pixels), logits, z (one-hot codes), stats
  dalle.pt                          DALLE.state_dict() (rotary, token shift, OpenAI dVAE inside)
  dalle_train.pt                    dalle-pytorch training checkpoint layout: hparams + weights
  dalle.json                        the DALLE kwargs (hparams)
  dalle_io.npz                      text, image, logits, logits_part, greedy, images
  dalle_vq.pt, dalle_vq.json        no rotary / no shift / sandwich / stable / shared embeddings,
                                    with a taming VQGAN as VAE
  dalle_vq_io.npz                   text, image, logits, greedy, images
  tokens.npz                        dalle-pytorch's tokenizer output for a few texts
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
from torch import nn  # noqa: E402

GREEDY = 0.999          # top_k keeps max(int(0.001 * total_tokens), 1) = 1 logit
TEXTS = ["a small red cube", "an armchair in the shape of an avocado", "Hello,   World! 123",
         "I  \u2764 caf\u00e9 \U0001F600 x=3.14 ~^"]


def _randomise(model: nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".b") or name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
            elif name.endswith("scale") or ("norm" in name and name.endswith("weight")) or "to_logits.0.weight" in name:
                p.copy_(1.0 + torch.randn(p.shape, generator=gen) * 0.1)


def make_dvae(out: Path):
    from dall_e import Decoder, Encoder, map_pixels

    torch.manual_seed(0)
    enc = Encoder(n_hid=64, n_blk_per_group=1, vocab_size=512, requires_grad=False)
    dec = Decoder(n_init=32, n_hid=64, n_blk_per_group=1, vocab_size=512, requires_grad=False)
    _randomise(enc, 1)
    _randomise(dec, 2)
    torch.save(enc, out / "encoder.pkl")
    torch.save(dec, out / "decoder.pkl")
    torch.save(enc, out / "encoder_legacy.pkl", _use_new_zipfile_serialization=False)
    gen = torch.Generator().manual_seed(3)
    x = map_pixels(torch.rand(2, 3, 32, 32, generator=gen))
    codes = torch.randint(0, 512, (2, 4, 4), generator=gen)
    z = torch.nn.functional.one_hot(codes, 512).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        logits, stats = enc(x), dec(z)
    np.savez(out / "dvae_io.npz", x=x.numpy(), logits=logits.numpy(), z=z.numpy(), stats=stats.numpy())
    return enc, dec


def _openai_vae(enc: nn.Module, dec: nn.Module) -> nn.Module:
    from dalle_pytorch.vae import OpenAIDiscreteVAE

    vae = OpenAIDiscreteVAE.__new__(OpenAIDiscreteVAE)   # its __init__ downloads the released files
    nn.Module.__init__(vae)
    vae.enc, vae.dec = enc, dec
    vae.channels, vae.num_layers, vae.image_size, vae.num_tokens = 3, 3, 32, 512
    return vae


def _vqgan_vae() -> nn.Module:
    from dalle_pytorch.vae import VQGanVAE
    from taming.models.vqgan import VQModel

    ddconfig = dict(double_z=False, z_channels=8, resolution=8, in_channels=3, out_ch=3, ch=32,
                    ch_mult=[1, 2], num_res_blocks=1, attn_resolutions=[4], dropout=0.0)
    model = VQModel(ddconfig=ddconfig, lossconfig={"target": "taming.modules.losses.vqperceptual.DummyLoss"},
                    n_embed=512, embed_dim=8)
    _randomise(model, 20)
    with torch.no_grad():
        model.quantize.embedding.weight.normal_(0, 0.5, generator=torch.Generator().manual_seed(21))
    vae = VQGanVAE.__new__(VQGanVAE)   # its __init__ downloads a released model
    nn.Module.__init__(vae)
    vae.model = model.eval()
    vae.num_layers, vae.channels, vae.image_size, vae.num_tokens, vae.is_gumbel = 1, 3, 8, 512, False
    return vae


def _run(dalle: nn.Module, out: Path, name: str, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    text = torch.randint(1, 100, (2, 8), generator=gen)
    text[0, 5:] = 0          # padding
    text[1, 3:] = 0
    image = torch.randint(0, 512, (2, 16), generator=gen)
    captured = {}
    vae_decode = dalle.vae.decode

    def decode(img_seq):
        captured["tokens"] = img_seq.clone()
        return vae_decode(img_seq)

    dalle.vae.decode = decode
    with torch.no_grad():
        logits = dalle(text, image)
        logits_part = dalle(text, image[:, :5])
        logits_text = dalle(text)
        images = dalle.generate_images(text, filter_thres=GREEDY)
    np.savez(out / f"{name}_io.npz", text=text.numpy(), image=image.numpy(), logits=logits.numpy(),
             logits_part=logits_part.numpy(), logits_text=logits_text.numpy(),
             greedy=captured["tokens"].numpy(), images=images.numpy())


def make_dalle(out: Path, enc: nn.Module, dec: nn.Module) -> None:
    from dalle_pytorch import DALLE, __version__

    torch.manual_seed(30)
    hparams = dict(num_text_tokens=100, text_seq_len=8, dim=64, depth=2, heads=4, dim_head=16,
                   reversible=False, loss_img_weight=7, attn_types=("full",), ff_dropout=0.0,
                   attn_dropout=0.0, stable=False, shift_tokens=True, rotary_emb=True,
                   shared_attn_ids=None, shared_ff_ids=None, share_input_output_emb=False)
    dalle = DALLE(vae=_openai_vae(enc, dec), **hparams).eval()
    _randomise(dalle.transformer, 31)
    _randomise(dalle.to_logits, 32)
    torch.save(dalle.state_dict(), out / "dalle.pt")
    torch.save({"hparams": hparams, "vae_params": None, "epoch": 1, "version": __version__,
                "vae_class_name": "OpenAIDiscreteVAE", "weights": dalle.state_dict()}, out / "dalle_train.pt")
    (out / "dalle.json").write_text(json.dumps(hparams, indent=1))
    _run(dalle, out, "dalle", 33)

    torch.manual_seed(40)
    hparams = dict(num_text_tokens=100, text_seq_len=8, dim=64, depth=2, heads=2, dim_head=32,
                   stable=True, shift_tokens=False, rotary_emb=False, sandwich_norm=True,
                   share_input_output_emb=True)
    dalle = DALLE(vae=_vqgan_vae(), **hparams).eval()
    _randomise(dalle.transformer, 41)
    _randomise(dalle.to_logits, 42)
    torch.save(dalle.state_dict(), out / "dalle_vq.pt")
    (out / "dalle_vq.json").write_text(json.dumps(hparams, indent=1))
    _run(dalle, out, "dalle_vq", 43)


def make_tokens(out: Path) -> None:
    refs_compat.install_tokenizer_stubs()
    from dalle_pytorch.tokenizer import tokenizer

    np.savez(out / "tokens.npz", texts=np.array(TEXTS), tokens=tokenizer.tokenize(TEXTS, 24).numpy())


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    enc, dec = make_dvae(out_dir)
    make_dalle(out_dir, enc, dec)
    make_tokens(out_dir)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
