"""The release pipeline for one target: build -> repair -> re-pack -> verify -> wheelhouse."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from megforge.errors import ToolchainError, VerifyError
from megforge.release import wheelhouse as wh
from megforge.release.build import build_wheel
from megforge.release.repair import repair_wheel
from megforge.release.targets import Target, require_tools
from megforge.release.verify import verify_wheel
from megforge.release.wheelfile import normalize, sha256_file, source_date_epoch


@dataclass
class ReleaseResult:
    target: str
    wheel: Path  # in the wheelhouse
    sha256: str
    binaries: List[str]


def release(target: Target, root: Path, wheelhouse: Path, work: Optional[Path] = None, quiet: bool = False) -> ReleaseResult:
    require_tools(target)
    work = work or root / "build" / "release" / target.name
    epoch = source_date_epoch(root)
    _step(f"[{target.name}] build (SOURCE_DATE_EPOCH={epoch})")
    built = build_wheel(target, root, work / "built", epoch, work / "cmake", quiet=quiet)
    _step(f"[{target.name}] repair {built.name}")
    repaired = repair_wheel(target, built, work / "repaired")
    normalize(repaired, epoch)  # repair tools re-zip with their own ordering and times
    _step(f"[{target.name}] verify {repaired.name}")
    report = verify_wheel(repaired)
    if not report.ok:
        raise VerifyError(f"{repaired.name} failed verification:\n  " + "\n  ".join(report.problems))
    published = wh.publish(repaired, wheelhouse)
    wh.write_manifest(wheelhouse)
    return ReleaseResult(target.name, published, sha256_file(published), report.binaries)


def download_dependencies(wheelhouse: Path, requirements: List[str], python: str, platform: Optional[str] = None) -> None:
    """Cache binary wheels of ``requirements`` for ``python`` (e.g. '3.10') into the wheelhouse."""
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--dest", str(wheelhouse),
           "--python-version", python, "--quiet"]
    if platform:
        cmd += ["--platform", platform]
    result = subprocess.run(cmd + requirements)
    if result.returncode != 0:
        raise ToolchainError(f"pip download {' '.join(requirements)} for Python {python} failed")
    wh.write_manifest(wheelhouse)


def _step(message: str) -> None:
    print(f"==> {message}", flush=True)
