"""megforge.smoke.train_numpy in-process with fewer steps: the criteria pass when trained and
each fails when its property is broken; Adam; the smoke-suite registration; bad input."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from megforge.errors import InvalidArgumentError
from megforge.smoke import numpy_autoencoder as nae
from megforge.smoke import train_numpy

STEPS = 100  # final/mean-image loss ratio ~0.16 with the default seed (needs <= 0.3); 300 in the suite


def test_trains_saves_and_reloads(tmp_path, capsys):
    assert train_numpy.main(["--steps", str(STEPS), "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ok"] and report["failures"] == [] and report["steps"] == STEPS
    assert report["final_loss"] <= train_numpy.LOSS_RATIO * min(report["initial_loss"], report["mean_image_loss"])
    assert report["reload_max_abs_diff"] == 0.0
    assert 0 < report["megforge_rel_err"] <= train_numpy.ENGINE_RTOL
    reloaded = nae.load(tmp_path / "autoencoder.npz")
    assert set(reloaded.params) == set(nae.param_shapes())
    assert "held-out MSE" in capsys.readouterr().out


def test_training_is_deterministic():
    a, b = train_numpy.run(steps=5), train_numpy.run(steps=5)
    assert a.final_loss == b.final_loss and a.initial_loss == b.initial_loss


def test_untrained_model_fails_with_a_message(capsys):
    assert train_numpy.main(["--steps", "0"]) == 1
    err = capsys.readouterr().err
    assert "FAILED: loss did not drop enough" in err and "mean-image guess" in err


def test_reload_mismatch_is_detected(monkeypatch):
    real_load = nae.load

    def tampered_load(path, engine="megforge"):
        model = real_load(path, engine)
        model.params["dec2.bias"] += 1e-3
        model.weights_changed()
        return model

    monkeypatch.setattr(nae, "load", tampered_load)
    result = train_numpy.run(steps=STEPS)
    assert not result.ok
    assert [f for f in result.failures if "reloaded model differs" in f] == result.failures


def test_a_wrong_megforge_kernel_is_detected(monkeypatch):
    real = nae.megforge_transposed

    def off_by_a_little(*args):
        run = real(*args)
        return lambda x: run(x) * np.float32(1.001)

    monkeypatch.setattr(nae, "megforge_transposed", off_by_a_little)
    result = train_numpy.run(steps=20)
    assert any("through megforge's NC4HW4 kernel vs the float64 reference differs" in f for f in result.failures), \
        result.failures


def test_every_step_trains_through_megforge_plans(monkeypatch):
    from megforge import deconv

    made = []

    class Counting(deconv.DeconvPlan):
        def __init__(self, weight, *args, **kw):
            made.append(weight.shape)
            super().__init__(weight, *args, **kw)

    monkeypatch.setattr(deconv, "DeconvPlan", Counting)
    train_numpy.run(steps=4)
    # 3 per step: dec1, dec2 (step 1 reuses those of the initial evaluation), enc2 backward-data
    assert made[:12] == [(16, 16, 4, 4), (16, 3, 4, 4), (16, 16, 3, 3)] * 4
    assert len(made) > 12  # and the final evaluation, the reloaded model, the engine comparison


def test_adam_first_steps():
    p = {"w": np.array([1.0, -2.0, 0.0], np.float32)}
    opt = train_numpy.Adam(p, lr=0.1)
    opt.step({"w": np.array([3.0, -0.5, 0.0], np.float32)})
    # the first Adam step is lr * sign(gradient) (eps aside)
    np.testing.assert_allclose(p["w"], [0.9, -1.9, 0.0], rtol=1e-6)
    for _ in range(500):  # minimises sum(w^2) / 2
        opt.step({"w": p["w"].copy()})
    assert np.abs(p["w"]).max() < 1e-2
    with pytest.raises(InvalidArgumentError, match="lr must be > 0"):
        train_numpy.Adam(p, lr=0.0)


def test_registered_in_the_smoke_suite(capsys, monkeypatch):
    from megforge.smoke import CHECKS
    from megforge.smoke.__main__ import main

    assert CHECKS["train-native"].needs == ()  # nothing beyond megforge + numpy: never skipped
    check = CHECKS["train-native"].load()
    assert check is train_numpy.check
    monkeypatch.setattr(train_numpy, "check", functools.partial(check, steps=STEPS))
    assert main(["train-native"]) == 0
    assert "PASS train-native" in capsys.readouterr().out
    monkeypatch.setattr(train_numpy, "check", functools.partial(check, steps=0))
    assert main(["train-native"]) == 1
    assert "FAIL train-native" in capsys.readouterr().out


def test_bad_arguments(capsys):
    for argv in (["--steps", "-1"], ["--lr", "0"], ["--steps", "x"]):
        with pytest.raises(SystemExit) as info:
            train_numpy.main(argv)
        assert info.value.code == 2
    assert "--lr must be > 0" in capsys.readouterr().err
    for steps in (-1, 2.5, True):
        with pytest.raises(InvalidArgumentError, match="steps must be an int >= 0"):
            train_numpy.run(steps=steps)
