"""Entry point of the ``recalib`` console script.

Each subcommand lives in its own module with ``register(subparsers)``; those modules import
only argparse at module level and load torch and the pipeline stages inside their handler,
so ``recalib --help`` stays fast. ``register`` reads each default from its option record
(:mod:`recalib.export.options`, :mod:`recalib.deploy.settings`, …), which are light to import.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS = ("blocks", "models", "doctor", "profile", "gates", "export", "optimize", "bench", "audit")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recalib",
        description="Recalibration blocks (SE family) from paper to ONNX/TensorRT, with honest "
                    "parameter, FLOP and latency audits.")
    from recalib import __version__
    parser.add_argument("--version", action="version", version=f"recalib {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"recalib.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"recalib.cli.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    from recalib.errors import RecalibError
    from recalib.infra.lifetime import Terminated, exit_on_signals

    try:
        with exit_on_signals():  # SIGTERM unwinds like Ctrl-C: temporary files and workers are cleaned up
            return int(args.handler(args) or 0)
    except RecalibError as exc:
        print(f"recalib {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"recalib {args.command}: interrupted; nothing half-written was left", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(f"recalib {args.command}: {exc}; nothing half-written was left", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
