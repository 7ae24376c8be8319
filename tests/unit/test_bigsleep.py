"""megforge.models.bigsleep / imagine with a small random BigGAN and a stand-in image encoder."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.needs_megengine

GAN = dict(z_dim=16, class_embed_dim=16, channel_width=4, num_classes=12,
           layers=[(True, 16, 8), (True, 8, 4), (True, 4, 2), (False, 2, 1)], attention_layer_position=1)


def stand_in_encoder(resolution: int = 32, dim: int = 16):
    """Fixed random conv + linear: (N, 3, R, R) -> (N, dim); enough to give the loop a gradient."""
    import megengine as mge
    import megengine.functional as F
    import megengine.module as M

    class Encoder(M.Module):
        def __init__(self) -> None:
            super().__init__()
            rng = np.random.default_rng(7)
            self.w = mge.Tensor(rng.standard_normal((8, 3, 8, 8)).astype(np.float32) * 0.1)
            self.fc = mge.Tensor(rng.standard_normal((dim, 8 * (resolution // 8) ** 2)).astype(np.float32) * 0.1)

        def forward(self, x):
            return self.encode_image(x)

        def encode_image(self, x):
            h = F.relu(F.conv2d(x, self.w, stride=8)).reshape(x.shape[0], -1)
            return F.matmul(h, self.fc, transpose_b=True)

    return Encoder()


def make(num_cutouts: int = 6, seed: int = 0, **kw):
    from megforge.models.biggan import from_state_dict, random_state_dict
    from megforge.models.bigsleep import BigSleep, BigSleepConfig

    gan = from_state_dict(random_state_dict(GAN, seed=3), GAN)
    config = BigSleepConfig(num_cutouts=num_cutouts, input_resolution=32, **kw)
    return BigSleep(gan, stand_in_encoder(), config, seed=seed)


def test_cutouts_gather_matches_numpy_and_backpropagates():
    import megengine as mge
    from megengine.autodiff import GradManager

    from megforge.models.bigsleep import cutouts, nearest_indices

    rng = np.random.default_rng(0)
    image = mge.Parameter(rng.standard_normal((1, 3, 20, 20)).astype(np.float32))
    boxes = np.array([(15, 2, 5), (10, 10, 0), (20, 0, 0)])
    weights = rng.standard_normal((3, 3, 32, 32)).astype(np.float32)
    gm = GradManager().attach([image])
    with gm:
        crops = cutouts(image, boxes, 32)
        gm.backward((crops * mge.Tensor(weights)).sum())
    expected_grad = np.zeros((3, 20, 20), np.float32)
    for k, (size, y, x) in enumerate(boxes):
        idx = nearest_indices(size, 32)
        crop = image.numpy()[0][:, y + idx][:, :, x + idx]
        np.testing.assert_array_equal(crops.numpy()[k], crop)
        for i, yi in enumerate(y + idx):
            for j, xj in enumerate(x + idx):
                expected_grad[:, yi, xj] += weights[k, :, i, j]
    np.testing.assert_allclose(image.grad.numpy()[0], expected_grad, rtol=1e-5, atol=1e-5)


def test_nearest_indices_follow_pytorch_rule():
    from megforge.models.bigsleep import nearest_indices

    np.testing.assert_array_equal(nearest_indices(4, 8), [0, 0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(nearest_indices(10, 4), [0, 2, 5, 7])  # floor(i * 2.5)
    assert nearest_indices(204, 224)[-1] == 203


@pytest.mark.parametrize("center_bias", [False, True])
def test_cutout_boxes_stay_inside(center_bias):
    from megforge.models.bigsleep import cutout_boxes

    boxes = cutout_boxes(np.random.default_rng(1), 64, 200, center_bias=center_bias)
    size, y, x = boxes.T
    assert size.min() >= 32 and size.max() <= int(64 * 0.95)
    assert y.min() >= 0 and x.min() >= 0 and np.all(y + size <= 64) and np.all(x + size <= 64)
    assert len(set(size)) > 5


def test_losses_match_numpy_formulas():
    import megengine as mge

    from megforge.models.bigsleep import class_loss, latent_loss

    rng = np.random.default_rng(2)
    z = rng.standard_normal((4, 16)).astype(np.float32) * 1.3
    c = rng.uniform(0, 1, (4, 12)).astype(np.float32)
    zs = (z - z.mean(1, keepdims=True)) / z.std(1, keepdims=True)
    expected = (np.abs(1 - z.std(1, ddof=1)).mean() + np.abs(z.mean(1)).mean() + 4 * max((z**2).mean(), 1.0)
                + (np.abs((zs**4).mean(1) - 3) + np.abs((zs**3).mean(1))).sum() / 4)
    assert latent_loss(mge.Tensor(z)).item() == pytest.approx(expected, rel=1e-5)
    smallest = np.sort(c, axis=1)[:, :-1]
    assert class_loss(mge.Tensor(c)).item() == pytest.approx(((50 * smallest) ** 2).mean(), rel=1e-5)


def test_ema_is_bias_corrected():
    model = make()
    first = model.latents.normu.numpy().copy()
    np.testing.assert_allclose(model.ema.average["normu"], first)  # first update: average == value
    model.latents.normu._reset(first + 1.0)
    model.ema.update()
    d = model.config.ema_decay
    expected = (d * (1 - d) * first + (1 - d) * (first + 1)) / (1 - d**2)
    np.testing.assert_allclose(model.ema.average["normu"], expected, rtol=1e-5)


def test_steps_raise_similarity_to_the_target():
    """Target = the encoder's embedding of a fixed image; a few Adam steps move the output towards it."""
    import megengine as mge

    from megforge.models.bigsleep import CLIP_MEAN, CLIP_STD

    model = make(num_cutouts=4, lr=0.05)
    target_image = np.zeros((1, 3, 32, 32), np.float32)
    target_image[:, 0, :16] = 1.0  # red top half
    target = model.perceptor.encode_image(mge.Tensor((target_image - CLIP_MEAN.reshape(1, 3, 1, 1))
                                                     / CLIP_STD.reshape(1, 3, 1, 1))).numpy()
    boxes = np.array([(32, 0, 0)] * 4)
    before, _ = model.loss_and_grads([target], boxes=boxes)
    for _ in range(8):
        model.step([target], boxes=boxes)
    after, _ = model.loss_and_grads([target], boxes=boxes)
    assert after["sim_loss"] < before["sim_loss"] - 1.0, (before, after)


