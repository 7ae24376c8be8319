"""Pipeline around megforge.release.megengine: native artifacts in, verified wheelhouse out."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Dict

from megforge.errors import ToolchainError, VerifyError
from megforge.release import wheelhouse as wh
from megforge.release.megengine import Pin, build_redistribution, fetch, find_pin
from megforge.release.mge_op import build_op_library, default_build_dir, extract_sdk
from megforge.release.smoke import EVERY_TARGET, clean_env, fresh_venv, install_from_wheelhouse, run_smoke
from megforge.release.verify import verify_wheel
from megforge.release.wheelfile import source_date_epoch


def native_artifacts(root: Path, work: Path, pin: Pin, wheelhouse: Path) -> Dict[str, Path]:
    """megforge's native files the manifest may add into the MegEngine wheel (host build):

    * ``mge_op``: the custom-op library, compiled against the pinned wheel's own headers and
      libmegengine_shared.so (extracted into ``work/mge_root``);
    * ``lite``, ``lite_worker``: the drop-in Lite library and its worker, taken from megforge's
      own repaired and verified wheel for this target in the wheelhouse (the same bytes users
      of `megforge.lite` run).
    """
    mge_root = extract_sdk(fetch(pin, root / "megengine_src" / "cache"), work / "mge_root")
    artifacts = {"mge_op": build_op_library(root, mge_root, default_build_dir(root))}
    artifacts.update(_from_megforge_wheel(wheelhouse, pin.target, work / "megforge_lib",
                                          {"lite": "libmegforge_lite.so", "lite_worker": "megforge_lite_worker"}))
    return artifacts


def _from_megforge_wheel(wheelhouse: Path, target: str, dest: Path, files: Dict[str, str]) -> Dict[str, Path]:
    import zipfile

    from megforge.release.verify import parse_platform
    from megforge.release.wheelfile import parse_name

    arch = {"linux-x86_64": "x86_64", "linux-aarch64": "aarch64"}[target]
    wheels = [w for w in sorted(wheelhouse.glob("megforge-*.whl"))
              if any(arch in parse_platform(t).archs for t in parse_name(w.name).platform_tags if t != "any")]
    if not wheels:
        raise ToolchainError(f"no megforge wheel for {target} in {wheelhouse}: run `megforge release --target {target}` first")
    dest.mkdir(parents=True, exist_ok=True)
    out = {}
    with zipfile.ZipFile(wheels[-1]) as zf:
        for key, name in files.items():
            member = f"megforge/_lib/{name}"
            if member not in zf.namelist():
                raise ToolchainError(f"{wheels[-1].name} lacks {member}")
            path = dest / name
            path.write_bytes(zf.read(member))
            path.chmod(0o755)
            out[key] = path
    return out


def redistribute(root: Path, python: str, target: str, wheelhouse: Path, python_exe: str) -> Path:
    """Build, verify and publish the patched MegEngine wheel and every dependency wheel."""
    pin = find_pin(root, python, target)
    work = root / "build" / "megengine" / f"cp{python.replace('.', '')}-{target}"
    epoch = source_date_epoch(root)
    print(f"==> [megengine] MegEngine op library (native/mge_op) against {pin.filename}", flush=True)
    artifacts = native_artifacts(root, work, pin, wheelhouse)
    print(f"==> [megengine] {pin.filename}: fetch, patch, re-pack", flush=True)
    wheel = build_redistribution(root, pin, work, epoch, artifacts)
    print(f"==> [megengine] verify {wheel.name}", flush=True)
    report = verify_wheel(wheel)
    if not report.ok:
        raise VerifyError(f"{wheel.name} failed verification:\n  " + "\n  ".join(report.problems))
    published = wh.publish(wheel, wheelhouse)
    print("==> [megengine] dependency wheels", flush=True)
    collect_dependencies(python_exe, wheelhouse, [str(published)])
    wh.write_manifest(wheelhouse)
    return published


def collect_dependencies(python_exe: str, wheelhouse: Path, requirements: list) -> None:
    """``pip wheel`` the requirements' dependency closure into the wheelhouse (sdist-only
    dependencies become wheels), so `pip install --no-index --find-links wheelhouse` works."""
    cmd = [python_exe, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--use-pep517", "--wheel-dir",
           str(wheelhouse), "--find-links", str(wheelhouse), *requirements,
           # what the smoke suite installs on top: the newest setuptools proves pkg_resources is gone
           "setuptools"]
    if subprocess.run(cmd, env=clean_env()).returncode != 0:
        raise ToolchainError("collecting MegEngine's dependency wheels failed (see above)")


def smoke(root: Path, wheelhouse: Path, python_exe: str) -> subprocess.CompletedProcess:
    env_dir = root / "build" / "smoke" / "megengine"
    py = fresh_venv(env_dir, python_exe)
    # setuptools >= 82 has no pkg_resources: importing megengine there proves patch 0002
    install_from_wheelhouse(py, wheelhouse, ["megengine", "megforge", "setuptools>=82"], env_dir / "report.json")
    return run_smoke(py, require=["megengine"], must_pass=EVERY_TARGET)
