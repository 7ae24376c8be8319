"""Install from the wheelhouse into a fresh venv and run ``python -m megforge.smoke`` there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import List, Sequence
from urllib.parse import unquote, urlparse

from megforge.errors import VerifyError
from megforge.release.wheelfile import sha256_file
from megforge.release.wheelhouse import check_manifest


def clean_env() -> dict:
    """The environment minus anything that could make a venv see a source checkout."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "MEGFORGE_LIB_DIR")}


def venv_python(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def fresh_venv(env_dir: Path, python: str = sys.executable) -> Path:
    """A new, empty venv at ``env_dir`` made by ``python``; returns its interpreter."""
    if env_dir.exists():
        shutil.rmtree(env_dir)
    if Path(python).resolve() == Path(sys.executable).resolve():
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    else:
        subprocess.run([python, "-m", "venv", str(env_dir)], check=True)
    return venv_python(env_dir)


def install_from_wheelhouse(py: Path, wheelhouse: Path, packages: Sequence[str], report: Path) -> List[dict]:
    """``pip install --no-index --find-links wheelhouse``; returns pip's install report items.

    Fails unless every installed file came from the wheelhouse with the sha256 in SHA256SUMS.
    """
    problems = check_manifest(wheelhouse)
    if problems:
        raise VerifyError(f"wheelhouse manifest problems: {problems}")
    subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index",
         "--find-links", str(wheelhouse), "--report", str(report), *packages],
        check=True, env=clean_env(),
    )
    items = json.loads(report.read_text())["install"]
    for item in items:
        url = item["download_info"]["url"]
        path = Path(unquote(urlparse(url).path))
        if path.parent.resolve() != wheelhouse.resolve():
            raise VerifyError(f"{item['metadata']['name']} was installed from {url}, not from the wheelhouse")
        if sha256_file(path) != sha256_file(wheelhouse / path.name):
            raise VerifyError(f"{path.name} changed while installing")
    return items


# The smoke checks that need nothing beyond megforge's wheel and numpy: every runtime smoke run
# (each target, each venv) must PASS all of them; a SKIP fails the run.
EVERY_TARGET = ("deconv", "cli", "lite", "train-native")


def run_smoke(py: Path, checks: Sequence[str] = (), require: Sequence[str] = (),
              must_pass: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """``python -m megforge.smoke`` in the venv of ``py`` (``--require`` modules, ``--must-pass`` checks)."""
    cmd = [str(py), "-m", "megforge.smoke", *checks]
    for r in require:
        cmd += ["--require", r]
    for c in must_pass:
        cmd += ["--must-pass", c]
    # run from the venv directory so a source checkout on sys.path cannot shadow the install
    return subprocess.run(cmd, cwd=py.parent, capture_output=True, text=True, env=clean_env())
