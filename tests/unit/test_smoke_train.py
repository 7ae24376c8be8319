"""megforge.smoke.train in-process with fewer steps: the criteria pass when trained and fail when not."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.needs_megengine

STEPS = 60  # enough for both criteria with the default seed (300 in the installed-wheel suite)


def test_trains_saves_and_reloads(tmp_path, capsys):
    from megforge.smoke import train

    assert train.main(["--steps", str(STEPS), "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ok"] and report["failures"] == []
    assert report["final_loss"] <= train.LOSS_RATIO * min(report["initial_loss"], report["mean_image_loss"])
    assert report["reload_max_abs_diff"] == 0.0
    assert (tmp_path / "autoencoder.mge").stat().st_size > 0
    assert "held-out MSE" in capsys.readouterr().out


def test_untrained_model_fails_with_a_message(capsys):
    from megforge.smoke import train

    assert train.main(["--steps", "0"]) == 1
    assert "FAILED: loss did not drop enough" in capsys.readouterr().err


def test_reload_mismatch_is_detected(monkeypatch):
    import megengine as mge

    from megforge.smoke import train

    real_load = mge.load

    def tampered_load(path):
        state = real_load(path)
        state["dec2.bias"] = state["dec2.bias"] + 1e-3
        return state

    monkeypatch.setattr(mge, "load", tampered_load)
    result = train.run(steps=STEPS)
    assert not result.ok
    assert any("reloaded model differs" in f for f in result.failures)


def test_data_is_deterministic():
    from megforge.smoke.train import make_images

    a, b = make_images(8, 3), make_images(8, 3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (8, 3, 16, 16) and a.min() >= 0 and a.max() <= 1 and a.std() > 0.05


def test_registered_in_the_smoke_suite(capsys, monkeypatch):
    import functools

    from megforge.smoke import CHECKS, train
    from megforge.smoke.__main__ import main

    assert CHECKS["train"].needs == ("megengine",)
    monkeypatch.setattr(train, "check", functools.partial(train.check, steps=STEPS))
    assert main(["train", "--require", "megengine"]) == 0
    assert "PASS train" in capsys.readouterr().out
    monkeypatch.setattr(train, "check", functools.partial(train.check, steps=0))
    assert main(["train"]) == 1
    assert "loss did not drop enough" in capsys.readouterr().out
