"""Entry point of the ``recalib`` console script.

Each subcommand lives in its own module with ``register(subparsers)``; those modules import
only argparse at module level and load torch and the pipeline stages inside their handler,
so ``recalib --help`` stays fast. ``register`` reads each default from its option record
(:mod:`recalib.export.options`, :mod:`recalib.deploy.settings`, …), which are light to import.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from collections.abc import Sequence

from recalib.cli._stdout import GuardedStdout, stdout_closed

EXIT_OUTPUT_CLOSED = 141  # 128 + SIGPIPE: what a shell reports for a process ended by a closed pipe
EXIT_DISK_FULL = 7
_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG)

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


def _working_directory_exists() -> bool:
    """Whether the current folder still exists: in a deleted one, relative paths and some libraries fail obscurely."""
    try:
        os.getcwd()
    except FileNotFoundError:
        return False
    return True


def _run(args: argparse.Namespace) -> int:
    """The handler's exit status, its printed output flushed inside (a closed pipe or full disk surfaces here)."""
    from recalib.infra.lifetime import exit_on_signals

    with exit_on_signals():  # SIGTERM unwinds like Ctrl-C: temporary files and workers are cleaned up
        code = int(args.handler(args) or 0)
        sys.stdout.flush()
    return code


def _write_failed(args: argparse.Namespace, exc: OSError, printing: bool) -> int:
    """The message and exit status of output that could not be written: a closed pipe, a full disk."""
    command, output = args.command, getattr(args, "output", None)
    if isinstance(exc, BrokenPipeError) or exc.errno == errno.EBADF:
        done = f"{output} was written whole" if output is not None else "it stopped there"
        print(f"recalib {command}: its output was closed before everything was printed; {done}", file=sys.stderr)
        return EXIT_OUTPUT_CLOSED
    where = "standard output" if printing else (exc.filename or "a file")
    print(f"recalib {command}: error: could not write {where}: {exc.strerror}; nothing half-written was left",
          file=sys.stderr)
    return EXIT_DISK_FULL


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    if not _working_directory_exists():
        print(f"recalib {args.command}: error: the working directory no longer exists (it was deleted or "
              f"moved); cd to an existing folder and run it again", file=sys.stderr)
        return 2
    if stdout_closed():
        print(f"recalib {args.command}: error: standard output is closed; run it with its output going "
              f"somewhere (a file, a pipe, or >/dev/null)", file=sys.stderr)
        return 2
    from recalib.errors import RecalibError
    from recalib.infra.lifetime import Terminated

    stdout = sys.stdout
    guard = GuardedStdout(stdout, keep_working=getattr(args, "output", None) is not None)
    sys.stdout = guard
    try:
        code = _run(args)
    except OSError as exc:
        if exc is not guard.failure and exc.errno not in _FULL:
            raise
        return _write_failed(args, exc, exc is guard.failure)
    except RecalibError as exc:
        print(f"recalib {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"recalib {args.command}: interrupted; nothing half-written was left", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(f"recalib {args.command}: {exc}; nothing half-written was left", file=sys.stderr)
        return exc.exit_code
    finally:
        sys.stdout = stdout
    return code if guard.failure is None else _write_failed(args, guard.failure, True)


if __name__ == "__main__":
    sys.exit(main())
