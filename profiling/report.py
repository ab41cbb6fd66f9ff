"""A report folder made of sections: ``report.md`` for people, ``report.json`` and CSVs for machines.

The audit is a list of :class:`Section` objects (the claims audit today; the latency audit
plugs in the same way). Each section renders its own Markdown, JSON and CSV tables; this
module puts the summaries of all sections at the top of ``report.md`` and writes every file
atomically (a temporary file renamed into place), so a report folder never holds a
half-written file.
"""
from __future__ import annotations

import csv
import io
import json
import os
import platform
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from recalib.errors import ConfigError

__all__ = ["Section", "write_report", "write_atomic", "environment"]


class Section(Protocol):
    """One part of the audit report."""

    key: str
    title: str

    def summary(self) -> list[str]:
        """A few lines for the top of the report and the command line."""

    def markdown(self) -> str:
        """The section body (it starts with its own ``##`` heading)."""

    def to_json(self) -> dict[str, Any]:
        """Everything the section measured, for machines."""

    def tables(self) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        """CSV files to write: file name → rows (dicts with the same keys)."""


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, then rename."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        # mkstemp creates the file private (0600); a report is an ordinary file (umask applies).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def environment() -> dict[str, str]:
    """Versions and machine facts that make a report reproducible."""
    import fvcore
    import torch

    from recalib import __version__
    return {"recalib": __version__, "torch": torch.__version__,
            "fvcore": getattr(fvcore, "__version__", "unknown"), "python": platform.python_version(),
            "machine": platform.platform(), "threads": str(torch.get_num_threads())}


def _markdown(title: str, sections: Sequence[Section], env: Mapping[str, str]) -> str:
    lines = [f"# {title}", "", f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} · "
             + " · ".join(f"{k} {v}" for k, v in env.items()), "", "## Summary", ""]
    for section in sections:
        lines += [f"**{section.title}**", ""] + [f"- {line}" for line in section.summary()] + [""]
    body = "\n\n".join(section.markdown().rstrip() for section in sections)
    return "\n".join(lines) + "\n" + body + "\n"


def write_report(out_dir: str | Path, sections: Sequence[Section],
                 title: str = "recalib audit") -> list[Path]:
    """Write ``report.md``, ``report.json`` and each section's CSVs into ``out_dir``; return the paths."""
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"report folder {folder} exists and is not a folder; choose another -o DIR")
    folder.mkdir(parents=True, exist_ok=True)
    env = environment()
    files = {"report.md": _markdown(title, sections, env),
             "report.json": json.dumps({"title": title, "environment": env,
                                        "sections": {s.key: s.to_json() for s in sections}},
                                       indent=2, ensure_ascii=False) + "\n"}
    for section in sections:
        for name, rows in section.tables().items():
            if name in files:
                raise ConfigError(f"two report sections both write {name}; rename one of them")
            files[name] = _csv_text(rows)
    written = []
    for name, text in files.items():
        write_atomic(folder / name, text)
        written.append(folder / name)
    return written
