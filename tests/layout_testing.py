"""The package as it installs, for tools that read files rather than import (mypy)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = ("export", "deploy", "profiling")  # pyproject's package-dir: recalib.<name> is the folder <name>/


def installed_layout(where: Path) -> Path:
    """The package as it installs, made of links into the repository: ``recalib/`` with ``export/``,
    ``deploy/`` and ``profiling/`` inside it. mypy reads files, not the editable install's import hook,
    so it checks this tree; returns the folder holding ``recalib``. A tree made before a module was
    added or removed is brought up to date (a link per entry of ``recalib/``)."""
    package = where / "recalib"
    package.mkdir(parents=True, exist_ok=True)
    for link in package.iterdir():
        if not link.exists():
            link.unlink()  # its module was removed or renamed
    targets = {entry.name: entry for entry in (ROOT / "recalib").iterdir() if entry.name != "__pycache__"}
    for name, target in {**targets, **{name: ROOT / name for name in MAPPED}}.items():
        if not (package / name).is_symlink():
            (package / name).symlink_to(target)
    return where
