"""megforge.convert reads files written by real torch (tests/refs/make_convert.py), torch-free."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from megforge.convert import load_checkpoint, save_safetensors
from megforge.errors import CheckpointError

pytestmark = pytest.mark.needs_fixtures

OPTIONS = {
    "zip.pt": {}, "legacy.pt": {}, "script.pt": {}, "traced.pt": {}, "hf.safetensors": {},
    "module.pt": {"placeholders": ("torch.nn", "refpkg")},
    "dalle_encoder.pkl": {"placeholders": ("torch.nn", "dall_e")},
    "lightning.ckpt": {"key": "state_dict"}, "pl.ckpt": {"key": "state_dict"},
}


@pytest.fixture(scope="module")
def convert_dir(fixtures_dir: Path) -> Path:
    path = fixtures_dir / "convert"
    if not (path / "expected.npz").is_file():
        pytest.fail(f"{path}: fixtures missing; run tests/refs/make_fixtures.py --out {fixtures_dir} convert")
    return path


@pytest.fixture(scope="module")
def expected(convert_dir: Path) -> dict[str, np.ndarray]:
    with np.load(convert_dir / "expected.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_matches_torch_state_dict(convert_dir: Path, expected: dict[str, np.ndarray], name: str) -> None:
    sd = load_checkpoint(convert_dir / name, **OPTIONS[name])
    keys = [str(k) for k in expected[f"{name}|__keys__"]]
    if name == "hf.safetensors":
        assert sorted(sd) == sorted(keys)
    else:
        assert list(sd) == keys
    for key in keys:
        want = expected[f"{name}|{key}"]
        assert sd[key].dtype == want.dtype, key
        assert sd[key].shape == want.shape, key
        np.testing.assert_array_equal(sd[key], want, err_msg=f"{name}: {key}")


def test_module_pickle_needs_placeholders(convert_dir: Path) -> None:
    with pytest.raises(CheckpointError, match="refpkg.blocks.Net"):
        load_checkpoint(convert_dir / "module.pt")


def test_safetensors_round_trip_of_a_torch_checkpoint(convert_dir: Path, tmp_path: Path) -> None:
    sd = load_checkpoint(convert_dir / "traced.pt")
    save_safetensors(tmp_path / "x.safetensors", sd)
    again = load_checkpoint(tmp_path / "x.safetensors")
    assert sorted(again) == sorted(sd)
    for key in sd:
        np.testing.assert_array_equal(again[key], sd[key])


def test_every_format_loads_with_torch_import_blocked(convert_dir: Path) -> None:
    """Torch-free by construction, not because this env lacks torch: with ``import torch``
    made to fail, every reference file still loads (in a fresh interpreter)."""
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['torch'] = None\n"  # any `import torch` now raises ImportError
        "from pathlib import Path\n"
        "from megforge.convert import load_checkpoint\n"
        f"options = {OPTIONS!r}\n"
        f"for name, kw in options.items(): load_checkpoint(Path({str(convert_dir)!r}) / name, **kw)\n"
        "print('loaded', len(options), 'torch' in sys.modules and sys.modules['torch'] is not None)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["loaded", str(len(OPTIONS)), "False"]
