"""A report folder made of sections: ``report.md`` for people, ``report.json`` and CSVs for machines.

The audit is a list of :class:`Section` objects (the claims audit, the latency audit). Each
section renders its own Markdown, JSON and CSV tables, and may add binary files (plots) with
a ``files()`` method returning ``{name: bytes}``; this module puts the summaries of all
sections at the top of ``report.md`` and writes every file atomically
(:func:`recalib.infra.atomic.write_atomic`), so a report folder never holds a half-written file.

A report folder may be written again: the report's own files are replaced, files an earlier
report wrote and this one does not are removed, and every other file in the folder is left
alone; which files are the report's own is proven by seals under the user's key, not names
(:mod:`recalib.profiling.report.folder`).
"""
from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from recalib.profiling.report.folder import ReportFolder
from recalib.errors import ConfigError

__all__ = ["Section", "write_report", "report_names", "environment", "csv_text"]


class Section(Protocol):
    """One part of the audit report.

    A section may also declare ``file_names``, the CSV and other files it writes, so that a file
    it would replace is refused before the audit's work rather than after it.
    """

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


def csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """``rows`` (dicts with the same keys) as CSV text, a header first; empty without rows."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def environment() -> dict[str, Any]:
    """The machine, versions and torch's thread count that make a report reproducible."""
    import torch

    from recalib.deploy.machine_info import collect

    return {**collect().to_dict(), "torch_threads": torch.get_num_threads()}


def _markdown(title: str, sections: Sequence[Section], env: Mapping[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v)
    lines = [f"# {title}", "", f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} on {env['cpu']} "
             f"({env['cores_available']} cores available, load average {env['load_average']}, "
             f"{env['torch_threads']} torch threads) · {env['os']} · Python {env['python']} · {versions}",
             "", "## Summary", ""]
    for section in sections:
        lines += [f"**{section.title}**", ""] + [f"- {line}" for line in section.summary()] + [""]
    body = "\n\n".join(section.markdown().rstrip() for section in sections)
    return "\n".join(lines) + "\n" + body + "\n"


def _contents(title: str, sections: Sequence[Section]) -> dict[str, str | bytes]:
    """Every file of the report, ``report.md`` and ``report.json`` first: name → text or bytes."""
    extra: dict[str, str | bytes] = {}
    for section in sections:
        files: dict[str, Any] = dict(section.tables())
        files.update(getattr(section, "files", dict)())
        for name, content in files.items():
            if name in extra or name in ("report.md", "report.json"):
                raise ConfigError(f"two report sections both write {name}; rename one of them")
            extra[name] = csv_text(content) if name.endswith(".csv") else content
    env = environment()
    names = ["report.md", "report.json", *extra]
    document = {"title": title, "environment": env, "files": names,
                "sections": {s.key: s.to_json() for s in sections}}
    return {"report.md": _markdown(title, sections, env),
            "report.json": json.dumps(document, indent=2, ensure_ascii=False) + "\n", **extra}


def report_names(sections: Iterable[Any]) -> list[str]:
    """Every file a report of ``sections`` (section objects or classes) writes, as far as they declare it."""
    return ["report.md", "report.json", *(n for s in sections for n in getattr(s, "file_names", ()))]


def write_report(out_dir: str | Path | ReportFolder, sections: Sequence[Section], title: str = "recalib audit", *,
                 force: bool = False) -> list[Path]:
    """Write ``report.md``, ``report.json``, each section's CSVs and files into ``out_dir``.

    ``out_dir`` is a folder path or a :class:`~recalib.profiling.report.folder.ReportFolder` the caller
    holds (the command line takes it before the audit's work). Returns the written paths,
    ``report.md`` first.
    """
    if isinstance(out_dir, ReportFolder):
        return out_dir.write(_contents(title, sections))
    files = _contents(title, sections)
    with ReportFolder(out_dir, files, force) as folder:
        return folder.write(files)
