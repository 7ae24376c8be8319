"""``megforge release``: build, repair, verify and publish wheels into the wheelhouse."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("release", help="build, repair (auditwheel/delocate), verify and publish a wheel")
    p.add_argument("--target", action="append", required=True,
                   help="linux-x86_64, linux-aarch64, macos-arm64 or host (repeatable)")
    p.add_argument("--wheelhouse", type=Path, default=None, help="output directory (default: <checkout>/wheelhouse)")
    p.add_argument("--source", type=Path, default=None, help="megforge checkout (default: the one in use)")
    p.add_argument("--with-deps", metavar="PYVER", action="append", default=[],
                   help="also cache megforge's dependency wheels for this Python (e.g. 3.10), repeatable")
    p.add_argument("--smoke", action="store_true",
                   help="then install into a fresh venv from the wheelhouse and run `python -m megforge.smoke`")
    p.add_argument("--quiet", action="store_true", help="less build output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from megforge.release.pipeline import download_dependencies, release
    from megforge.release.targets import get_target, source_root

    targets = [get_target(t) for t in args.target]  # validate every name before building anything
    root = source_root(args.source)
    wheelhouse = (args.wheelhouse or root / "wheelhouse").resolve()
    failed = False
    for target in targets:
        result = release(target, root, wheelhouse, quiet=args.quiet)
        print(f"{result.target}: {result.wheel.name}  sha256 {result.sha256}")
        for binary in result.binaries:
            print(f"  verified {binary}")
        for py in args.with_deps:
            platform = None if target.is_host else _pip_platform(result.wheel.name)
            download_dependencies(wheelhouse, ["numpy"], py, platform)
        if args.smoke:
            failed = _smoke(target, root, wheelhouse) or failed
    print(f"wheelhouse: {wheelhouse} (manifest {wheelhouse / 'SHA256SUMS'})")
    return 1 if failed else 0


def _smoke(target, root: Path, wheelhouse: Path) -> bool:
    """Install + smoke-test on this host; returns True on failure."""
    import tempfile

    from megforge.release.smoke import EVERY_TARGET, fresh_venv, install_from_wheelhouse, run_smoke
    from megforge.release.targets import host_target

    if not target.is_host:
        print(f"{target.name}: runtime smoke tests need a {target.name} machine (this host is {host_target()}); "
              "the wheel was built, repaired and verified here")
        return False
    env_dir = root / "build" / "smoke" / target.name
    py = fresh_venv(env_dir)
    with tempfile.TemporaryDirectory() as tmp:
        install_from_wheelhouse(py, wheelhouse, ["megforge"], Path(tmp) / "report.json")
    result = run_smoke(py, require=["numpy"], must_pass=EVERY_TARGET)  # train-native included: no SKIP
    print(result.stdout + result.stderr, end="")
    return result.returncode != 0


def _pip_platform(wheel_name: str) -> str:
    return wheel_name[:-4].split("-")[-1].split(".")[0]
