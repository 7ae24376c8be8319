"""Reference BigSleep step (big-sleep 0.9.1's algorithm) with pytorch-pretrained-biggan + clip-anytorch.

big-sleep itself refuses to import without CUDA, so its step is written out here from
its source (facts, not code): the layer-wise generator (row 0 of the latents feeds gen_z,
row k the k-th GenBlock), crops nearest-resized to CLIP's 224, CLIP normalisation, and
its three losses. The random parts are fixed: latents and crop boxes are inputs.

Writes into out_dir:
  biggan/pytorch_model.bin, biggan/config.json   seeded random BigGAN (settled spectral norm)
  clip.pt                                        seeded random fp32 CLIP state dict (torch.save)
  step.npz   inputs: normu (L+1, z_dim), cls (L+1, classes), boxes (K, 3) = (size, y, x), tokens (1, 77),
             text_embed (1, D)
             outputs: image (1, 3, S, S), lat_loss, cls_loss, sim_loss, loss,
             grad_normu, grad_cls (d loss / d latents), normu_after, cls_after (one Adam step, lr 0.07)
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_pretrained_biggan.model import GenBlock

HERE = Path(__file__).resolve().parent
PROMPT = "a sunset over the sea"
BIGGAN = dict(output_dim=64, z_dim=128, class_embed_dim=128, channel_width=8, num_classes=1000,
              layers=[(False, 16, 16), (True, 16, 8), (True, 8, 4), (True, 4, 2), (True, 2, 1)],
              attention_layer_position=3, eps=1e-4, n_stats=51)
# build_model-compatible (heads = width // 64) ViT: loads from shapes alone.
CLIP_CONFIG = dict(embed_dim=32, image_resolution=224, vision_layers=2, vision_width=64, vision_patch_size=32,
                   context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1,
                   transformer_layers=2)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
NUM_CUTOUTS = 8
LOSS_COEF = 100.0
LR = 0.07


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _clip_modules():
    """clip-anytorch's model.py and simple_tokenizer.py, loaded by path: its package __init__
    imports torchvision, which does not work in this env."""
    spec = importlib.util.find_spec("clip")
    root = Path(spec.submodule_search_locations[0])
    return _load("clip_model", root / "model.py"), _load("clip_simple_tokenizer", root / "simple_tokenizer.py")


def tokenize(tokenizer, text: str, context_length: int = 77) -> torch.Tensor:
    """clip.tokenize for one string: [sot] + BPE + [eot], zero-padded to (1, context_length)."""
    ids = [tokenizer.encoder["<|startoftext|>"], *tokenizer.encode(text), tokenizer.encoder["<|endoftext|>"]]
    tokens = torch.zeros(1, context_length, dtype=torch.long)
    tokens[0, : len(ids)] = torch.tensor(ids)
    return tokens


def layerwise(biggan, normu: torch.Tensor, classes: torch.Tensor, truncation: float) -> torch.Tensor:
    """big-sleep's Generator.forward: one condition row per stage, batch 1."""
    cond = torch.cat((normu, biggan.embeddings(classes)), dim=1)
    g = biggan.generator
    z = g.gen_z(cond[0:1]).view(-1, 4, 4, 16 * biggan.config.channel_width).permute(0, 3, 1, 2)
    k = 1
    for layer in g.layers:
        if isinstance(layer, GenBlock):
            z = layer(z, cond[k : k + 1], truncation)
            k += 1
        else:
            z = layer(z)
    z = g.conv_to_rgb(g.relu(g.bn(z, truncation)))
    return torch.tanh(z[:, :3])


