"""CLIP image preprocessing: the reference's torchvision pipeline, reproduced with PIL.

Reference (openai/CLIP ``_transform(n_px)``): ``Resize(n_px, BICUBIC)`` (short side to
``n_px``, long side ``int(n_px * long / short)``, PIL bicubic with antialiasing) ->
``CenterCrop(n_px)`` (offsets ``int(round((size - n_px) / 2))``) -> ``convert("RGB")`` ->
``ToTensor`` (/255, HWC -> CHW) -> ``Normalize(MEAN, STD)``. The PIL path does exactly these
PIL calls, so it matches the reference bit for bit on the same Pillow.

``backend="cv2"`` resizes with OpenCV's ``INTER_CUBIC`` instead: OpenCV's cubic kernel
uses a = -0.75 (PIL: -0.5) and does not low-pass when shrinking, so pixels differ from the
reference: measured mean |diff| 0.14 normalised units (9 grey levels) shrinking 640x480,
0.24 for 1920x1080, 0.012 when enlarging; ``bench/clip_preprocess_diff.py`` (figures in its
docstring). With no resize (image already ``n_px`` on the short side) both paths agree exactly.
RGBA/palette images: the cv2 path converts to RGB before resizing, the reference after.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from megforge.errors import InvalidArgumentError, InvalidTypeError

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
# 8-bit photographic PIL modes that convert("RGB") maps meaningfully (the reference accepts these)
PIL_MODES = ("RGB", "RGBA", "RGBX", "L", "LA", "La", "P", "PA", "1", "CMYK", "YCbCr")
MAX_RESIZED_PIXELS = 64 * 1024 * 1024  # an extreme aspect ratio would make the resize huge


def load_image(path: str | Path) -> Any:
    """Open and fully decode an image file with PIL; unreadable or corrupt files raise InvalidArgumentError."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidArgumentError(f"cannot read image {path}: {exc}") from exc


def resized_size(width: int, height: int, n_px: int) -> tuple[int, int]:
    """(width, height) after scaling the short side to ``n_px`` (torchvision's rule)."""
    size = (n_px, int(n_px * height / width)) if width <= height else (int(n_px * width / height), n_px)
    if size[0] * size[1] > MAX_RESIZED_PIXELS:
        raise InvalidArgumentError(f"image of {width}x{height} pixels would resize to {size[0]}x{size[1]}: "
                                   f"too large (aspect ratio too extreme)")
    return size


def crop_box(width: int, height: int, n_px: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the centred ``n_px`` square."""
    left, top = int(round((width - n_px) / 2.0)), int(round((height - n_px) / 2.0))
    return left, top, left + n_px, top + n_px


def preprocess(image: Any, n_px: int = 224, backend: str = "pil") -> np.ndarray:
    """PIL image or RGB ``uint8 (H, W, 3)`` array -> float32 ``(3, n_px, n_px)``, CLIP-normalised."""
    if not isinstance(n_px, int) or n_px < 1:
        raise InvalidArgumentError(f"n_px must be a positive int, got {n_px!r}")
    if backend == "pil":
        rgb = _pil_path(image, n_px)
    elif backend == "cv2":
        rgb = _cv2_path(_as_rgb_array(image), n_px)
    else:
        raise InvalidArgumentError(f"backend must be 'pil' or 'cv2', got {backend!r}")
    x = rgb.astype(np.float32) / 255.0
    return ((x - MEAN) / STD).transpose(2, 0, 1).copy()  # HWC -> CHW


def _pil_path(image: Any, n_px: int) -> np.ndarray:
    from PIL import Image

    if isinstance(image, np.ndarray):
        image = Image.fromarray(_as_rgb_array(image), "RGB")
    if not isinstance(image, Image.Image):
        raise InvalidTypeError(f"image must be a PIL image or a uint8 (H, W, 3) array, got {type(image).__name__}")
    if image.mode not in PIL_MODES:
        raise InvalidArgumentError(f"image mode {image.mode!r} is not an 8-bit colour/grey image "
                                   f"(accepted: {', '.join(PIL_MODES)})")
    width, height = image.size
    if width < 1 or height < 1:
        raise InvalidArgumentError(f"image has no pixels ({width}x{height})")
    size = resized_size(width, height, n_px)
    if size != image.size:
        image = image.resize(size, Image.BICUBIC)
    image = image.crop(crop_box(*image.size, n_px)).convert("RGB")
    return np.asarray(image, dtype=np.uint8)


def _as_rgb_array(image: Any) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        try:
            from PIL import Image
        except ImportError:  # pragma: no cover
            Image = None  # type: ignore[assignment]
        if Image is not None and isinstance(image, Image.Image):
            if image.mode not in PIL_MODES:
                raise InvalidArgumentError(f"image mode {image.mode!r} is not an 8-bit colour/grey image")
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
        raise InvalidTypeError(f"image must be a PIL image or a uint8 (H, W, 3) array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise InvalidArgumentError(f"image array must be RGB uint8 (H, W, 3), got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


def _cv2_path(rgb: np.ndarray, n_px: int) -> np.ndarray:
    import cv2

    height, width = rgb.shape[:2]
    size = resized_size(width, height, n_px)
    if size != (width, height):
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)
    left, top, right, bottom = crop_box(size[0], size[1], n_px)
    return rgb[top:bottom, left:right]
