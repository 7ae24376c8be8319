"""Build small native binaries and hand-made wheels around them, for release-tooling tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

from megforge.release.wheelfile import write_wheel

SOURCE = "int megforge_probe(void) { return 42; }\n"


def zig_dylib(out: Path, target: str = "aarch64-macos.11.0", extra: Sequence[str] = (), source: str = SOURCE) -> Path:
    """A Mach-O dylib built by zig (ad-hoc signed by its linker)."""
    src = out.with_suffix(".c")
    src.write_text(source)
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", target, "-shared", "-O2", "-o", str(out),
                    str(src), *extra], check=True)
    return out


def gcc_so(out: Path, compiler: str = "gcc", extra: Sequence[str] = (), source: str = SOURCE) -> Path:
    """An ELF shared object."""
    src = out.with_suffix(".c")
    src.write_text(source)
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(out), str(src), *extra], check=True)
    return out


def make_wheel(directory: Path, platform_tag: str, files: Dict[str, bytes], name: str = "probe",
               version: str = "1.0", wheel_tag: Optional[str] = None) -> Path:
    """A minimal, correctly RECORDed wheel holding ``files``; WHEEL says ``wheel_tag`` if given."""
    dist_info = f"{name}-{version}.dist-info"
    tag = f"py3-none-{platform_tag}"
    members = {path: (data, 0o755 if path.endswith((".so", ".dylib")) else 0o644) for path, data in files.items()}
    members[f"{dist_info}/METADATA"] = (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(), 0o644)
    members[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: megforge-tests\nRoot-Is-Purelib: false\nTag: {wheel_tag or tag}\n".encode(),
        0o644,
    )
    path = directory / f"{name}-{version}-{tag}.whl"
    write_wheel(path, members, dist_info, epoch=1_700_000_000)
    return path
