"""One BigSleep step on MegEngine vs the reference step (fixtures: tests/refs/make_bigsleep.py).

Both sides use the same seeded random models (pytorch-pretrained-biggan checkpoint,
clip-anytorch fp32 CLIP state dict; read here torch-free), the same latents and the same
8 crop boxes (the random parts of big-sleep, fixed). Compared, each within 1e-3 relative:

* the tokens and CLIP text embedding of the prompt (the step's target);
* lat_loss, cls_loss, sim_loss and their sum;
* d loss / d normu and d loss / d cls (max |difference| over max |reference|);
* the latents after one Adam step (lr 0.07), relative to lr, within 1e-2: Adam's first step
  moves each element by lr * g / (|g| + 1e-8), which magnifies float rounding of gradient
  elements near zero (measured ~6e-4); a wrong lr, beta or bias correction is off by O(1).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = [pytest.mark.needs_megengine, pytest.mark.needs_fixtures]

RTOL = 1e-3
RTOL_UPDATE = 1e-2


@pytest.fixture(scope="module")
def setup(fixtures_dir):
    from megforge.models import biggan, clip
    from megforge.models.bigsleep import BigSleep, BigSleepConfig
    from megforge.models.imagine import ClipPerceptor

    root = fixtures_dir / "bigsleep"
    ref = dict(np.load(root / "step.npz"))
    perceptor = ClipPerceptor(clip.load(root / "clip.pt"))
    gan = biggan.load_pretrained(root / "biggan")
    config = BigSleepConfig(num_cutouts=len(ref["boxes"]), lr=float(ref["lr"]), loss_coef=float(ref["loss_coef"]),
                            input_resolution=perceptor.input_resolution)
    model = BigSleep(gan, perceptor, config)
    model.set_latents(ref["normu"], ref["cls"])
    return model, perceptor, ref


def test_text_target(setup):
    from megforge.models.clip import tokenize

    _, perceptor, ref = setup
    np.testing.assert_array_equal(tokenize([str(ref["prompt"])]), ref["tokens"])
    embed = perceptor.encode_text(str(ref["prompt"]))
    assert np.abs(embed - ref["text_embed"]).max() <= RTOL * np.abs(ref["text_embed"]).max()


def test_one_step_losses_gradients_and_update(setup):
    model, perceptor, ref = setup
    target = perceptor.encode_text(str(ref["prompt"]))  # the whole path: prompt -> tokens -> text embedding
    parts, grads = model.loss_and_grads([target], boxes=ref["boxes"])
    report = {}
    for name in ("lat_loss", "cls_loss", "sim_loss", "loss"):
        report[name] = abs(parts[name] - float(ref[name])) / abs(float(ref[name]))
    for name in ("normu", "cls"):
        want = ref[f"grad_{name}"]
        report[f"grad_{name}"] = float(np.abs(grads[name] - want).max() / np.abs(want).max())
    model.optimizer.step().clear_grad()
    for name in ("normu", "cls"):
        moved = getattr(model.latents, name).numpy()
        report[f"{name}_after"] = float(np.abs(moved - ref[f"{name}_after"]).max() / float(ref["lr"]))
    print(json.dumps(report, indent=1))
    bad = {k: v for k, v in report.items() if not v <= (RTOL_UPDATE if k.endswith("_after") else RTOL)}
    assert not bad, f"relative errors above {RTOL} ({RTOL_UPDATE} for *_after): {bad}"
