"""Command line entry point: ``megforge <command> ...``.

Each command lives in its own module exposing ``register(subparsers)``; this file
only builds the parser and dispatches, so commands stay independent.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from megforge import __version__
from megforge.errors import MegforgeError

# module name -> one-line help; modules are imported only when listed here.
COMMANDS: dict[str, str] = {
    "megforge.commands.release": "build, repair, verify and collect wheels",
    "megforge.commands.verify": "verify wheels (tags, binaries, signatures, RECORD)",
    "megforge.commands.clip": "CLIP zero-shot classification on MegEngine",
    "megforge.commands.megengine_wheel": "the patched MegEngine redistribution",
    "megforge.commands.vqgan": "VQGAN: reconstruct an image through the codebook",
    "megforge.commands.dalle": "DALL-E: generate images from text",
    "megforge.commands.bigsleep": "BigSleep: BigGAN latents optimised towards a text prompt by CLIP (CPU)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="megforge", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"megforge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMANDS:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MegforgeError as exc:
        print(f"megforge {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
