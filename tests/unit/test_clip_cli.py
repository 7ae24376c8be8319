"""``megforge clip zero-shot`` end to end on a tiny random CLIP saved as safetensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from clip_weights import TINY_VIT, random_state_dict

from megforge import cli

pytestmark = pytest.mark.needs_megengine
pytest.importorskip("ftfy")
Image = pytest.importorskip("PIL.Image")
CONFIG = dict(TINY_VIT, vocab_size=49408, context_length=77, transformer_heads=1)  # real tokens fit


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from megforge.convert import save_safetensors

    root = tmp_path_factory.mktemp("clip_cli")
    save_safetensors(root / "tiny.safetensors", random_state_dict(CONFIG, seed=3))
    pixels = np.random.default_rng(0).integers(0, 256, (40, 50, 3), np.uint8)
    Image.fromarray(pixels).save(root / "img.png")
    (root / "broken.png").write_bytes((root / "img.png").read_bytes()[:60])
    return {"weights": root / "tiny.safetensors", "image": root / "img.png", "broken": root / "broken.png"}


def _run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    monkeypatch.setattr(cli, "COMMANDS", {"megforge.commands.clip": "CLIP"})
    code = cli.main(["clip", "zero-shot", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_ranks_all_labels(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture) -> None:
    labels = ["a cat", "a dog", "a diagram", "a red car"]
    code, out, _ = _run(monkeypatch, capsys, "--weights", str(files["weights"]), "--image", str(files["image"]),
                        "--labels", ", ".join(labels) + ",", "--template", "a photo of {}")
    assert code == 0
    rows = [line.split("%  ") for line in out.strip().splitlines()]
    assert sorted(label for _, label in rows) == sorted(labels)
    probs = [float(p) for p, _ in rows]
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 100) < 0.05

    from megforge.commands.clip import zero_shot
    from megforge.models import clip
    model = clip.load(files["weights"])
    ranked = zero_shot(model, clip.load_image(files["image"]), labels, "a photo of {}")
    assert [label for label, _ in ranked] == [label for _, label in rows]

    code, out, _ = _run(monkeypatch, capsys, "--weights", str(files["weights"]), "--image", str(files["image"]),
                        "--labels", ",".join(labels), "--top", "2")
    assert code == 0 and len(out.strip().splitlines()) == 2


@pytest.mark.parametrize("change, message", [
    ({"--weights": "missing.pt"}, "missing.pt"),
    ({"--image": "broken"}, "broken.png"),
    ({"--labels": " , ,"}, "no label"),
    ({"--template": "a photo"}, "must contain {}"),
    ({"--labels": "word " * 100}, "too long"),
    ({"--top": "-1"}, "--top"),
])
def test_errors_are_reported(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture, change: dict[str, str], message: str) -> None:
    args = {"--weights": str(files["weights"]), "--image": str(files["image"]), "--labels": "a,b"}
    for key, value in change.items():
        args[key] = str(files[value]) if value in files else value
    code, _, err = _run(monkeypatch, capsys, *[item for pair in args.items() for item in pair])
    assert code == 2
    assert message in err and err.startswith("megforge clip: error:")
