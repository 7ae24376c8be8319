"""CLIP on MegEngine with tiny random configs: config inference, behaviour, bad weights and inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from clip_weights import TINY_RN, TINY_VIT, random_state_dict

from megforge.errors import CheckpointError, InvalidArgumentError, InvalidTypeError

pytestmark = pytest.mark.needs_megengine


@pytest.fixture(scope="module")
def clip():  # noqa: ANN201 - the module
    from megforge.models import clip as module
    return module


def _image(config: dict, n: int = 2, seed: int = 0) -> np.ndarray:
    r = config["image_resolution"]
    return np.random.default_rng(seed).standard_normal((n, 3, r, r)).astype(np.float32)


def _text(rows: list[list[int]], length: int = 12) -> np.ndarray:
    out = np.zeros((len(rows), length), np.int64)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


TEXT = _text([[98, 5, 7, 99], [98, 11, 12, 13, 14, 99], [98, 99]])


@pytest.mark.parametrize("config", [TINY_VIT, TINY_RN], ids=["vit", "resnet"])
def test_config_inference_and_forward_structure(clip, config: dict) -> None:  # noqa: ANN001
    state = random_state_dict(config)
    inferred = clip.config_from_state_dict(state)
    assert inferred == dict(config, transformer_heads=config["transformer_width"] // 64)
    model = clip.from_state_dict(state, config={"transformer_heads": config["transformer_heads"]})
    assert not model.training and model.image_resolution == config["image_resolution"]
    image_features = model.encode_image(_image(config)).numpy()
    text_features = model.encode_text(TEXT).numpy()
    assert image_features.shape == (2, 16) and text_features.shape == (3, 16)
    assert image_features.dtype == np.float32
    logits_per_image, logits_per_text = (t.numpy() for t in model(_image(config), TEXT))
    normed_i = image_features / np.linalg.norm(image_features, axis=-1, keepdims=True)
    normed_t = text_features / np.linalg.norm(text_features, axis=-1, keepdims=True)
    np.testing.assert_allclose(logits_per_image, 20.0 * normed_i @ normed_t.T, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(logits_per_text, logits_per_image.T)


def test_batch_elements_are_independent(clip) -> None:  # noqa: ANN001
    model = clip.from_state_dict(random_state_dict(TINY_VIT), config={"transformer_heads": 2})
    images = _image(TINY_VIT, n=3)
    together = model.encode_image(images).numpy()
    alone = np.concatenate([model.encode_image(images[i:i + 1]).numpy() for i in range(3)])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)


def test_text_attention_is_causal_and_uses_the_eot_token(clip) -> None:  # noqa: ANN001
    model = clip.from_state_dict(random_state_dict(TINY_VIT), config={"transformer_heads": 2})
    base = _text([[98, 5, 7, 99, 0, 0]])
    after = _text([[98, 5, 7, 99, 42, 17]])  # tokens after the end token cannot be attended
    before = _text([[98, 6, 7, 99, 0, 0]])
    f = [model.encode_text(t).numpy() for t in (base, after, before)]
    np.testing.assert_allclose(f[0], f[1], rtol=1e-5, atol=1e-6)
    assert np.abs(f[0] - f[2]).max() > 1e-4
    shorter = model.encode_text(base[:, :4]).numpy()  # n_ctx < context_length
    np.testing.assert_allclose(shorter, f[0], rtol=1e-5, atol=1e-6)


def test_head_count_from_config_matters(clip) -> None:  # noqa: ANN001
    state = random_state_dict(TINY_VIT)
    one = clip.from_state_dict(state).encode_text(TEXT).numpy()
    two = clip.from_state_dict(state, config={"transformer_heads": 2}).encode_text(TEXT).numpy()
    assert np.abs(one - two).max() > 1e-4  # float noise is ~1e-7


def test_ignored_and_metadata_entries_and_fp16(clip) -> None:  # noqa: ANN001
    state = random_state_dict(TINY_RN)
    reference = clip.from_state_dict(state).encode_image(_image(TINY_RN)).numpy()
    extra = dict(state, **{"visual.bn1.num_batches_tracked": np.array(3), "transformer.resblocks.0.attn_mask":
                           np.zeros((12, 12), np.float32), "input_resolution": np.array(64),
                           "context_length": np.array(12), "vocab_size": np.array(100)})
    np.testing.assert_allclose(clip.from_state_dict(extra).encode_image(_image(TINY_RN)).numpy(), reference,
                               rtol=1e-5, atol=1e-6)
    half = {k: v.astype(np.float16) for k, v in state.items()}
    widened = {k: v.astype(np.float32) for k, v in half.items()}
    np.testing.assert_allclose(clip.from_state_dict(half).encode_image(_image(TINY_RN)).numpy(),
                               clip.from_state_dict(widened).encode_image(_image(TINY_RN)).numpy(), rtol=1e-6)
    with pytest.raises(CheckpointError, match="input_resolution"):
        clip.from_state_dict(dict(state, input_resolution=np.array(224)))


def test_safetensors_round_trip(clip, tmp_path: Path) -> None:  # noqa: ANN001
    from megforge.convert import save_safetensors
    model = clip.from_state_dict(random_state_dict(TINY_VIT), config={"transformer_heads": 2})
    save_safetensors(tmp_path / "tiny.safetensors", clip.state_dict_of(model))
    again = clip.load(tmp_path / "tiny.safetensors", config={"transformer_heads": 2})
    np.testing.assert_array_equal(again.encode_text(TEXT).numpy(), model.encode_text(TEXT).numpy())


def test_bad_state_dicts_name_the_keys(clip) -> None:  # noqa: ANN001
    state = random_state_dict(TINY_VIT)
    missing = {k: v for k, v in state.items() if k != "visual.ln_post.bias"}
    with pytest.raises(CheckpointError, match=r"missing keys: visual\.ln_post\.bias"):
        clip.from_state_dict(missing)
    with pytest.raises(CheckpointError, match=r"unexpected keys: visual\.extra\.weight"):
        clip.from_state_dict(dict(state, **{"visual.extra.weight": np.zeros(3, np.float32)}))
    bad = dict(state, **{"transformer.resblocks.0.mlp.c_fc.weight": np.zeros((256, 63), np.float32)})
    with pytest.raises(CheckpointError, match=r"c_fc\.weight \(expected \(256, 64\), got \(256, 63\)\)"):
        clip.from_state_dict(bad)
    with pytest.raises(CheckpointError, match="missing keys: text_projection"):
        clip.from_state_dict({k: v for k, v in state.items() if k != "text_projection"})
    with pytest.raises(InvalidTypeError, match="logit_scale"):
        clip.from_state_dict(dict(state, logit_scale=np.array(3)))
    with pytest.raises(InvalidTypeError, match="mapping|map"):
        clip.from_state_dict([1, 2])
    with pytest.raises(InvalidArgumentError, match="unknown CLIP config fields"):
        clip.from_state_dict(state, config={"heads": 2})
    with pytest.raises(InvalidArgumentError, match="attention heads"):
        clip.from_state_dict(state, config={"transformer_heads": 3})


def test_image_tensors_keep_their_gradient(clip) -> None:  # noqa: ANN001
    import megengine as mge
    from megengine.autodiff import GradManager

    model = clip.from_state_dict(random_state_dict(TINY_VIT), config={"transformer_heads": 2})
    image = mge.Parameter(_image(TINY_VIT, n=1))
    gm = GradManager().attach([image])
    with gm:
        features = model.encode_image(image)
        gm.backward((features ** 2).sum())
    assert image.grad is not None and float(np.abs(image.grad.numpy()).max()) > 0
    np.testing.assert_allclose(features.numpy(), model.encode_image(image.numpy()).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(InvalidArgumentError, match="shape"):
        model.encode_image(mge.tensor(_image(TINY_VIT)[:, :1]))


def test_bad_inputs(clip) -> None:  # noqa: ANN001
    model = clip.from_state_dict(random_state_dict(TINY_VIT), config={"transformer_heads": 2})
    image = _image(TINY_VIT)
    for bad, error, message in [
        (image[:, :, :16], InvalidArgumentError, r"\(N, 3, 32, 32\)"),
        (image[:, :1], InvalidArgumentError, "shape"),
        (image[0], InvalidArgumentError, "shape"),
        ((image * 255).astype(np.uint8), InvalidTypeError, "float"),
        (np.full_like(image, np.nan), InvalidArgumentError, "NaN"),
        (image.tolist(), InvalidTypeError, "numpy array"),
    ]:
        with pytest.raises(error, match=message):
            model.encode_image(bad)
    for bad, error, message in [
        (TEXT[0], InvalidArgumentError, r"\(N, n_ctx\)"),
        (np.zeros((1, 13), np.int64), InvalidArgumentError, "n_ctx <= 12"),
        (_text([[98, 100]]), InvalidArgumentError, r"\[0, 100\)"),
        (_text([[-1, 99]]), InvalidArgumentError, r"\[0, 100\)"),
        (TEXT.astype(np.float32), InvalidTypeError, "integer"),
    ]:
        with pytest.raises(error, match=message):
            model.encode_text(bad)
