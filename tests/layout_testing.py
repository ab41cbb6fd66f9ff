"""The package as it installs, for tools that read files rather than import (mypy)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = ("export", "deploy", "profiling")  # pyproject's package-dir: recalib.<name> is the folder <name>/


def installed_layout(where: Path) -> Path:
    """The package as it installs, made of links into the repository: ``recalib/`` with ``export/``,
    ``deploy/`` and ``profiling/`` inside it. mypy reads files, not the editable install's import hook,
    so it checks this tree; returns the folder holding ``recalib``."""
    package = where / "recalib"
    if not package.is_dir():
        package.mkdir(parents=True)
        for entry in (ROOT / "recalib").iterdir():
            if entry.name != "__pycache__":
                (package / entry.name).symlink_to(entry)
        for name in MAPPED:
            (package / name).symlink_to(ROOT / name)
    return where
