"""``megforge bigsleep``: runs on CPU with random-weight models and says so; bad inputs exit 2."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.needs_megengine


def test_random_models_run_and_are_announced(tmp_path, capsys):
    from PIL import Image

    from megforge.cli import main

    code = main(["bigsleep", "a sunset over the sea", "--steps", "2", "--save-every", "1", "--num-cutouts", "2",
                 "--out", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "random-weight BigGAN" in out and "random-weight CLIP" in out and "NOT depict the prompt" in out
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["a_sunset_over_the_sea.png", "a_sunset_over_the_sea.step00001.png",
                     "a_sunset_over_the_sea.step00002.png"]
    with Image.open(tmp_path / "a_sunset_over_the_sea.png") as im:
        assert im.size == (64, 64)


@pytest.mark.parametrize("extra, message", [
    (["--steps", "0"], "--steps and --save-every must be >= 1"),
    (["--biggan", "/nonexistent/biggan"], "no pytorch_model.bin"),
    (["--ema-decay", "1.0"], "ema_decay=1.0"),
    (["--num-cutouts", "0"], "num_cutouts=0"),
])
def test_bad_arguments_exit_2(tmp_path, capsys, extra, message):
    from megforge.cli import main

    assert main(["bigsleep", "x", "--out", str(tmp_path), "--no-progress", *extra]) == 2
    assert message in capsys.readouterr().err
