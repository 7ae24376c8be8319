"""VQGAN parity: megforge (MegEngine, torch-free loading) vs taming-transformers fixtures.

Fixtures come from tests/refs/make_vqgan.py. Targets: quantization indices identical,
decoded images within 1e-4 relative (max abs error / max abs reference).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.needs_megengine, pytest.mark.needs_fixtures]

REL = 1e-4


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(np.asarray(got) - ref).max() / max(np.abs(ref).max(), 1e-12))


@pytest.fixture(scope="module")
def fx(fixtures_dir: Path) -> Path:
    path = fixtures_dir / "vqgan"
    assert (path / "vq.ckpt").is_file(), f"missing VQGAN fixtures in {path} (run tox -e refs)"
    return path


@pytest.fixture(scope="module")
def vq(fx: Path):
    from megforge.models import vqgan

    return vqgan.load(fx / "vq.ckpt")


def test_vq_encode_indices_identical_and_decode(vq, fx: Path) -> None:
    import megengine as mge

    io = np.load(fx / "vq_io.npz")
    quant, emb_loss, (_, _, indices) = vq.encode(mge.tensor(io["x"]))
    np.testing.assert_array_equal(indices.numpy(), io["indices"])
    assert rel_err(quant.numpy(), io["quant"]) < REL
    assert rel_err(emb_loss.numpy(), io["emb_loss"]) < REL
    assert rel_err(vq.decode(quant).numpy(), io["dec"]) < REL
    dec, diff = vq(mge.tensor(io["x"]))
    assert rel_err(dec.numpy(), io["dec_fwd"]) < REL
    assert rel_err(diff.numpy(), io["diff"]) < REL


def test_vq_decode_code(vq, fx: Path) -> None:
    io = np.load(fx / "vq_io.npz")
    assert rel_err(vq.decode_code(io["codes"]).numpy(), io["dec_codes"]) < REL


def test_config_files_give_the_same_model(vq, fx: Path) -> None:
    import megengine as mge

    from megforge.models import vqgan
    from megforge.models._files import read_config

    io = np.load(fx / "vq_io.npz")
    configured = vqgan.load(fx / "vq.ckpt", read_config(fx / "vq.json"))
    assert configured.encoder.num_resolutions == vq.encoder.num_resolutions
    np.testing.assert_array_equal(configured.encode(mge.tensor(io["x"]))[2][2].numpy(), io["indices"])


def test_gumbel_logits_indices_decode(fx: Path) -> None:
    import megengine as mge

    from megforge.models import vqgan

    model = vqgan.load(fx / "gumbel.ckpt")
    assert isinstance(model, vqgan.GumbelVQ)
    io = np.load(fx / "gumbel_io.npz")
    h = model.encode_to_prequant(mge.tensor(io["x"]))
    quant, _, (_, _, indices), logits = model.quantize(h, return_logits=True, gumbel_noise=io["noise"])
    assert rel_err(logits.numpy(), io["logits"]) < REL
    np.testing.assert_array_equal(indices.numpy(), io["indices"])
    assert rel_err(model.decode(quant).numpy(), io["dec"]) < REL


def test_cli_reconstruct_matches_reference(fx: Path, tmp_path: Path) -> None:
    from PIL import Image

    from megforge.commands import vqgan as command

    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers(dest="command"))
    out, codes = tmp_path / "rec.png", tmp_path / "codes.npy"
    args = parser.parse_args(["vqgan", "reconstruct", "--weights", str(fx / "vq.ckpt"), "--config",
                              str(fx / "vq.yaml"), "--codes", str(codes), str(fx / "image.png"), str(out)])
    assert args.func(args) == 0
    ref = (np.clip(np.load(fx / "image_rec.npz")["rec"][0], -1, 1) + 1) / 2 * 255   # (3, H, W)
    got = np.asarray(Image.open(out), dtype=np.float64).transpose(2, 0, 1)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= 1.0   # 8-bit rounding only
    assert np.load(codes).shape == (1, 8, 8)


def test_truncated_checkpoint_is_a_clear_error(fx: Path, tmp_path: Path) -> None:
    from megforge.errors import CheckpointError
    from megforge.models import vqgan

    data = (fx / "vq.ckpt").read_bytes()
    for size in (len(data) // 2, 100):
        cut = tmp_path / f"cut{size}.ckpt"
        cut.write_bytes(data[:size])
        with pytest.raises(CheckpointError):
            vqgan.load(cut)
    with pytest.raises(CheckpointError, match="does not exist"):
        vqgan.load(tmp_path / "absent.ckpt")


def run_reconstruct(fx: Path, *extra: str) -> int:
    from megforge.commands import vqgan as command

    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["vqgan", "reconstruct", "--weights", str(fx / "vq.ckpt"), *extra])
    return args.func(args)


def test_cli_bad_images_are_clear_errors(fx: Path, tmp_path: Path) -> None:
    from PIL import Image

    from megforge.errors import InvalidArgumentError

    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes((fx / "image.png").read_bytes()[:60])
    with pytest.raises(InvalidArgumentError, match="cannot read image"):
        run_reconstruct(fx, str(corrupt), str(tmp_path / "out.png"))
    odd = tmp_path / "odd.png"
    Image.new("RGB", (15, 16)).save(odd)
    with pytest.raises(InvalidArgumentError, match="divisible by 2"):
        run_reconstruct(fx, str(odd), str(tmp_path / "out.png"))
    assert run_reconstruct(fx, "--size", "16", str(odd), str(tmp_path / "out.png")) == 0
    assert Image.open(tmp_path / "out.png").size == (16, 16)
