"""megforge.models.biggan without reference fixtures: loading rules, errors, spectral norm, layerwise mode."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.needs_megengine

CONFIG = dict(z_dim=8, class_embed_dim=8, channel_width=4, num_classes=5,
              layers=[(True, 16, 8), (True, 8, 4), (False, 4, 2), (True, 2, 1)], attention_layer_position=1,
              eps=1e-4, n_stats=5)


def random_state_dict(seed: int = 0) -> dict[str, np.ndarray]:
    """A state dict with the reference's keys (taken from our own model) and random values."""
    from megforge.models.biggan import BigGAN, BigGANConfig

    rng = np.random.default_rng(seed)
    keys = BigGAN(BigGANConfig.from_dict(CONFIG)).state_dict()
    state = {}
    for key, value in keys.items():
        shape = value.shape
        if key.endswith("running_vars"):
            state[key] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        elif key.endswith(("weight_u", "weight_v")):
            v = rng.standard_normal(shape)
            state[key] = (v / np.linalg.norm(v)).astype(np.float32)
        else:
            state[key] = (rng.standard_normal(shape) * 0.3).astype(np.float32)
    return state


def inputs(n: int = 2, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, CONFIG["z_dim"])).astype(np.float32)
    label = np.eye(CONFIG["num_classes"], dtype=np.float32)[rng.integers(CONFIG["num_classes"], size=n)]
    return z, label


def test_round_trip_and_output_shape():
    from megforge.models.biggan import from_state_dict

    state = random_state_dict()
    model = from_state_dict(state, CONFIG)
    assert not model.training
    out = model(*inputs(), 0.5).numpy()
    assert out.shape == (2, 3, 32, 32)  # 4 -> 8 -> 16 -> 16 -> 32
    assert np.all(np.abs(out) <= 1) and out.std() > 0
    again = from_state_dict(dict(model.state_dict()), CONFIG)(*inputs(), 0.5).numpy()
    np.testing.assert_array_equal(out, again)


def test_spectral_norm_uses_stored_vectors():
    """weight = weight_orig / (u . W v), with no power iteration, as torch's eval mode."""
    from megforge.models.biggan import from_state_dict

    state = random_state_dict()
    model = from_state_dict(state, CONFIG)
    w, u, v = (state[f"generator.gen_z.{n}"] for n in ("weight_orig", "weight_u", "weight_v"))
    expected = w / (u @ (w @ v))
    np.testing.assert_allclose(model.generator.gen_z.weight().numpy(), expected, rtol=1e-5)
    # a plain (already normalised) weight is used as is
    plain = {k: v for k, v in state.items() if not k.startswith("generator.gen_z.weight")}
    plain["generator.gen_z.weight"] = expected
    out_plain = from_state_dict(plain, CONFIG)(*inputs(), 1.0).numpy()
    np.testing.assert_allclose(out_plain, model(*inputs(), 1.0).numpy(), atol=1e-5)


def test_truncation_interpolates_statistics_like_the_reference():
    """Between grid points the lower index gets weight ``coef`` (the reference's quirk)."""
    from megforge.models.biggan import from_state_dict

    model = from_state_dict(random_state_dict(), CONFIG)
    bn = model.generator.bn
    means = bn.running_means.numpy()
    mean, _ = bn.statistics(0.6)  # 0.6 / 0.25 = 2.4 -> coef 0.4 on index 2
    np.testing.assert_allclose(mean.numpy(), means[2] * 0.4 + means[3] * 0.6, rtol=1e-5)
    np.testing.assert_array_equal(bn.statistics(0.5)[0].numpy(), means[2])


def test_layerwise_with_equal_rows_equals_forward():
    from megforge.models.biggan import from_state_dict

    model = from_state_dict(random_state_dict(), CONFIG)
    z, label = inputs(n=1)
    stages = len(CONFIG["layers"]) + 1
    layerwise = model.forward_layerwise(np.repeat(z, stages, 0), np.repeat(label, stages, 0), 1.0).numpy()
    np.testing.assert_allclose(layerwise, model(z, label, 1.0).numpy(), atol=1e-6)
    z2 = np.repeat(z, stages, 0)
    z2[2] += 1.0  # the second GenBlock's latent matters
    assert np.abs(model.forward_layerwise(z2, np.repeat(label, stages, 0), 1.0).numpy() - layerwise).max() > 1e-4


@pytest.mark.parametrize("edit, match", [
    (lambda s: s.pop("generator.layers.0.bn_1.scale.weight_u"), "generator.layers.0.bn_1.scale.weight_u"),
    (lambda s: s.update({"generator.extra": np.zeros(1, np.float32)}), "generator.extra"),
    (lambda s: s.update({"generator.bn.weight": np.zeros(3, np.float32)}), "generator.bn.weight"),
    (lambda s: s.update({"generator.bn.bias": np.zeros(4, np.int64)}), "dtype"),
])
def test_bad_state_dict_names_the_key(edit, match):
    from megforge.errors import CheckpointError
    from megforge.models.biggan import from_state_dict

    state = random_state_dict()
    edit(state)
    with pytest.raises(CheckpointError, match=match):
        from_state_dict(state, CONFIG)


def test_config_rules():
    from megforge.errors import CheckpointError, InvalidArgumentError
    from megforge.models.biggan import from_state_dict

    state = random_state_dict()
    with pytest.raises(CheckpointError, match="layers"):
        from_state_dict(state)  # not a released layout: up-sampling pattern unknown
    with pytest.raises(CheckpointError, match="num_classes"):
        from_state_dict(state, {**CONFIG, "num_classes": 1000})
    with pytest.raises(InvalidArgumentError, match="colour"):
        from_state_dict(state, {**CONFIG, "colour": 1})
    model = from_state_dict(state, {"layers": CONFIG["layers"]})  # shapes give the rest
    assert model.config.output_dim == 32 and model.config.num_classes == 5


@pytest.mark.parametrize("z_shape, label_shape, truncation, match", [
    ((2, 8), (2, 5), 0.0, "truncation"),
    ((2, 8), (2, 5), 1.5, "truncation"),
    ((2, 7), (2, 5), 1.0, "z must be"),
    ((2, 8), (3, 5), 1.0, "class_label"),
])
def test_bad_inputs(z_shape, label_shape, truncation, match):
    from megforge.errors import InvalidArgumentError
    from megforge.models.biggan import from_state_dict

    model = from_state_dict(random_state_dict(), CONFIG)
    with pytest.raises(InvalidArgumentError, match=match):
        model(np.zeros(z_shape, np.float32), np.zeros(label_shape, np.float32), truncation)
