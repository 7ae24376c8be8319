"""megforge.models.dalle / dvae / dalle_transformer without fixtures: contract, sampling, bad input."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.needs_megengine

CONFIG = dict(num_text_tokens=50, text_seq_len=6, heads=2)


def random_params(module, prefix: str = "", seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {prefix + k: (rng.standard_normal(v.shape) * 0.1).astype(np.float32) for k, v in module.named_parameters()}


@pytest.fixture(scope="module")
def state_dict() -> dict[str, np.ndarray]:
    """A reference-shaped DALLE state dict: dim 32, depth 2, 2 heads of 16, rotary + shift, dVAE."""
    from megforge.models import dalle, dvae

    enc = dvae.Encoder(n_hid=64, n_blk_per_group=1, vocab_size=512)
    dec = dvae.Decoder(n_init=16, n_hid=64, n_blk_per_group=1, vocab_size=512)
    vae = dalle.OpenAIDiscreteVAE(enc, dec, image_size=24)
    model = dalle.DALLE(dim=32, vae=vae, depth=2, dim_head=16, image_fmap_size=3, **CONFIG)
    sd = random_params(model.transformer, "transformer.")
    sd.update(random_params(model.text_emb, "text_emb.", 1))
    sd.update(random_params(model.image_emb, "image_emb.", 2))
    for i, layer in enumerate(model.to_logits):
        sd.update(random_params(layer, f"to_logits.{i}.", 3 + i))
    sd.update(random_params(enc, "vae.enc.", 5))
    sd.update(random_params(dec, "vae.dec.", 6))
    return sd


@pytest.fixture(scope="module")
def model(state_dict):
    from megforge.models import dalle

    return dalle.from_state_dict(state_dict, CONFIG)


def test_structure_follows_the_checkpoint(model, state_dict) -> None:
    assert "transformer.layers.layers.1.0.fn.fn.fn.fn.fn.to_qkv.weight" in state_dict   # shift_tokens nesting
    assert (model.text_seq_len, model.image_seq_len, model.num_text_tokens, model.total_tokens) == (6, 9, 56, 568)
    assert model.vae.image_size == 24 and not model.training


def test_logits_mask_text_and_image_positions(model) -> None:
    text = np.array([[3, 4, 0, 0, 0, 0]])
    logits = model(text, np.array([[1, 2, 3]])).numpy()                 # (1, 6+1+3, 568)
    assert logits.shape == (1, 10, 568)
    masked = logits == -3.4028234663852886e38
    assert masked[0, :6, 56:].all() and not masked[0, :6, :56].any()     # text predicts text
    assert masked[0, 6:, :56].all() and not masked[0, 6:, 56:].any()     # then image tokens


def test_sampling_is_seeded_and_greedy_ignores_the_seed(model) -> None:
    text = np.array([[3, 4, 0, 0, 0, 0], [7, 0, 0, 0, 0, 0]])
    a = model.generate_image_tokens(text, seed=1)
    np.testing.assert_array_equal(a, model.generate_image_tokens(text, seed=1))
    assert a.shape == (2, 9) and a.min() >= 0 and a.max() < 512
    g1 = model.generate_image_tokens(text, filter_thres=0.999, seed=1)
    np.testing.assert_array_equal(g1, model.generate_image_tokens(text, filter_thres=0.999, seed=2))
    steps = []
    images = model.generate_images(text[:1], filter_thres=0.999, progress=steps.append)
    assert images.shape == (1, 3, 24, 24) and len(steps) == 9
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0


def test_cache_gives_the_same_logits_and_tokens(model) -> None:
    text = np.array([[3, 4, 0, 0, 0, 0], [7, 0, 0, 0, 0, 0]])
    image = np.array([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
    full = model(text, image).numpy()
    cache: dict = {}
    parts = [model(text, image[:, :k], cache=cache).numpy() for k in (0, 1, 2, 5)]   # 7, 1, 1, 3 new rows
    assert [p.shape[1] for p in parts] == [7, 1, 1, 3] and cache["offset"] == 12
    np.testing.assert_allclose(np.concatenate(parts, axis=1), full, rtol=1e-5, atol=1e-4)
    for thres in (0.5, 0.999):
        np.testing.assert_array_equal(model.generate_image_tokens(text, filter_thres=thres, seed=4, use_cache=True),
                                      model.generate_image_tokens(text, filter_thres=thres, seed=4))
    np.testing.assert_array_equal(model.generate_image_tokens(text, cond_scale=2.0, seed=5, use_cache=True),
                                  model.generate_image_tokens(text, cond_scale=2.0, seed=5))
    one: dict = {}   # batch 1, one token per step: the shapes where MegEngine's views go wrong
    steps = [model(text[:1], image[:1, :k], cache=one).numpy() for k in range(6)]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), model(text[:1], image[:1]).numpy(), rtol=1e-5, atol=1e-4)


def test_materialize_works_around_megengine_view_broadcasting() -> None:
    import megengine as mge

    from megforge.models._torchlike import materialize

    x = np.arange(32, dtype=np.float32).reshape(4, 8)
    row = np.arange(1, 7, dtype=np.float32)
    view = mge.tensor(x)[:, :6]
    np.testing.assert_array_equal((materialize(view) * mge.tensor(row)).numpy(), x[:, :6] * row)


def test_top_k_keeps_the_reference_share() -> None:
    from megforge.models.dalle import top_k

    logits = np.array([[0.1, 0.5, -1.0, 2.0, 0.3, 0.2, 0.0, 1.0, -0.5, 0.4]])
    kept = top_k(logits, thres=0.7)            # k = int(0.3 * 10) = 3
    assert set(np.flatnonzero(np.isfinite(kept[0]))) == {1, 3, 7}
    assert np.isfinite(top_k(logits, thres=0.999)).sum() == 1


@pytest.mark.parametrize("text, image, match", [
    (np.zeros((1, 5), np.int64), None, "shape"),
    (np.full((1, 6), 50), None, "text ids"),
    (np.zeros((1, 6), np.float32), None, "integer"),
    (np.zeros((1, 6), np.int64), np.full((1, 2), 512), "image codes"),
    (np.zeros((1, 6), np.int64), np.zeros((1, 3, 8, 8), np.float32), "image must be"),
])
def test_bad_inputs_are_named(model, text, image, match: str) -> None:
    from megforge.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match=match):
        model(text, image)


def test_unsupported_options_are_errors(model, state_dict) -> None:
    from megforge.errors import CheckpointError, InvalidArgumentError
    from megforge.models import dalle

    with pytest.raises(InvalidArgumentError, match="return_loss"):
        model(np.zeros((1, 6), np.int64), return_loss=True)
    with pytest.raises(InvalidArgumentError, match="clip"):
        model.generate_images(np.zeros((1, 6), np.int64), clip=object())
    with pytest.raises(InvalidArgumentError, match="attn_types"):
        dalle.from_state_dict(state_dict, {**CONFIG, "attn_types": ("full", "axial_row")})
    with pytest.raises(InvalidArgumentError, match="heads"):
        dalle.from_state_dict(state_dict, {"text_seq_len": 6})
    with pytest.raises(InvalidArgumentError, match="text_seq_len"):   # rotary: lengths are not in the shapes
        dalle.from_state_dict(state_dict, {"heads": 2})
    with pytest.raises(InvalidArgumentError, match="square"):
        dalle.from_state_dict(state_dict, {"heads": 2, "text_seq_len": 7})
    assert dalle.from_state_dict(state_dict, {"heads": 2, "num_text_tokens": 50}).text_seq_len == 6
    no_vae = {k: v for k, v in state_dict.items() if not k.startswith("vae.")}
    with pytest.raises(CheckpointError, match="vae"):
        dalle.from_state_dict(no_vae, CONFIG)
    own_vae = {**no_vae, "vae.codebook.weight": np.zeros((512, 16), np.float32)}
    with pytest.raises(CheckpointError, match="DiscreteVAE"):
        dalle.from_state_dict(own_vae, CONFIG)


def test_bad_state_dicts_name_the_key(state_dict) -> None:
    from megforge.errors import CheckpointError
    from megforge.models import dalle

    key = "transformer.layers.layers.0.1.fn.fn.fn.fn.net.3.bias"
    with pytest.raises(CheckpointError, match="missing key.*" + key.replace(".", r"\.")):
        dalle.from_state_dict({k: v for k, v in state_dict.items() if k != key}, CONFIG)
    with pytest.raises(CheckpointError, match=r"vae\.dec\.blocks\.output\.conv\.b"):
        dalle.from_state_dict({**state_dict, "vae.dec.blocks.output.conv.b": np.zeros(7, np.float32)}, CONFIG)


def test_dvae_checks_its_input() -> None:
    import megengine as mge

    from megforge.errors import InvalidArgumentError
    from megforge.models import dvae

    enc = dvae.Encoder(n_hid=64, n_blk_per_group=1, vocab_size=512)
    with pytest.raises(InvalidArgumentError, match="channels"):
        enc(mge.tensor(np.zeros((1, 4, 8, 8), np.float32)))
    with pytest.raises(InvalidArgumentError, match="4d"):
        enc(mge.tensor(np.zeros((3, 8, 8), np.float32)))
    with pytest.raises(InvalidArgumentError, match="float32"):
        enc(mge.tensor(np.zeros((1, 3, 8, 8), np.int32)))


def test_torch_like_helpers() -> None:
    import megengine as mge

    from megforge.models.dalle_transformer import chunk, rotate_half, shift_down

    x = mge.tensor(np.arange(10, dtype=np.float32).reshape(1, 10))
    assert [p.shape[-1] for p in chunk(x, 4)] == [3, 3, 3, 1]               # torch.chunk sizes
    np.testing.assert_array_equal(rotate_half(mge.tensor(np.array([1.0, 2.0, 3.0, 4.0], np.float32))).numpy(),
                                  [-2.0, 1.0, -4.0, 3.0])
    np.testing.assert_array_equal(shift_down(mge.tensor(np.array([[1.0, 2.0, 3.0]], np.float32)), 1).numpy(),
                                  [[0.0, 1.0, 2.0]])


def test_cli_generates_from_text_with_a_safetensors_checkpoint(tmp_path, capsys) -> None:
    import argparse
    import json

    from PIL import Image

    from megforge.commands import dalle as command
    from megforge.convert import save_safetensors
    from megforge.models import dalle, dvae

    config = dict(num_text_tokens=49408, text_seq_len=8, heads=2, dim_head=16)   # CLIP BPE vocabulary
    vae = dalle.OpenAIDiscreteVAE(dvae.Encoder(n_hid=64, n_blk_per_group=1, vocab_size=512),
                                  dvae.Decoder(n_init=16, n_hid=64, n_blk_per_group=1, vocab_size=512), image_size=16)
    model = dalle.DALLE(dim=32, vae=vae, depth=1, image_fmap_size=2, **config)
    save_safetensors(tmp_path / "dalle.safetensors", random_params(model))
    (tmp_path / "dalle.json").write_text(json.dumps(config))
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["dalle", "generate", "--weights", str(tmp_path / "dalle.safetensors"),
                              "--config", str(tmp_path / "dalle.json"), "--text", "a small red cube",
                              "--seed", "0", "--num-images", "2", "--out", str(tmp_path / "img.png")])
    assert args.func(args) == 0
    for i in range(2):
        assert Image.open(tmp_path / f"img_{i}.png").size == (16, 16)
    assert "image tokens" in capsys.readouterr().err
