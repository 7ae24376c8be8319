"""megforge.models.vqgan without fixtures: state-dict contract, config inference, bad input."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.needs_megengine

DDCONFIG = dict(double_z=False, z_channels=4, resolution=16, in_channels=3, out_ch=3, ch=32,
                ch_mult=[1, 2], num_res_blocks=1, attn_resolutions=[8], dropout=0.0)


def random_state_dict(model, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: (rng.standard_normal(v.shape) * 0.1).astype(np.float32) for k, v in model.named_parameters()}


@pytest.fixture(scope="module")
def state_dict() -> dict[str, np.ndarray]:
    from megforge.models import vqgan

    return random_state_dict(vqgan.VQModel(DDCONFIG, n_embed=16, embed_dim=4))


def test_shapes_determine_the_config(state_dict) -> None:
    from megforge.models import vqgan

    config = vqgan.infer_config(state_dict)
    assert config["n_embed"] == 16 and config["embed_dim"] == 4
    dd = config["ddconfig"]
    assert (dd["ch"], dd["ch_mult"], dd["num_res_blocks"], dd["z_channels"], dd["double_z"]) == (32, [1, 2], 1, 4, False)
    # attention only at the coarser level, as with attn_resolutions=[8] at resolution 16
    assert [dd["resolution"] >> i in dd["attn_resolutions"] for i in range(2)] == [False, True]


def test_round_trip_and_reference_structure(state_dict) -> None:
    import megengine as mge

    from megforge.models import vqgan

    model = vqgan.from_state_dict(state_dict)
    assert not model.training
    assert {k for k, _ in model.named_parameters()} == set(state_dict)
    x = mge.tensor(np.random.default_rng(1).uniform(-1, 1, (2, 3, 16, 16)).astype(np.float32))
    quant, loss, (perplexity, encodings, indices) = model.encode(x)
    assert quant.shape == (2, 4, 8, 8) and indices.shape == (128,) and perplexity is None and encodings is None
    assert model.decode(quant).shape == (2, 3, 16, 16)
    codes = indices.numpy().reshape(2, 8, 8)
    np.testing.assert_allclose(model.decode_code(codes).numpy(), model.decode(quant).numpy(), rtol=1e-5, atol=1e-5)
    dec, diff = model(x)
    assert dec.shape == (2, 3, 16, 16) and float(diff.numpy()) >= 0


def test_training_only_keys_are_ignored(state_dict) -> None:
    from megforge.models import vqgan

    extra = dict(state_dict)
    extra["loss.discriminator.main.0.weight"] = np.zeros((8, 3, 4, 4), np.float32)
    extra["loss.discriminator.main.1.num_batches_tracked"] = np.zeros((), np.int64)
    vqgan.from_state_dict(extra)


@pytest.mark.parametrize("change, named", [
    (lambda sd: sd.pop("decoder.mid.attn_1.q.bias"), "decoder.mid.attn_1.q.bias"),
    (lambda sd: sd.__setitem__("quantize.used", np.zeros(3, np.float32)), "quantize.used"),
    (lambda sd: sd.__setitem__("post_quant_conv.bias", np.zeros(5, np.float32)), "post_quant_conv.bias"),
    (lambda sd: sd.pop("encoder.conv_in.weight"), "encoder.conv_in.weight"),
])
def test_bad_state_dicts_name_the_key(state_dict, change, named: str) -> None:
    from megforge.errors import CheckpointError
    from megforge.models import vqgan

    bad = dict(state_dict)
    change(bad)
    with pytest.raises(CheckpointError, match=named.replace(".", r"\.")):
        vqgan.from_state_dict(bad)


def test_config_that_contradicts_the_shapes_is_an_error(state_dict) -> None:
    from megforge.errors import CheckpointError
    from megforge.models import vqgan

    with pytest.raises(CheckpointError, match="embedding.weight"):
        vqgan.from_state_dict(state_dict, {"n_embed": 32})


def test_decode_code_checks_its_input(state_dict) -> None:
    from megforge.errors import InvalidArgumentError
    from megforge.models import vqgan

    model = vqgan.from_state_dict(state_dict)
    with pytest.raises(InvalidArgumentError, match="16"):
        model.decode_code(np.full((1, 2, 2), 16))
    with pytest.raises(InvalidArgumentError, match="shape"):
        model.decode_code(np.zeros((4,), np.int64))


def test_gumbel_noise_is_seeded_and_checked() -> None:
    import megengine as mge

    from megforge.errors import InvalidArgumentError
    from megforge.models import vqgan

    quantize = vqgan.GumbelQuantize(4, 3, 8)
    for name, p in quantize.named_parameters():
        p._reset(mge.tensor(np.random.default_rng(2).standard_normal(p.shape).astype(np.float32)))
    z = mge.tensor(np.random.default_rng(3).standard_normal((1, 4, 5, 5)).astype(np.float32))
    mge.random.seed(7)
    first = quantize(z)[2][2].numpy()
    mge.random.seed(7)
    np.testing.assert_array_equal(quantize(z)[2][2].numpy(), first)
    with pytest.raises(InvalidArgumentError, match="gumbel_noise"):
        quantize(z, gumbel_noise=np.zeros((1, 8, 4, 4), np.float32))
