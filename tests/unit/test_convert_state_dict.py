"""check_state_dict / flatten_state_dict: errors name the offending keys."""

from __future__ import annotations

import numpy as np
import pytest

from megforge.convert import check_state_dict, flatten_state_dict
from megforge.errors import CheckpointError, InvalidTypeError

EXPECTED = {"conv.weight": (4, 3, 3, 3), "bn.weight": (4,), "bn.running_mean": (4,)}


def _sd(**changes: object) -> dict:
    sd = {k: np.zeros(v, np.float32) for k, v in EXPECTED.items()}
    sd.update(changes)
    return {k: v for k, v in sd.items() if v is not None}


def test_accepts_exact_and_drops_uninformative_buffers() -> None:
    sd = _sd(**{"bn.num_batches_tracked": np.array(5), "blocks.0.attn_mask": np.zeros((7, 7))})
    out = check_state_dict(sd, EXPECTED, ignore=["*attn_mask"])
    assert list(out) == list(EXPECTED)


def test_names_missing_unexpected_and_wrong_shape_keys() -> None:
    sd = _sd(**{"bn.running_mean": None, "extra.bias": np.zeros(2), "conv.weight": np.zeros((4, 3, 5, 5))})
    with pytest.raises(CheckpointError) as info:
        check_state_dict(sd, EXPECTED, model="TinyNet")
    message = str(info.value)
    assert "TinyNet" in message
    assert "missing keys: bn.running_mean" in message
    assert "unexpected keys: extra.bias" in message
    assert "conv.weight (expected (4, 3, 3, 3), got (4, 3, 5, 5))" in message
    with pytest.raises(CheckpointError, match="unexpected keys: blocks.0.attn_mask"):
        check_state_dict(_sd(**{"blocks.0.attn_mask": np.zeros(1)}), EXPECTED)  # not ignored unless asked


def test_long_lists_are_shortened() -> None:
    sd = _sd(**{f"junk.{i}": np.zeros(1) for i in range(25)})
    with pytest.raises(CheckpointError, match=r"\(25 in all\)"):
        check_state_dict(sd, EXPECTED)


def test_type_errors() -> None:
    with pytest.raises(InvalidTypeError, match="'bn.weight'"):
        check_state_dict(_sd(**{"bn.weight": [1.0, 2.0]}), EXPECTED)
    with pytest.raises(InvalidTypeError, match="mapping"):
        check_state_dict([1, 2], EXPECTED)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match="not a string"):
        check_state_dict({1: np.zeros(1)}, EXPECTED)


def test_flatten_rejects_non_state_dicts() -> None:
    with pytest.raises(CheckpointError, match="non-tensor entries"):
        flatten_state_dict({"w": np.zeros(1), "epoch": 3})
    with pytest.raises(CheckpointError, match="holds a list"):
        flatten_state_dict([np.zeros(1)])
