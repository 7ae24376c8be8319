"""BigGAN-deep on MegEngine vs pytorch-pretrained-biggan 0.1.1 (fixtures: tests/refs/make_biggan.py).

The reference checkpoint files are read torch-free (megforge.convert) and the eval-mode
outputs compared at several truncations (including ones between the stored statistics
grid points), within 1e-4 relative to the output's largest magnitude.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = [pytest.mark.needs_megengine, pytest.mark.needs_fixtures]

RTOL = 1e-4


@pytest.fixture(scope="module")
def biggan():
    from megforge import models  # noqa: F401  (fails clearly if megforge is not importable)
    from megforge.models import biggan

    return biggan


def _compare(model, case_dir, truncations=None) -> None:
    io = np.load(case_dir / "io.npz")
    for t in io["truncations"] if truncations is None else truncations:
        ref = io[f"out_{t}"]
        out = model(io["z"], io["class_label"], float(t)).numpy()
        assert out.shape == ref.shape
        err = np.abs(out - ref).max() / np.abs(ref).max()
        assert err <= RTOL, f"{case_dir.name} truncation {t}: relative error {err:.2e} > {RTOL}"


@pytest.mark.parametrize("case", ["official128", "custom", "custom_plain"])
def test_load_pretrained_matches_reference(biggan, fixtures_dir, case):
    """load_pretrained reads pytorch_model.bin + config.json like BigGAN.from_pretrained(path)."""
    _compare(biggan.load_pretrained(fixtures_dir / "biggan" / case), fixtures_dir / "biggan" / case)


def test_released_layout_needs_no_config(biggan, fixtures_dir):
    from megforge.convert import load_checkpoint

    case_dir = fixtures_dir / "biggan" / "official128"
    model = biggan.from_state_dict(load_checkpoint(case_dir / "pytorch_model.bin"))
    assert model.config.output_dim == 128 and model.config.channel_width == 16
    _compare(model, case_dir, truncations=[1.0])  # all truncations: test_load_pretrained_matches_reference


def test_custom_layout_without_config_is_an_error(biggan, fixtures_dir):
    from megforge.convert import load_checkpoint
    from megforge.errors import CheckpointError

    state_dict = load_checkpoint(fixtures_dir / "biggan" / "custom" / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="layers"):
        biggan.from_state_dict(state_dict)
    config = json.loads((fixtures_dir / "biggan" / "custom" / "config.json").read_text())
    with pytest.raises(CheckpointError, match="eps|n_stats|disagree"):
        biggan.from_state_dict(state_dict, {**config, "n_stats": 51})
