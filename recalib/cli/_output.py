"""What a command prints and writes: text or ``--json`` on stdout, the JSON document to ``-o``.

One rule for every command with ``-o PATH``: the path is checked before any work (an existing
file is kept unless ``--force``; the command's own input files are never overwritten; only a
regular file is ever replaced), and the document is written whole or not at all
(:func:`recalib.infra.atomic.write_atomic`) before anything is printed, so a closed pipe on
standard output (``| head -1``) cannot cost the file.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recalib.infra.atomic import check_destinations, write_atomic

__all__ = ["check_output", "emit"]


def check_output(args: argparse.Namespace, inputs: Sequence[Path] = ()) -> None:
    """Refuse, before any work, an ``-o`` that cannot or may not be written (``inputs``: the files read)."""
    if args.output is not None:
        check_destinations([Path(args.output)], args.force, inputs)


def emit(args: argparse.Namespace, document: dict[str, Any], text: str, inputs: Sequence[Path] = ()) -> None:
    """Print ``text`` (``document`` as JSON with ``--json``) and write ``document`` to ``-o``."""
    data = json.dumps(document, indent=2) + "\n"
    if args.output is not None:
        write_atomic(args.output, data, force=args.force, inputs=inputs)
    print(data if args.json else text, end="" if args.json else "\n")
    if args.output is not None and not args.json:
        print(f"wrote {args.output}")
