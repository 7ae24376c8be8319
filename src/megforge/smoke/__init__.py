"""Smoke checks run against an installed megforge (e.g. a fresh venv filled from the wheelhouse).

``python -m megforge.smoke`` runs every check whose requirements are importable and prints one
line per check; ``--require megengine`` turns a missing requirement into a failure. Checks are
plain functions that raise on failure, so they need nothing beyond what the wheels install.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Callable, Dict, Tuple


@dataclass(frozen=True)
class Check:
    func: str  # "module:function" inside megforge.smoke
    needs: Tuple[str, ...] = ()  # importable modules it requires
    help: str = ""

    def load(self) -> Callable[[], str]:
        module, _, name = self.func.partition(":")
        return getattr(importlib.import_module(f"megforge.smoke.{module}"), name)

    def missing(self) -> Tuple[str, ...]:
        return tuple(m for m in self.needs if importlib.util.find_spec(m) is None)


CHECKS: Dict[str, Check] = {
    "deconv": Check("checks:deconv", (), "native deconvolution vs a numpy reference, both layouts"),
    "cli": Check("checks:cli", (), "the megforge console entry point"),
    "lite": Check("lite_checks:worker", (), "the drop-in LITE library loads and its fork-mode worker starts"),
    "lite-fork": Check("lite_checks:fork_mode", ("megengine",), "a megenginelite forward in fork mode = in-process"),
    "megengine-install": Check("megengine_checks:install", ("megengine",), "patched metadata, version, import"),
    "megengine-lite-fork-env": Check("megengine_checks:lite_fork_by_environment_alone", ("megengine",),
                                     "LITE_FORK_MODE=1 alone moves megenginelite into a worker"),
    "megengine-output-padding": Check("megengine_checks:conv_transpose2d_output_padding", ("megengine",),
                                      "conv_transpose2d output_padding fix"),
    "megengine-bool-mask": Check("megengine_checks:bool_mask_assignment", ("megengine",),
                                 "t[mask] = scalar fix"),
    "megengine-nchw44-deconv": Check("megengine_checks:conv_transpose2d_nchw44", ("megengine",),
                                     "conv_transpose2d(format='NCHW44') via megforge's op: eager, module, trace, Lite"),
    "train-native": Check("train_numpy:check", (), "train a numpy conv autoencoder whose transposed convolutions "
                          "(forward and backward-data) run on megforge; loss drops, save/load exact"),
    "train": Check("train:check", ("megengine",), "train a MegEngine conv autoencoder; loss drops, save/load exact"),
}