def losses(normu, classes, image_embed, text_embed):
    """big-sleep's lat_loss, cls_loss (k = num_classes - 1; 999 in big-sleep) and sim_loss."""
    lat_loss = (torch.abs(1 - torch.std(normu, dim=1)).mean() + torch.abs(torch.mean(normu, dim=1)).mean()
                + 4 * torch.max(torch.square(normu).mean(), torch.tensor(1)))
    for row in normu:
        diffs = row - row.mean()
        zscores = diffs / torch.pow(torch.mean(torch.pow(diffs, 2.0)), 0.5)
        skew = torch.mean(torch.pow(zscores, 3.0))
        kurtosis = torch.mean(torch.pow(zscores, 4.0)) - 3.0
        lat_loss = lat_loss + torch.abs(kurtosis) / len(normu) + torch.abs(skew) / len(normu)
    k = classes.shape[1] - 1
    cls_loss = ((50 * torch.topk(classes, largest=False, dim=1, k=k)[0]) ** 2).mean()
    sim_loss = -LOSS_COEF * torch.cosine_similarity(text_embed, image_embed, dim=-1).mean()
    return lat_loss, cls_loss, sim_loss


def _make(out_dir: Path) -> None:
    clip_model, clip_tokenizer = _clip_modules()
    biggan = _load("make_biggan", HERE / "make_biggan.py").make_model(BIGGAN, 3000)
    (out_dir / "biggan").mkdir(parents=True, exist_ok=True)
    torch.save(biggan.state_dict(), out_dir / "biggan" / "pytorch_model.bin")
    (out_dir / "biggan" / "config.json").write_text(json.dumps(BIGGAN, indent=2, sort_keys=True) + "\n")

    torch.manual_seed(3001)
    perceptor = clip_model.CLIP(**CLIP_CONFIG).float().eval()
    torch.save(perceptor.state_dict(), out_dir / "clip.pt")

    rng = np.random.default_rng(3002)
    stages, width = len(BIGGAN["layers"]) + 1, BIGGAN["output_dim"]
    normu = rng.standard_normal((stages, BIGGAN["z_dim"])).astype(np.float32)
    cls = rng.normal(-3.9, 0.3, (stages, BIGGAN["num_classes"])).astype(np.float32)
    sizes = [int(width * float(np.clip(rng.normal(0.8, 0.3), 0.5, 0.95))) for _ in range(NUM_CUTOUTS)]
    boxes = np.array([(s, rng.integers(0, width - s + 1), rng.integers(0, width - s + 1)) for s in sizes])

    tokens = tokenize(clip_tokenizer.SimpleTokenizer(), PROMPT)
    with torch.no_grad():
        text_embed = perceptor.encode_text(tokens)

    normu_t = torch.tensor(normu, requires_grad=True)
    cls_t = torch.tensor(cls, requires_grad=True)
    classes = torch.sigmoid(cls_t)
    out = (layerwise(biggan, normu_t, classes, 1.0) + 1) / 2
    res = CLIP_CONFIG["image_resolution"]
    pieces = [F.interpolate(out[:, :, y : y + s, x : x + s], (res, res), mode="nearest") for s, y, x in boxes]
    into = (torch.cat(pieces) - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    image_embed = perceptor.encode_image(into)
    lat_loss, cls_loss, sim_loss = losses(normu_t, classes, image_embed, text_embed)
    loss = lat_loss + cls_loss + sim_loss
    optimizer = torch.optim.Adam([normu_t, cls_t], lr=LR)
    loss.backward()
    grads = normu_t.grad.numpy().copy(), cls_t.grad.numpy().copy()
    optimizer.step()

    np.savez(out_dir / "step.npz", normu=normu, cls=cls, boxes=boxes, tokens=tokens.numpy(),
             text_embed=text_embed.numpy(), image=out.detach().numpy(), lat_loss=lat_loss.item(),
             cls_loss=cls_loss.item(), sim_loss=sim_loss.item(), loss=loss.item(),
             grad_normu=grads[0], grad_cls=grads[1], normu_after=normu_t.detach().numpy(),
             cls_after=cls_t.detach().numpy(), prompt=PROMPT, lr=LR, loss_coef=LOSS_COEF)


def main(out_dir: Path) -> None:
    """Small models: one torch thread is faster than two contending ones on a shared 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _make(out_dir)
    finally:
        torch.set_num_threads(threads)
