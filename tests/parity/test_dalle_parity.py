"""DALL-E parity: megforge (MegEngine, torch-free loading) vs DALL-E 0.1 / dalle-pytorch fixtures.

Fixtures come from tests/refs/make_dalle.py. Targets: dVAE encoder logits and decoder output
within 1e-4 relative; DALLE logits within 1e-4 relative (masked entries identical); greedy
(top-k 1) generation token-identical; images decoded from those tokens within 1e-4.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.needs_megengine, pytest.mark.needs_fixtures]

REL = 1e-4
GREEDY = 0.999
MASKED = -3.4028234663852886e38


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(np.asarray(got) - ref).max() / max(np.abs(ref).max(), 1e-12))


@pytest.fixture(scope="module")
def fx(fixtures_dir: Path) -> Path:
    path = fixtures_dir / "dalle"
    assert (path / "dalle.pt").is_file(), f"missing DALL-E fixtures in {path} (run tox -e refs)"
    return path


@pytest.mark.parametrize("name", ["encoder.pkl", "encoder_legacy.pkl"])
def test_dvae_encoder_from_pickled_module(fx: Path, name: str) -> None:
    import megengine as mge

    from megforge.models import dalle

    io = np.load(fx / "dvae_io.npz")
    encoder = dalle.load_dvae_encoder(fx / name)
    assert rel_err(encoder(mge.tensor(io["x"])).numpy(), io["logits"]) < REL


def test_dvae_decoder_from_pickled_module(fx: Path) -> None:
    import megengine as mge

    from megforge.models import dalle

    io = np.load(fx / "dvae_io.npz")
    decoder = dalle.load_dvae_decoder(fx / "decoder.pkl")
    assert rel_err(decoder(mge.tensor(io["z"])).numpy(), io["stats"]) < REL


def check_logits(got: np.ndarray, ref: np.ndarray) -> None:
    assert got.shape == ref.shape
    masked = ref == MASKED
    assert masked.any() and (~masked).any()
    np.testing.assert_array_equal(got == MASKED, masked)
    assert rel_err(got[~masked], ref[~masked]) < REL


@pytest.fixture(scope="module", params=["dalle", "dalle_vq"])
def variant(request: pytest.FixtureRequest, fx: Path):
    """(model, io): rotary + token shift + OpenAI dVAE, or axial/sandwich/stable/shared + VQGAN."""
    from megforge.models import dalle

    config = json.loads((fx / f"{request.param}.json").read_text())
    return dalle.load(fx / f"{request.param}.pt", config), np.load(fx / f"{request.param}_io.npz")


def test_forward_logits(variant) -> None:
    model, io = variant
    check_logits(model(io["text"], io["image"]).numpy(), io["logits"])          # sequence capped
    check_logits(model(io["text"], io["image"][:, :5]).numpy(), io["logits_part"])
    check_logits(model(io["text"]).numpy(), io["logits_text"])


@pytest.mark.parametrize("use_cache", [False, True])
def test_greedy_generation_token_identical(variant, use_cache: bool) -> None:
    import megengine as mge

    model, io = variant
    tokens = model.generate_image_tokens(io["text"], filter_thres=GREEDY, use_cache=use_cache)
    np.testing.assert_array_equal(tokens, io["greedy"])
    images = model.vae.decode(mge.tensor(tokens.astype(np.int32))).numpy()
    assert rel_err(images, io["images"]) < REL


def test_training_checkpoint_uses_its_hparams(fx: Path) -> None:
    from megforge.models import dalle

    model = dalle.load(fx / "dalle_train.pt")
    io = np.load(fx / "dalle_io.npz")
    assert (model.text_seq_len, model.image_seq_len) == (8, 16)
    check_logits(model(io["text"], io["image"]).numpy(), io["logits"])


def test_cli_generate_greedy_writes_the_reference_image(fx: Path, tmp_path: Path, capsys) -> None:
    from PIL import Image

    from megforge.commands import dalle as command

    io = np.load(fx / "dalle_io.npz")
    ids = ",".join(str(int(t)) for t in io["text"][0] if t)
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "img.png"
    args = parser.parse_args(["dalle", "generate", "--weights", str(fx / "dalle_train.pt"), "--text-ids", ids,
                              "--seed", "0", "--filter-thres", str(GREEDY), "--out", str(out)])
    assert args.func(args) == 0
    got = np.asarray(Image.open(out), dtype=np.float64).transpose(2, 0, 1)
    ref = io["images"][0] * 255
    assert got.shape == ref.shape and np.abs(got - ref).max() <= 1.0
    assert "image tokens" in capsys.readouterr().err   # the progress bar


def test_dalle_pytorch_tokenization(fx: Path) -> None:
    from megforge.models import dalle

    ref = np.load(fx / "tokens.npz")
    for text, tokens in zip(ref["texts"], ref["tokens"]):
        np.testing.assert_array_equal(dalle.tokenize(str(text), tokens.shape[0])[0], tokens)


def test_module_pickle_naming_other_code_is_refused(fx: Path, tmp_path: Path) -> None:
    import zipfile

    from megforge.errors import CheckpointError
    from megforge.models import dalle

    evil = tmp_path / "encoder.pkl"
    with zipfile.ZipFile(fx / "encoder.pkl") as src, zipfile.ZipFile(evil, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("data.pkl"):
                assert b"dall_e.encoder\nEncoder\n" in data
                data = data.replace(b"dall_e.encoder\nEncoder\n", b"os\nsystem\n")
            dst.writestr(item, data)
    with pytest.raises(CheckpointError, match="os.system"):
        dalle.load_dvae_encoder(evil)


@pytest.mark.parametrize("extra, match", [(["--text-ids", "1,x"], "comma-separated"),
                                          (["--text-ids", ",".join(["1"] * 9)], "text_seq_len"),
                                          (["--text-ids", "1", "--num-images", "0"], "num-images")])
def test_cli_bad_arguments_are_clear_errors(fx: Path, tmp_path: Path, extra: list[str], match: str) -> None:
    from megforge.commands import dalle as command
    from megforge.errors import InvalidArgumentError

    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["dalle", "generate", "--weights", str(fx / "dalle_train.pt"),
                              "--out", str(tmp_path / "x.png"), *extra])
    with pytest.raises(InvalidArgumentError, match=match):
        args.func(args)


@pytest.mark.parametrize("name", ["encoder.pkl", "encoder_legacy.pkl", "decoder.pkl", "dalle.pt"])
def test_truncated_files_are_clear_errors(fx: Path, tmp_path: Path, name: str) -> None:
    from megforge.errors import CheckpointError
    from megforge.models import dalle

    loader = {"decoder.pkl": dalle.load_dvae_decoder, "dalle.pt": dalle.load}.get(name, dalle.load_dvae_encoder)
    data = (fx / name).read_bytes()
    for size in (len(data) // 2, 100):
        cut = tmp_path / f"cut{size}-{name}"
        cut.write_bytes(data[:size])
        with pytest.raises(CheckpointError, match=str(cut.name)):
            loader(cut)
