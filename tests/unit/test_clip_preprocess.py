"""CLIP preprocessing: geometry, normalisation, PIL vs OpenCV, bad and corrupt images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")  # the py311 release env has no Pillow

from megforge.errors import InvalidArgumentError, InvalidTypeError  # noqa: E402
from megforge.models.clip.preprocess import MEAN, STD, crop_box, load_image, preprocess, resized_size  # noqa: E402


def _photo(height: int = 180, width: int = 240, seed: int = 0) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 / width, yy * 255 / height, (xx + yy) % 256], -1)
    noise = np.random.default_rng(seed).normal(0, 8, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def test_geometry_follows_torchvision_rules() -> None:
    assert resized_size(640, 480, 224) == (298, 224)  # int(224 * 640 / 480)
    assert resized_size(480, 640, 224) == (224, 298)
    assert resized_size(224, 224, 224) == (224, 224)
    assert crop_box(298, 224, 224) == (37, 0, 261, 224)  # round(74 / 2) = 37
    assert crop_box(225, 225, 224) == (0, 0, 224, 224)  # round(0.5) = 0 (banker's rounding)
    assert crop_box(227, 227, 224) == (2, 2, 226, 226)  # round(1.5) = 2


def test_constant_image_normalises_exactly() -> None:
    image = Image.new("RGB", (300, 200), (10, 128, 250))
    out = preprocess(image, 64)
    assert out.shape == (3, 64, 64) and out.dtype == np.float32
    want = (np.array([10, 128, 250], np.float32) / 255 - MEAN) / STD
    np.testing.assert_allclose(out[:, 5, 7], want, rtol=1e-6)
    np.testing.assert_allclose(out.std(axis=(1, 2)), 0, atol=1e-6)


def test_array_and_pil_inputs_agree_and_modes_convert() -> None:
    rgb = _photo()
    np.testing.assert_array_equal(preprocess(rgb, 96), preprocess(Image.fromarray(rgb), 96))
    grey = Image.fromarray(rgb).convert("L")
    out = preprocess(grey, 96)
    np.testing.assert_allclose(out[0] * STD[0] + MEAN[0], out[1] * STD[1] + MEAN[1], atol=1e-6)  # R == G
    assert preprocess(Image.fromarray(rgb).convert("RGBA"), 96).shape == (3, 96, 96)


def test_opencv_path_is_close_but_not_identical() -> None:
    pytest.importorskip("cv2")
    rgb = _photo(360, 480)
    pil, cv = preprocess(rgb, 224), preprocess(rgb, 224, backend="cv2")
    diff = np.abs(pil - cv)
    assert diff.max() > 0  # different resampling kernels
    assert diff.mean() < 0.05  # in normalised units; bench/clip_preprocess_diff.py measures more
    same_size = _photo(224, 224)  # no resize: only the crop, identical
    np.testing.assert_array_equal(preprocess(same_size, 224), preprocess(same_size, 224, backend="cv2"))


@pytest.mark.parametrize("bad, error, message", [
    (np.zeros((10, 10, 4), np.uint8), InvalidArgumentError, "RGB uint8"),
    (np.zeros((10, 10), np.uint8), InvalidArgumentError, "RGB uint8"),
    (np.zeros((10, 10, 3), np.float32), InvalidArgumentError, "RGB uint8"),
    (np.zeros((0, 10, 3), np.uint8), InvalidArgumentError, "RGB uint8"),
    (Image.new("F", (10, 10)), InvalidArgumentError, "mode 'F'"),
    (Image.new("I;16", (10, 10)), InvalidArgumentError, "mode 'I;16'"),
    ("cat.jpg", InvalidTypeError, "PIL image"),
])
def test_bad_images(bad: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        preprocess(bad, 32)


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="backend"):
        preprocess(_photo(), 32, backend="skimage")
    with pytest.raises(InvalidArgumentError, match="n_px"):
        preprocess(_photo(), 0)
    with pytest.raises(InvalidArgumentError, match="too large"):
        preprocess(Image.new("RGB", (20000, 1)), 224)


def test_corrupt_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    Image.fromarray(_photo()).save(path)
    assert load_image(path).size == (240, 180)
    data = path.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.jpg").write_bytes(b"not an image at all")
    for name in ("cut.png", "junk.jpg", "absent.png"):
        with pytest.raises(InvalidArgumentError, match=name):
            load_image(tmp_path / name)
