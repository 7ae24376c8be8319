"""The patched megengine Python files, loaded next to the installed (official) megengine.

Tests in the dev venv cannot install the redistributed wheel, so they take the installed
``megengine/functional/nn.py`` and ``megengine/module/conv.py``, apply the hunks of
``patches/series`` for those files with ``patch -p1 --fuzz=0`` (as the pipeline does) and
execute the results as extra modules of the installed package. The patches are thereby also
checked to apply to the exact files of the pinned wheel.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[2]
PATCHES = ROOT / "patches"


def _file_sections(patch_text: str) -> Dict[str, str]:
    """Unified diff -> {path: the diff of that one file} (``--- a/`` ... up to the next file)."""
    sections: Dict[str, List[str]] = {}
    current = None
    lines = patch_text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("--- a/") and i + 1 < len(lines) and lines[i + 1].startswith("+++ b/"):
            current = lines[i + 1][len("+++ b/"):].split("\t")[0].strip()
            sections[current] = []
        if current is not None:
            sections[current].append(line)
    return {path: "".join(text) for path, text in sections.items()}


def patched_source(relpath: str, work: Path) -> str:
    """``megengine/<...>.py`` of the installed megengine after every series patch touching it."""
    import megengine

    site = Path(megengine.__file__).resolve().parents[1]
    target = work / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text((site / relpath).read_text())
    for line in (PATCHES / "series").read_text().splitlines():
        name = line.split("#", 1)[0].strip()
        section = _file_sections((PATCHES / name).read_text()).get(relpath) if name else None
        if section is None:
            continue
        result = subprocess.run(["patch", "-p1", "--forward", "--batch", "--fuzz=0", "--no-backup-if-mismatch",
                                 "-d", str(work)], input=section, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{name} does not apply to the installed {relpath}:\n{result.stdout}{result.stderr}")
    return target.read_text()


def _exec_module(name: str, package: str, source: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_loader(name, loader=None, origin=str(path))
    module = importlib.util.module_from_spec(spec)
    module.__package__ = package
    module.__file__ = str(path)
    sys.modules[name] = module
    exec(compile(source, str(path), "exec"), module.__dict__)  # noqa: S102 - our own patched source
    return module


def load_patched(work: Path):
    """(functional.nn, module.conv) as patched; the patched conv module uses the patched
    conv_transpose2d."""
    import megengine.functional as F

    nn_source = patched_source("megengine/functional/nn.py", work)
    nn = _exec_module("megengine.functional._megforge_patched_nn", "megengine.functional", nn_source,
                      work / "megengine/functional/nn.py")
    conv_source = patched_source("megengine/module/conv.py", work)
    original = F.conv_transpose2d
    F.conv_transpose2d = nn.conv_transpose2d  # what `from ..functional import conv_transpose2d` binds
    try:
        conv = _exec_module("megengine.module._megforge_patched_conv", "megengine.module", conv_source,
                            work / "megengine/module/conv.py")
    finally:
        F.conv_transpose2d = original
    if not re.search(r"def _conv_transpose2d_nchw44", nn_source):
        raise RuntimeError("patched nn.py lacks the NCHW44 path (patch 0005)")
    return nn, conv
