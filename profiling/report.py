"""A report folder made of sections: ``report.md`` for people, ``report.json`` and CSVs for machines.

The audit is a list of :class:`Section` objects (the claims audit, the latency audit). Each
section renders its own Markdown, JSON and CSV tables, and may add binary files (plots) with
a ``files()`` method returning ``{name: bytes}``; this module puts the summaries of all
sections at the top of ``report.md`` and writes every file atomically
(:func:`recalib.atomic.write_atomic`), so a report folder never holds a half-written file.

A report folder may be written again: the report's own files are replaced, files an earlier
report wrote and this one does not (listed in the old ``report.json``) are removed, and
every other file in the folder is left alone.
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from recalib.atomic import write_atomic
from recalib.errors import ConfigError

__all__ = ["Section", "write_report", "environment", "check_folder"]


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


def _csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def environment() -> dict[str, Any]:
    """The machine, versions and torch's thread count that make a report reproducible."""
    import torch

    from deploy.machine_info import collect

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


def check_folder(out_dir: str | Path) -> Path:
    """``out_dir`` as a Path, or :class:`ConfigError` if it (or a parent) is not a folder.

    Called before any slow work, so a bad ``-o`` fails in a second, not after the audit.
    """
    folder = Path(out_dir)
    for path in (folder, *folder.parents):
        if path.exists():
            if not path.is_dir():
                raise ConfigError(f"report folder {folder}: {path} exists and is not a folder; choose "
                                  f"another -o DIR")
            if not os.access(path, os.W_OK | os.X_OK):
                raise ConfigError(f"report folder {folder}: {path} is not writable; choose another -o DIR")
            break
    return folder


def _previous_files(folder: Path) -> set[str]:
    """File names the report previously written to ``folder`` lists as its own (none if unreadable)."""
    try:
        names = json.loads((folder / "report.json").read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return set()
    # Only plain names: a tampered list must not reach outside the folder.
    return {n for n in names if isinstance(n, str) and n == Path(n).name and not n.startswith(".")}


def _contents(title: str, sections: Sequence[Section]) -> dict[str, str | bytes]:
    """Every file of the report, ``report.md`` and ``report.json`` first: name → text or bytes."""
    extra: dict[str, str | bytes] = {}
    for section in sections:
        files: dict[str, Any] = dict(section.tables())
        files.update(getattr(section, "files", dict)())
        for name, content in files.items():
            if name in extra or name in ("report.md", "report.json"):
                raise ConfigError(f"two report sections both write {name}; rename one of them")
            extra[name] = _csv_text(content) if name.endswith(".csv") else content
    env = environment()
    names = ["report.md", "report.json", *extra]
    document = {"title": title, "environment": env, "files": names,
                "sections": {s.key: s.to_json() for s in sections}}
    return {"report.md": _markdown(title, sections, env),
            "report.json": json.dumps(document, indent=2, ensure_ascii=False) + "\n", **extra}


def write_report(out_dir: str | Path, sections: Sequence[Section],
                 title: str = "recalib audit") -> list[Path]:
    """Write ``report.md``, ``report.json``, each section's CSVs and files into ``out_dir``.

    Returns the written paths, ``report.md`` first.
    """
    folder = check_folder(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    files = _contents(title, sections)
    stale = _previous_files(folder) - set(files)
    written = []
    for name, content in files.items():
        write_atomic(folder / name, content, error=ConfigError)
        written.append(folder / name)
    for name in stale:
        (folder / name).unlink(missing_ok=True)
    return written
