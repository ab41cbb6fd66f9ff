"""Where the benchmark scripts write what they measured: a ``.json`` and a ``.md`` per run, named by machine and date.

Every script records the same way (``--out``, ``--tag``), so the results folder reads as one
list: ``<name>-<machine>-<date>[-<tag>].json`` beside the page made from it.
"""
from __future__ import annotations

import argparse
import datetime
import json
import re
from pathlib import Path
from typing import Any

from recalib.deploy.machine_info import MachineInfo
from recalib.infra.atomic import write_atomic

__all__ = ["RESULTS", "add_record_options", "machine_slug", "now", "record", "write_pair"]

RESULTS = Path(__file__).resolve().parent / "results"


def add_record_options(parser: argparse.ArgumentParser) -> None:
    """``--tag`` and ``--out``: where :func:`record` writes, and the file names' suffix."""
    parser.add_argument("--tag", default="", help="suffix of the result file names, e.g. preliminary")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the results folder (default: benchmarks/results)")


def now() -> str:
    """The time a record is made, UTC to the second (the page's "recorded" line, the file name's date)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def machine_slug(machine: MachineInfo) -> str:
    """``intel-xeon-processor-2c``: the CPU model and the cores the run could use."""
    cpu = re.sub(r"\((r|tm)\)", "", machine.cpu.lower())
    cpu = re.sub(r"[^a-z0-9]+", "-", cpu).strip("-")
    return f"{cpu}-{machine.cores_available}c"


def record(folder: Path, name: str, machine: MachineInfo, recorded: str, tag: str, data: dict[str, Any],
           page: str) -> Path:
    """Write ``<name>-<machine>-<date>[-<tag>]`` ``.json`` and ``.md`` into ``folder``, each whole or not at all."""
    stem = folder / (f"{name}-{machine_slug(machine)}-{recorded[:10]}" + (f"-{tag}" if tag else ""))
    folder.mkdir(parents=True, exist_ok=True)
    return write_pair(stem, data, page)


def write_pair(stem: Path, data: dict[str, Any], page: str) -> Path:
    """``<stem>.json`` and ``<stem>.md``, each written whole; ``stem``. A rerun on the same day and
    machine (or a re-rendered page) replaces that record."""
    write_atomic(stem.with_name(f"{stem.name}.json"), json.dumps(data, indent=1, default=str) + "\n", force=True)
    write_atomic(stem.with_name(f"{stem.name}.md"), page, force=True)
    return stem