def test_max_classes_keeps_k_classes_per_row():
    import megengine as mge

    from megforge.models.bigsleep import differentiable_topk

    x = mge.Tensor(np.random.default_rng(3).standard_normal((3, 12)).astype(np.float32))
    out = differentiable_topk(x, 2, 2.0).numpy()
    assert np.all((out > 0).sum(axis=1) == 2) and np.isfinite(out).all()
    assert make(max_classes=2).ema_image().shape == (3, 32, 32)


def test_imagine_writes_snapshots(tmp_path):
    from PIL import Image

    from megforge.models.imagine import imagine, text_path

    model = make(num_cutouts=2)
    embed = {"red": np.ones((1, 16), np.float32), "blue": -np.ones((1, 16), np.float32)}
    paths = imagine(model, "red|red", embed.__getitem__, steps=3, out_dir=tmp_path, text_min="blue",
                    save_every=2, progress=False)
    assert [p.name for p in paths] == ["red--red_wout_blue.step00002.png", "red--red_wout_blue.step00003.png"]
    assert (tmp_path / "red--red_wout_blue.png").is_file()
    with Image.open(paths[-1]) as im:
        assert im.size == (32, 32) and im.mode == "RGB"
    assert text_path("a sunset, over-the sea") == "a_sunset_over_the_sea"


def test_bad_arguments():
    from megforge.errors import InvalidArgumentError
    from megforge.models.bigsleep import cutouts
    from megforge.models.imagine import imagine

    model = make()
    with pytest.raises(InvalidArgumentError, match="cutout box"):
        cutouts(model.image(*model.latents()), np.array([(30, 10, 0)]), 32)
    with pytest.raises(InvalidArgumentError, match="empty phrase"):
        imagine(model, "red||blue", lambda t: np.ones((1, 16), np.float32), 1, "/tmp/unused", progress=False)
    with pytest.raises(InvalidArgumentError, match="steps"):
        imagine(model, "red", lambda t: np.ones((1, 16), np.float32), 0, "/tmp/unused", progress=False)
    with pytest.raises(InvalidArgumentError, match="max_classes"):
        make(max_classes=13)
