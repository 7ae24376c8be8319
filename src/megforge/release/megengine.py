"""The MegEngine redistribution: pinned official wheel -> patched, re-packed, verified wheel.

Inputs are data: ``megengine_src/pins.toml`` (which official wheel, its sha256) and
``patches/`` (``series`` of unified diffs applied with ``patch -p1`` and no fuzz, then
``manifest.toml``: local version, renames, files megforge adds). The output is
``MegEngine-1.13.0+megforge.N-<tags>.whl`` with the WHEEL tag matching its file name.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Tuple

from megforge.errors import InvalidArgumentError, ToolchainError, VerifyError
from megforge.release.wheelfile import Member, RawEntry, parse_name, record_hash, sha256_file, write_wheel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the release tooling runs on 3.11, tests may not
    import tomli as tomllib


@dataclass(frozen=True)
class Pin:
    project: str
    version: str
    python: str
    target: str
    filename: str
    sha256: str
    index: str  # the package index page the file is published on

    @property
    def soabi(self) -> str:
        """CPython SOABI of the wheel's extension modules, e.g. cpython-310-x86_64-linux-gnu."""
        py = parse_name(self.filename).python_tags[0]  # cp310
        arch = {"linux-x86_64": "x86_64-linux-gnu", "linux-aarch64": "aarch64-linux-gnu"}[self.target]
        return f"cpython-{py[2:]}-{arch}"


def load_pins(root: Path) -> List[Pin]:
    data = tomllib.loads((root / "megengine_src" / "pins.toml").read_text())
    project = data["project"]
    return [Pin(project["name"], project["version"], w["python"], w["target"], w["filename"], w["sha256"],
                project["index"]) for w in data["wheel"]]


def find_pin(root: Path, python: str, target: str) -> Pin:
    pins = load_pins(root)
    for pin in pins:
        if pin.python == python and pin.target == target:
            return pin
    have = ", ".join(f"{p.python}/{p.target}" for p in pins)
    raise InvalidArgumentError(f"no official MegEngine wheel pinned for Python {python} on {target} (pinned: {have})")


def fetch(pin: Pin, cache: Path) -> Path:
    """The pinned wheel in ``cache``, downloaded with pip if absent; sha256 checked either way."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / pin.filename
    if not path.is_file():
        req = cache / f"{pin.filename}.requirements.txt"
        req.write_text(f"{pin.project.lower()}=={pin.version} --hash=sha256:{pin.sha256}\n")
        tags = parse_name(pin.filename)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
               "--dest", str(cache), "--python-version", pin.python, "--implementation", "cp",
               "--abi", tags.abi_tags[0], "--platform", tags.platform_tags[0], "-r", str(req)]
        if subprocess.run(cmd).returncode != 0 or not path.is_file():
            raise ToolchainError(f"could not download {pin.filename} (published on {pin.index}) with pip "
                                 "through its configured index (see above)")
    digest = sha256_file(path)
    if digest != pin.sha256:
        raise VerifyError(
            f"{path}: sha256 {digest} does not match the pinned {pin.sha256} ({pin.index}); refusing to use it "
            "(delete the file to download it again, or fix megengine_src/pins.toml if the pin is wrong)"
        )
    return path


def patched_paths(patches: Path) -> List[str]:
    """Wheel paths the patch series modifies (from the ``+++ b/<path>`` lines)."""
    paths = []
    for name in series(patches):
        for line in (patches / name).read_text().splitlines():
            if line.startswith("+++ b/"):
                paths.append(line[len("+++ b/"):].split("\t")[0])
    return paths


def series(patches: Path) -> List[str]:
    names = []
    for line in (patches / "series").read_text().splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            if not (patches / name).is_file():
                raise VerifyError(f"patches/series names {name}, which does not exist")
            names.append(name)
    return names


def _safe(name: str, wheel: str) -> str:
    if name.startswith("/") or ".." in name.split("/"):
        raise VerifyError(f"{wheel}: unsafe archive path {name!r}")
    return name


def open_original(wheel: Path, extract: List[str], tree: Path) -> Dict[str, Member]:
    """Members of ``wheel``: the ``extract`` paths as bytes (after writing them under ``tree``
    for patching), every other file as a raw entry copied later without recompression."""
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    members: Dict[str, Member] = {}
    with zipfile.ZipFile(wheel) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        dist_info = parse_name(wheel.name).dist_info
        record = _record_hashes(zf.read(f"{dist_info}/RECORD").decode()) if f"{dist_info}/RECORD" in zf.namelist() else {}
        for info in infos:
            name = _safe(info.filename, wheel.name)
            mode = (info.external_attr >> 16) & 0o777 or 0o644
            if name in extract:
                dest = tree / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(zf.read(info))
                continue
            digest = record.get(name) or record_hash(zf.read(info))
            members[name] = RawEntry(wheel, info, digest, mode)
    missing = [p for p in extract if not (tree / p).is_file()]
    if missing:
        raise VerifyError(f"{wheel.name} lacks files the patches change: {missing}")
    return members


def _record_hashes(text: str) -> Dict[str, str]:
    out = {}
    for row in csv.reader(io.StringIO(text)):
        if len(row) == 3 and row[1]:
            out[row[0]] = row[1]
    return out


def apply_series(tree: Path, patches: Path) -> List[str]:
    """Apply every patch named in ``patches/series``, in order; returns their names."""
    if shutil.which("patch") is None:
        raise ToolchainError("GNU patch is needed: apt-get install patch")
    for name in series(patches):
        result = subprocess.run(
            ["patch", "-p1", "--forward", "--batch", "--fuzz=0", "--no-backup-if-mismatch", "-d", str(tree),
             "-i", str(patches / name)],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise VerifyError(f"patch {name} does not apply cleanly:\n{result.stdout}{result.stderr}")
    return series(patches)


def apply_manifest(members: Dict[str, Member], manifest: Mapping, pin: Pin, artifacts: Mapping[str, Path]) -> str:
    """Renames and added files of the manifest; returns the new version string."""
    expand = lambda s: s.replace("{soabi}", pin.soabi)  # noqa: E731
    for item in manifest.get("rename", []):
        src, dst = expand(item["from"]), expand(item["to"])
        if src not in members:
            raise VerifyError(f"manifest rename: {src} is not in the wheel")
        members[dst] = members.pop(src)
    for item in manifest.get("add", []):
        source = item["from"]
        if source.startswith("native:"):
            key = source[len("native:"):]
            if key not in artifacts:
                raise ToolchainError(f"manifest add: megforge artifact {key!r} was not built (have {sorted(artifacts)})")
            origin = artifacts[key]
        else:
            origin = Path(source)
        executable = item.get("executable", os.access(origin, os.X_OK))
        members[expand(item["to"])] = (origin.read_bytes(), 0o755 if executable else 0o644)
    local = manifest["local_version"]
    if not re.fullmatch(r"[a-z0-9]+(\.[a-z0-9]+)*", local):
        raise InvalidArgumentError(f"local_version {local!r} is not a PEP 440 local version label")
    return f"{pin.version}+{local}"


def set_metadata(members: Dict[str, Member], pin: Pin, version: str, glibc: str | None = None) -> Tuple[str, str]:
    """Move the dist-info to ``version``, set METADATA's Version and WHEEL's tags (those of the
    file name, with the manylinux baseline raised to ``glibc`` — e.g. "2_24" — when given);
    returns (new dist-info name, new wheel file name)."""
    old, new = f"{pin.project}-{pin.version}.dist-info", f"{pin.project}-{version}.dist-info"
    for name in [n for n in members if n.startswith(old + "/")]:
        members[new + name[len(old):]] = members.pop(name)
    for stale in ("RECORD", "RECORD.jws", "RECORD.p7s"):  # regenerated / no longer valid
        members.pop(f"{new}/{stale}", None)
    meta = _text(members, f"{new}/METADATA")
    meta, n = re.subn(r"^Version: .*$", f"Version: {version}", meta, count=1, flags=re.M)
    if n != 1:
        raise VerifyError("METADATA has no Version line")
    members[f"{new}/METADATA"] = (meta.encode(), 0o644)
    parsed = parse_name(pin.filename)
    if glibc:
        plats = tuple(dict.fromkeys(re.sub(r"^manylinux(2014|_\d+_\d+)_", f"manylinux_{glibc}_", t)
                                    for t in parsed.platform_tags))
        parsed = dataclasses.replace(parsed, platform_tags=plats)
    lines = [l for l in _text(members, f"{new}/WHEEL").splitlines() if not l.startswith("Tag:")]
    members[f"{new}/WHEEL"] = ("\n".join(lines + [f"Tag: {t}" for t in parsed.tags]) + "\n").encode(), 0o644
    filename = (f"{pin.project}-{version}-{'.'.join(parsed.python_tags)}-{'.'.join(parsed.abi_tags)}-"
                f"{'.'.join(parsed.platform_tags)}.whl")
    return new, filename


def _check_syntax(path: Path, name: str) -> None:
    """A patched module must still parse (as the wheel's oldest supported Python would)."""
    import ast

    try:
        ast.parse(path.read_text(encoding="utf-8"), filename=name)
    except SyntaxError as exc:
        raise VerifyError(f"patched {name} no longer parses: {exc.msg} at line {exc.lineno}") from exc


def _text(members: Dict[str, Member], name: str) -> str:
    m = members.get(name)
    if m is None or isinstance(m, RawEntry):
        raise VerifyError(f"{name} is missing (or was not extracted for editing)")
    return m[0].decode("utf-8")


def build_redistribution(root: Path, pin: Pin, work: Path, epoch: int, artifacts: Mapping[str, Path]) -> Path:
    """Fetch, patch, re-pack; returns the patched wheel (in ``work``).

    Only the files the patches and metadata touch are extracted and rewritten; every other
    member keeps its original compressed bytes (the 1.5 GB libmegengine_shared.so is copied,
    not recompressed).
    """
    original = fetch(pin, root / "megengine_src" / "cache")
    patches = root / "patches"
    dist_info = parse_name(original.name).dist_info
    edit = sorted(set(patched_paths(patches)) | {f"{dist_info}/METADATA", f"{dist_info}/WHEEL"})
    tree = work / "tree"
    members = open_original(original, edit, tree)
    apply_series(tree, patches)
    for name in edit:
        path = tree / name
        if name.endswith(".py"):
            _check_syntax(path, name)
        members[name] = (path.read_bytes(), path.stat().st_mode & 0o777)
    manifest = tomllib.loads((patches / "manifest.toml").read_text())
    version = apply_manifest(members, manifest, pin, artifacts)
    new_dist_info, filename = set_metadata(members, pin, version, manifest.get("manylinux"))
    out = work / "dist" / filename
    if out.parent.exists():
        shutil.rmtree(out.parent)
    out.parent.mkdir(parents=True)
    write_wheel(out, members, new_dist_info, epoch, compresslevel=6)
    return out
